package client

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/internal/cborraw"
)

// TestReadActorKeepsBytes checks that values come back byte for byte,
// in forms a decoder would normalize: self-described CBOR (tag 55799),
// indefinite lengths, non-shortest heads, unsorted keys, NaN payloads.
func TestReadActorKeepsBytes(t *testing.T) {
	for _, v := range [][]byte{
		{0xd9, 0xd9, 0xf7, 0xa0},                   // 55799({})
		{0xd9, 0xd9, 0xf7, 0xd9, 0xd9, 0xf7, 0xf6}, // 55799(55799(null))
		{0x9f, 0x01, 0x7f, 0x61, 0x61, 0xff, 0xff}, // [_ 1, (_ "a")]
		{0x18, 0x01}, // 1 in two bytes
		{0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02}, // {"b": 1, "a": 2}
		{0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1},       // a NaN with a payload
		{0xf6},
	} {
		b, err := cbor.Marshal(map[string]any{"type": "t", "id": "i", "version": 7, "value": cbor.RawMessage(v)})
		if err != nil {
			t.Fatal(err)
		}
		a, err := readActor(b)
		if err != nil || !bytes.Equal(a.Value, v) || a.Type != "t" || a.ID != "i" || a.Version != 7 {
			t.Errorf("value %x: read %+v, %v", v, a, err)
		}
	}
}

// FuzzRead feeds the answer readers arbitrary bytes: they must never
// panic, and an actor read must hold the exact bytes of the value it
// was sent with (internal/cborraw fuzzes the walker itself).
func FuzzRead(f *testing.F) {
	for _, s := range []string{"a0", "d9d9f7a0", "9f01ff", "bf6161f6ff", "c0", "ff", "9b0000000100000000",
		"a46474797065617662696461746776657273696f6e006576616c7565d9d9f7a0",
		"a2656163746f72f665666f756e64f4", "a167726573756c747381a2656163746f72f665666f756e64f4"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := readActor(b); err == nil {
			m, _ := cborraw.Fields(b)
			if !bytes.Equal(a.Value, m["value"]) {
				t.Fatalf("%x: value %x, sent %x", b, a.Value, m["value"])
			}
		}
		readEvent(b)
		readResult(b)
		readList(b, "results", readResult)
	})
}
