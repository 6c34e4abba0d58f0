package host

import (
	"context"
	"crypto/rand"
	_ "embed"
	"fmt"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
)

// moduleBytes is the committed module, built by ./build.sh wasm.
//
//go:embed actorstore.wasm
var moduleBytes []byte

// compiled is a wazero runtime holding the compiled module; one per
// compilation cache directory, shared by every Open in the process.
type compiled struct {
	once sync.Once
	rt   wazero.Runtime
	mod  wazero.CompiledModule
	err  error
}

var compiledByDir sync.Map // cache dir → *compiled

func compile(ctx context.Context, dir string) (*compiled, error) {
	v, _ := compiledByDir.LoadOrStore(dir, &compiled{})
	c := v.(*compiled)
	c.once.Do(func() { c.err = c.init(ctx, dir) })
	return c, c.err
}

func (c *compiled) init(ctx context.Context, dir string) error {
	cfg := wazero.NewRuntimeConfig()
	if dir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return fmt.Errorf("actorstore: compilation cache %q: %w", dir, err)
		}
		cfg = cfg.WithCompilationCache(cache)
	}
	// Context cancellation is checked between calls, never inside one: a
	// call interrupted half-way would leave the guest unusable.
	rt := wazero.NewRuntimeWithConfig(context.WithoutCancel(ctx), cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return fmt.Errorf("actorstore: instantiate WASI: %w", err)
	}
	mod, err := rt.CompileModule(ctx, moduleBytes)
	if err != nil {
		rt.Close(ctx)
		return fmt.Errorf("actorstore: compile module: %w", err)
	}
	c.rt, c.mod = rt, mod
	return nil
}

// wasmEngine drives one instance of the module.
type wasmEngine struct {
	mod   api.Module
	mem   api.Memory
	stack []uint64
	in    uint32 // address of the guest's input buffer
	inCap uint32
	req   []byte // batch request scratch
	dead  error  // set once the guest trapped: its state is gone
	dir   string // the compilation cache directory, for renew
	opts  core.Options

	fInputBuffer, fInsert, fUpdate, fUpdateVersioned, fDelete, fGet, fGetAll,
	fChanges, fSequenceAtTime, fBatch, fStats, fReplay, fSnapshotBegin, fSnapshotNext,
	fSnapshotEnd, fRestoreBegin, fRestoreWrite, fRestoreEnd, fRestoreAbort, fKeyedWrite api.Function
}

var (
	_ engine    = (*wasmEngine)(nil)
	_ renewable = (*wasmEngine)(nil)
)

func newWASM(ctx context.Context, dir string, o core.Options) (*wasmEngine, error) {
	c, err := compile(ctx, dir)
	if err != nil {
		return nil, err
	}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader).
		WithStderr(os.Stderr).WithStdout(os.Stderr)
	ictx := experimental.WithMemoryAllocator(context.WithoutCancel(ctx), memoryAllocator)
	mod, err := c.rt.InstantiateModule(ictx, c.mod, cfg)
	if err != nil {
		return nil, fmt.Errorf("actorstore: instantiate module: %w", err)
	}
	e := &wasmEngine{mod: mod, mem: mod.Memory(), stack: make([]uint64, 8), dir: dir, opts: o}
	for _, f := range []struct {
		fn   *api.Function
		name string
	}{
		{&e.fInputBuffer, "input_buffer"}, {&e.fInsert, "insert"}, {&e.fUpdate, "update"},
		{&e.fUpdateVersioned, "update_versioned"}, {&e.fDelete, "delete"}, {&e.fGet, "get"},
		{&e.fGetAll, "get_all"}, {&e.fChanges, "changes"}, {&e.fSequenceAtTime, "sequence_at_time"},
		{&e.fBatch, "batch"}, {&e.fStats, "stats"}, {&e.fReplay, "replay"},
		{&e.fSnapshotBegin, "snapshot_begin"}, {&e.fSnapshotNext, "snapshot_next"},
		{&e.fSnapshotEnd, "snapshot_end"}, {&e.fRestoreBegin, "restore_begin"},
		{&e.fRestoreWrite, "restore_write"}, {&e.fRestoreEnd, "restore_end"},
		{&e.fRestoreAbort, "restore_abort"}, {&e.fKeyedWrite, "keyed_write"},
	} {
		if *f.fn = mod.ExportedFunction(f.name); *f.fn == nil {
			mod.Close(ctx)
			return nil, fmt.Errorf("actorstore: module does not export %s", f.name)
		}
	}
	if v, err := e.call(mod.ExportedFunction("abi_version")); err != nil || v != abi.Version {
		mod.Close(ctx)
		return nil, fmt.Errorf("actorstore: module ABI version %d, host speaks %d (%v)", v, abi.Version, err)
	}
	_, cerr := e.result(e.call(mod.ExportedFunction("configure"), abi.ConfigureParams(o)...))
	if cerr == nil {
		_, cerr = e.result(e.call(mod.ExportedFunction("configure_idempotency"), abi.ConfigureIdempotencyParams(o)...))
	}
	if cerr != nil {
		mod.Close(ctx)
		return nil, mapError(cerr)
	}
	return e, nil
}

