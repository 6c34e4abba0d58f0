package tests

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/actorstore/actorstore/host"
)

// fixedClock returns a clock that steps by a pseudo-random amount at each
// reading, going back now and then: the same readings for every store
// made with the same seed.
func fixedClock(seed uint64) func() time.Time {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, 1))
	t := time.Unix(1_700_000_000, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Duration(r.IntN(2000)-200) * time.Millisecond)
		return t
	}
}

type keyedReq struct {
	id, other string
	v         []byte
	kind      int
	exp       uint64
}

// TestKeyedEnginesAgree runs the same random keyed writes — retries, keys
// reused for other writes, refusals, batches, with a table small enough
// to evict by count and by time — on both engines: every answer is the
// same, and so are the snapshots, idempotency keys included.
func TestKeyedEnginesAgree(t *testing.T) {
	seed := modelSeed(t)
	o := host.Options{IdempotencyKeys: 20, IdempotencyTTL: time.Minute, IdempotencyBytes: 4 << 10, MaxDataBytes: 4000}
	var stores []*host.Store
	for _, e := range engines {
		o.Clock = fixedClock(seed)
		stores = append(stores, openStore(t, e, o))
	}
	r := rand.New(rand.NewPCG(seed, 2))
	outcomes := map[string]int{}
	last := map[string]keyedReq{}
	for i := range 3000 {
		key := fmt.Sprintf("k%d", r.IntN(30))
		if r.IntN(10) == 0 {
			key = ""
		}
		ctx := host.WithIdempotencyKey(context.Background(), key)
		q := keyedReq{fmt.Sprint(r.IntN(12)), fmt.Sprint(r.IntN(12)), bytes.Repeat([]byte{'v'}, r.IntN(60)), r.IntN(5), uint64(r.IntN(3))}
		if p, ok := last[key]; ok && r.IntN(2) == 0 {
			q = p // a retry
		}
		last[key] = q
		id, other, v, kind, exp := q.id, q.other, q.v, q.kind, q.exp
		var got []string
		for _, s := range stores {
			var res any
			var err error
			switch kind {
			case 0:
				res, err = s.Insert(ctx, "t", id, v)
			case 1:
				res, err = s.Update(ctx, "t", id, v)
			case 2:
				res, err = s.UpdateVersioned(ctx, "t", id, v, exp)
			case 3:
				a, ok, derr := s.Delete(ctx, "t", id)
				if !ok {
					a = host.Actor{}
				}
				res, err = []any{a, ok}, derr
			case 4:
				res, err = s.Batch(ctx, host.UpdateOp("t", id, v), host.DeleteOp("t", other),
					host.InsertOp("t", id+"x", v))
			}
			if err != nil {
				got = append(got, "error "+err.Error())
			} else {
				got = append(got, render(res))
			}
		}
		if got[0] != got[1] {
			t.Fatalf("seed %d, write %d (key %q, kind %d): %v: %s; %v: %s", seed, i, key, kind,
				engines[0], got[0], engines[1], got[1])
		}
		outcomes[fmt.Sprint(kind, " ", len(got[0]) > 5 && got[0][:5] == "error")]++
	}
	var snaps [][]byte
	var stats []host.Stats
	for _, s := range stores {
		var b bytes.Buffer
		if err := s.Snapshot(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, b.Bytes())
		st, err := s.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, st)
	}
	if !bytes.Equal(snaps[0], snaps[1]) || stats[0] != stats[1] {
		t.Fatalf("seed %d: the engines' snapshots differ (stats %+v, %+v)", seed, stats[0], stats[1])
	}
	if stats[0].IdempotencyKeys == 0 || snaps[0][8] != 2 {
		t.Fatalf("seed %d: no keys remembered: %+v", seed, stats[0])
	}
	t.Logf("outcomes %v, stats %+v", outcomes, stats[0])
}
