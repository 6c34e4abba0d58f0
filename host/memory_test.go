package host

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestGuestMemoryPerActor guards the guest's memory per actor, the figure
// that decides how many actors a page or a process can hold: 200,000
// actors of 100-byte values, loaded in batches, may grow the guest's
// linear memory by at most 210 bytes each (a record of 128 bytes and a
// tree slot of ~25 in the arena, the collector's headroom, the module's
// steps of memory growth); random updates of all of them afterwards may
// not grow it by more than a tenth. The store of before the arena took
// ~300 bytes per actor and grew under updates. Not a timing: the figures
// are the guest's own.
func TestGuestMemoryPerActor(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 200,000 actors")
	}
	const n = 200_000
	ctx := context.Background()
	s := mustOpen(t, EngineWASM, Options{})
	mem := s.eng.(*wasmEngine).mem
	empty := mem.Size()
	value := make(cbor.RawMessage, 100)
	value[0], value[1] = 0x58, 98 // byte string, one-byte length
	ops := make([]BatchOp, 0, 1000)
	for i := range n {
		ops = append(ops, InsertOp(benchType, benchID(i), value))
		if len(ops) == cap(ops) {
			if _, err := s.Batch(ctx, ops...); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	loaded := mem.Size()
	perActor := float64(loaded-empty) / n
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		if _, err := s.Update(ctx, benchType, benchID(r.IntN(n)), value); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	updated := mem.Size()
	t.Logf("guest memory: %d MiB empty, %d MiB with %d actors (%.0f bytes per actor), %d MiB after %d updates",
		empty>>20, loaded>>20, n, perActor, updated>>20, n)
	if perActor > 210 {
		t.Errorf("%.0f bytes of guest memory per actor, want at most 210", perActor)
	}
	if updated > loaded+loaded/10 {
		t.Errorf("updates grew guest memory from %d to %d MiB", loaded>>20, updated>>20)
	}
}