// trapError marks a failed call into the guest: its state is lost.
type trapError struct{ err error }

// Error says the guest trapped, and why.
func (t *trapError) Error() string { return "actorstore: wasm guest trapped: " + t.err.Error() }

// lost reports whether the guest trapped (or was closed): its state is
// gone.
func (e *wasmEngine) lost() bool { return e.dead != nil }

// renew returns a new instance of the module, empty, with e's options.
func (e *wasmEngine) renew(ctx context.Context) (engine, error) {
	return newWASM(ctx, e.dir, e.opts)
}

// call invokes fn with params and returns its one result.
func (e *wasmEngine) call(fn api.Function, params ...uint64) (uint64, error) {
	if e.dead != nil {
		return 0, e.dead
	}
	if fn == nil {
		return 0, &trapError{fmt.Errorf("missing export")}
	}
	s := append(e.stack[:0], params...)
	s = s[:max(len(s), 1)]
	if err := fn.CallWithStack(context.Background(), s); err != nil {
		e.dead = &trapError{err}
		return 0, e.dead
	}
	return s[0], nil
}

// result copies a packed result out of guest memory and checks its status.
// The returned reader is at the body; its strings and slices alias that
// private copy.
func (e *wasmEngine) result(packed uint64, err error) (*abi.Reader, *core.Error) {
	if err != nil {
		msg := err.Error()
		if t, ok := err.(*trapError); ok {
			msg = "wasm guest trapped: " + t.err.Error()
		}
		return nil, core.NewError(core.Internal, msg)
	}
	ptr, n := abi.Unpack(packed)
	view, ok := e.mem.Read(ptr, n)
	if !ok || n == 0 {
		return nil, core.NewError(core.Internal, fmt.Sprintf("result out of range: %d bytes at %d", n, ptr))
	}
	r := abi.NewReader(append([]byte(nil), view...))
	if err := r.ReadStatus(); err != nil {
		return nil, err
	}
	return r, nil
}

// input returns a view of n bytes of the guest's input buffer to write
// the request into; it is valid until the next call into the guest.
func (e *wasmEngine) input(n uint64) ([]byte, *core.Error) {
	if n > abi.MaxRequestBytes {
		return nil, core.NewError(core.InvalidArgument,
			fmt.Sprintf("invalid argument: request of %d bytes exceeds %d", n, abi.MaxRequestBytes))
	}
	if uint32(n) > e.inCap || e.in == 0 {
		p, err := e.call(e.fInputBuffer, n)
		if err != nil || p == 0 {
			return nil, core.NewError(core.Internal, fmt.Sprintf("input buffer of %d bytes refused (%v)", n, err))
		}
		e.in, e.inCap = uint32(p), uint32(max(n, abi.MinInputBuffer))
	}
	v, ok := e.mem.Read(e.in, uint32(n))
	if !ok {
		return nil, core.NewError(core.Internal, "input buffer out of range")
	}
	return v, nil
}

