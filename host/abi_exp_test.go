package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

func TestExpBudget(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{MaxDataBytes: 1536 << 20, ReplayBufferBytes: 1536 << 20})
	if err != nil {
		t.Fatal(err)
	}
	n := (1 << 20) - 16
	mk := func(fill byte) cbor.RawMessage {
		v := make([]byte, 5+n)
		v[0], v[1], v[2], v[3], v[4] = 0x5a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		for i := 5; i < len(v); i++ {
			v[i] = fill
		}
		return v
	}
	st := time.Now()
	i := 0
	for ; ; i++ {
		if _, err := s.Insert(ctx, "t", fmt.Sprint(i), mk(byte(i))); err != nil {
			t.Logf("insert %d: %v", i, err)
			break
		}
	}
	for round := 0; round < 3; round++ {
		for j := 0; j < i; j++ {
			if _, err := s.Update(ctx, "t", fmt.Sprint(j), mk(byte(j+round))); err != nil {
				t.Fatalf("round %d update %d: %v", round, j, err)
			}
		}
		stt, _ := s.Stats(ctx)
		t.Logf("round %d ok %v stats %+v", round, time.Since(st), stt)
	}
}
