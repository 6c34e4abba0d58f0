package host

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
)

// TestRawExportsCoverModule fails when the module gains an export that
// FuzzRawABI does not call.
func TestRawExportsCoverModule(t *testing.T) {
	rawMu.Lock()
	defer rawMu.Unlock()
	h := rawHarnessFor(t)
	var missing []string
	for name := range h.e.mod.ExportedFunctionDefinitions() {
		if !slices.Contains(rawExports, name) && name != "configure" && name != "configure_idempotency" && name != "_initialize" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("FuzzRawABI does not call %v: add them to rawExports", missing)
	}
}

func TestRawInputBufferBounds(t *testing.T) {
	rawMu.Lock()
	defer rawMu.Unlock()
	h := rawHarnessFor(t)
	for _, size := range []uint64{abi.MaxRequestBytes + 1, 1 << 31, 1<<32 - 1} {
		if res, err := h.fns["input_buffer"].Call(context.Background(), size); err != nil || res[0] != 0 {
			t.Errorf("input_buffer(%d) = %v, %v; want 0", size, res, err)
		}
	}
	res, err := h.fns["input_buffer"].Call(context.Background(), 0)
	if err != nil || res[0] == 0 {
		t.Fatalf("input_buffer(0) = %v, %v", res, err)
	}
	h.checkInputBuffer(t, 0, uint32(res[0]))
}

// TestRawFitBoundary reads arguments that end exactly at the end of the
// input buffer, and one byte past it.
func TestRawFitBoundary(t *testing.T) {
	rawMu.Lock()
	defer rawMu.Unlock()
	h := rawHarnessFor(t)
	h.write(t, nil)
	n := h.inLen
	for _, c := range []struct {
		name   string
		params []uint64
		want   core.Code
	}{
		{"get", []uint64{n, 0}, core.InvalidKey},
		{"get", []uint64{n - 1, 1}, core.InvalidKey}, // a type of zero bytes is too long
		{"get", []uint64{n, 1}, core.InvalidArgument},
		{"get", []uint64{1<<32 - 1, 1}, core.InvalidArgument},
		{"insert", []uint64{1, 1, n - 2, 0}, core.InvalidValue}, // "\x00"/"\x00": zeros, trailing bytes
		{"insert", []uint64{1, 1, n - 1, 0}, core.InvalidArgument},
		{"batch", []uint64{0, n + 1, 0}, core.InvalidArgument},
		{"changes", []uint64{0, 1, n, 1, 0}, core.InvalidArgument},
	} {
		res, err := h.fns[c.name].Call(context.Background(), c.params...)
		if err != nil {
			t.Fatalf("%s%v trapped: %v", c.name, c.params, err)
		}
		if got := core.Code(h.result(t, c.name, res[0])[0]); got != c.want {
			t.Errorf("%s%v = %v, want %v (input buffer %d bytes)", c.name, c.params, got, c.want, n)
		}
	}
}

// TestHugeBatchKeepsGuestAlive sends the largest batch the host accepts:
// ~11 million updates of one small actor, a request just under
// abi.MaxRequestBytes that stays within every store limit. The guest must
// apply it or refuse it with an error; it must not run out of its 4 GiB and
// trap, which loses every actor. It needs ~6 GB of host memory and a few
// minutes, so it runs only with ACTORSTORE_HEAVY_TESTS=1.
func TestHugeBatchKeepsGuestAlive(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	v := cbor.RawMessage{0x00}
	if _, err := s.Insert(ctx, "t", "x", v); err != nil {
		t.Fatal(err)
	}
	ops := make([]BatchOp, core.MaxBatchOps+1)
	for i := range ops {
		ops[i] = UpdateOp("t", "x", v)
	}
	if _, err := s.Batch(ctx, ops...); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a batch of %d operations: %v, want ErrInvalidArgument", len(ops), err)
	}
	if _, err := s.Batch(ctx, ops[:core.MaxBatchOps]...); err != nil {
		t.Fatalf("a batch of exactly %d operations: %v", core.MaxBatchOps, err)
	}
	// The module refuses an oversized count itself, before allocating.
	w := s.eng.(*wasmEngine)
	r, cerr := w.result(w.call(w.fBatch, 0xffffffff, 0, 1))
	if cerr == nil || cerr.Code != core.InvalidArgument {
		t.Fatalf("raw batch of 2^32-1 operations: %v %v", r, cerr)
	}
	if a, ok, err := s.Get(ctx, "t", "x"); err != nil || !ok || a.Version != core.MaxBatchOps {
		t.Fatalf("after the batches: Get = %+v, %v, %v", a, ok, err)
	}
}