// putKey writes a type‖id‖value request into the input buffer.
func (e *wasmEngine) putKey(typ, id string, value []byte) *core.Error {
	v, err := e.input(abi.KeyRequestLen(typ, id, value))
	if err != nil {
		return err
	}
	abi.PutKeyRequest(v, typ, id, value)
	return nil
}

// putRequest copies p into the input buffer.
func (e *wasmEngine) putRequest(p []byte) *core.Error {
	v, err := e.input(uint64(len(p)))
	if err != nil {
		return err
	}
	copy(v, p)
	return nil
}

func (e *wasmEngine) apply(op *core.Op, ts int64) (core.Result, *core.Error) {
	if err := e.putKey(op.Type, op.ID, op.Value); err != nil {
		return core.Result{}, err
	}
	tl, il, vl := uint64(len(op.Type)), uint64(len(op.ID)), uint64(len(op.Value))
	var packed uint64
	var cerr error
	switch op.Kind {
	case core.KindInsert:
		packed, cerr = e.call(e.fInsert, tl, il, vl, uint64(ts))
	case core.KindUpdate:
		packed, cerr = e.call(e.fUpdate, tl, il, vl, uint64(ts))
	case core.KindUpdateVersioned:
		packed, cerr = e.call(e.fUpdateVersioned, tl, il, vl, op.Expected, uint64(ts))
	case core.KindDelete:
		r, err := e.result(e.call(e.fDelete, tl, il, uint64(ts)))
		if err != nil {
			return core.Result{}, err
		}
		res := r.ReadResult(true)
		if res.Found {
			res.Actor.Type, res.Actor.ID = op.Type, op.ID
		}
		return res, r.Err()
	default:
		return core.Result{}, core.NewError(core.InvalidArgument, "invalid operation kind")
	}
	r, err := e.result(packed, cerr)
	if err != nil {
		return core.Result{}, err
	}
	res := r.ReadWrite()
	res.Actor.Type, res.Actor.ID, res.Actor.Value = op.Type, op.ID, op.Value
	return res, r.Err()
}

func (e *wasmEngine) get(typ, id string) (core.Actor, bool, *core.Error) {
	if err := e.putKey(typ, id, nil); err != nil {
		return core.Actor{}, false, err
	}
	r, err := e.result(e.call(e.fGet, uint64(len(typ)), uint64(len(id))))
	if err != nil {
		return core.Actor{}, false, err
	}
	a, found := r.ReadGet()
	if !found {
		return core.Actor{}, false, r.Err()
	}
	a.Type, a.ID = typ, id
	return a, true, r.Err()
}

func (e *wasmEngine) scan(typ, after string, maxBytes int) ([]core.Actor, bool, *core.Error) {
	if err := e.putKey(typ, after, nil); err != nil {
		return nil, false, err
	}
	r, err := e.result(e.call(e.fGetAll, uint64(len(typ)), uint64(len(after)), uint64(maxBytes)))
	if err != nil {
		return nil, false, err
	}
	actors, more := r.ReadGetAll(typ)
	return actors, more, r.Err()
}

func (e *wasmEngine) changes(since uint64, f core.Filter, limit, maxBytes int) (core.Page, *core.Error) {
	if err := e.putKey(f.Type, f.IDPrefix, nil); err != nil {
		return core.Page{}, err
	}
	r, err := e.result(e.call(e.fChanges, since, uint64(limit), uint64(len(f.Type)), uint64(len(f.IDPrefix)), uint64(maxBytes)))
	if err != nil {
		return core.Page{}, err
	}
	p := r.ReadChanges()
	return p, r.Err()
}

func (e *wasmEngine) sequenceAtTime(ts int64) (uint64, *core.Error) {
	v, err := e.call(e.fSequenceAtTime, uint64(ts))
	if err != nil {
		return 0, core.NewError(core.Internal, err.Error())
	}
	return v, nil
}

func (e *wasmEngine) batch(ops []core.Op, ts int64) ([]core.Result, *core.Error) {
	e.req = abi.AppendBatchRequest(e.req[:0], ops)
	err := e.putRequest(e.req)
	size := len(e.req)
	if cap(e.req) > 1<<20 {
		e.req = nil // do not pin a big request
	}
	if err != nil {
		return nil, err
	}
	r, err := e.result(e.call(e.fBatch, uint64(len(ops)), uint64(size), uint64(ts)))
	if err != nil {
		return nil, err
	}
	out := r.ReadBatch(ops)
	return out, r.Err()
}

func (e *wasmEngine) keyed(key string, ops []core.Op, batch bool, ts int64) ([]core.Result, bool, *core.Error) {
	e.req = abi.AppendKeyedRequest(e.req[:0], key, ops)
	err := e.putRequest(e.req)
	size := len(e.req) - len(key)
	if cap(e.req) > 1<<20 {
		e.req = nil // do not pin a big request
	}
	if err != nil {
		return nil, false, err
	}
	flag := uint64(0)
	if batch {
		flag = 1
	}
	r, err := e.result(e.call(e.fKeyedWrite, uint64(len(key)), uint64(len(ops)), uint64(size), flag, uint64(ts)))
	if err != nil {
		return nil, false, err
	}
	rs, repeated := r.ReadKeyedWrite(ops)
	return rs, repeated, r.Err()
}

func (e *wasmEngine) stats() (core.Stats, *core.Error) {
	r, err := e.result(e.call(e.fStats))
	if err != nil {
		return core.Stats{}, err
	}
	st := r.ReadStats()
	return st, r.Err()
}

// close releases the instance; calls after it fail without touching the
// memory it freed.
func (e *wasmEngine) close(ctx context.Context) error {
	e.dead = &trapError{fmt.Errorf("instance closed")}
	return e.mod.Close(ctx)
}

func (e *wasmEngine) replay(rec []byte) (first, last uint64, err *core.Error) {
	if err := e.putRequest(rec); err != nil {
		return 0, 0, err
	}
	r, err := e.result(e.call(e.fReplay, uint64(len(rec))))
	if err != nil {
		return 0, 0, err
	}
	first, last = r.ReadReplay()
	return first, last, r.Err()
}

func (e *wasmEngine) snapshotBegin() (core.SnapshotInfo, *core.Error) {
	r, err := e.result(e.call(e.fSnapshotBegin))
	if err != nil {
		return core.SnapshotInfo{}, err
	}
	info := r.ReadSnapshotBegin()
	return info, r.Err()
}

func (e *wasmEngine) snapshotNext(limit int) ([]byte, *core.Error) {
	r, err := e.result(e.call(e.fSnapshotNext, uint64(limit)))
	if err != nil {
		return nil, err
	}
	return r.ReadSnapshotNext(), r.Err()
}

func (e *wasmEngine) snapshotEnd() { e.result(e.call(e.fSnapshotEnd)) }

func (e *wasmEngine) restoreBegin() *core.Error {
	_, err := e.result(e.call(e.fRestoreBegin))
	return err
}

// restorePiece is the most a restore_write call takes at once.
const restorePiece = 1 << 20

func (e *wasmEngine) restoreWrite(p []byte) *core.Error {
	for len(p) > 0 {
		n := min(len(p), restorePiece)
		if err := e.putRequest(p[:n]); err != nil {
			return err
		}
		if _, err := e.result(e.call(e.fRestoreWrite, uint64(n))); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (e *wasmEngine) restoreEnd() (uint64, *core.Error) {
	r, err := e.result(e.call(e.fRestoreEnd))
	if err != nil {
		return 0, err
	}
	st := r.ReadRestoreEnd()
	return st.CurrentSequence, r.Err()
}

func (e *wasmEngine) restoreAbort() { e.result(e.call(e.fRestoreAbort)) }
