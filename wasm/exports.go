package main

import (
	"strings"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
)

// configure replaces the engine with an empty one using these options
// (0 means the default).
//
//go:wasmexport configure
func configure(replaySize, replayBytes, maxValue, maxData int64) (res uint64) {
	defer guard(&res)
	e, err := core.NewEngine(abi.ConfigureOptions(replaySize, replayBytes, maxValue, maxData))
	if err != nil {
		return fail(err)
	}
	eng = e
	return done(ok())
}

// write runs insert, update and update_versioned: in holds type‖id‖value.
func write(kind core.Kind, tl, il, vl uint32, expected uint64, ts int64) uint64 {
	typ, id, value, err := abi.ReadKeyRequest(in, tl, il, vl)
	if err != nil {
		return fail(err)
	}
	// The store keeps the value, and an inserted id: copy them out of the
	// input buffer in one allocation. Types are interned by the core.
	op := core.Op{Kind: kind, Type: typ, ID: id, Expected: expected}
	if kind == core.KindInsert {
		kv := append(append(make([]byte, 0, il+vl), id...), value...)
		op.ID, op.Value = view(kv[:il]), kv[il:il+vl:il+vl]
	} else {
		op.Value = append(make([]byte, 0, vl), value...)
	}
	r, err := eng.Store().Apply(&op, ts)
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendWrite(ok(), &r))
}

//go:wasmexport insert
func insert(tl, il, vl uint32, ts int64) (res uint64) {
	defer guard(&res)
	return write(core.KindInsert, tl, il, vl, 0, ts)
}

//go:wasmexport update
func update(tl, il, vl uint32, ts int64) (res uint64) {
	defer guard(&res)
	return write(core.KindUpdate, tl, il, vl, 0, ts)
}

//go:wasmexport update_versioned
func updateVersioned(tl, il, vl uint32, expected uint64, ts int64) (res uint64) {
	defer guard(&res)
	return write(core.KindUpdateVersioned, tl, il, vl, expected, ts)
}

//go:wasmexport get
func get(tl, il uint32) (res uint64) {
	defer guard(&res)
	typ, id, _, err := abi.ReadKeyRequest(in, tl, il, 0)
	if err != nil {
		return fail(err)
	}
	a, found, err := eng.Store().Lookup(typ, id)
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendGet(ok(), &a, found))
}

//go:wasmexport delete
func del(tl, il uint32, ts int64) (res uint64) {
	defer guard(&res)
	typ, id, _, err := abi.ReadKeyRequest(in, tl, il, 0)
	if err != nil {
		return fail(err)
	}
	r, err := eng.Store().Delete(typ, id, ts)
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendResult(ok(), &r, true))
}

// get_all returns a page of the actors of a type with ids after the given
// one (core.Store.ScanPage).
//
//go:wasmexport get_all
func getAll(tl, al, maxBytes uint32) (res uint64) {
	defer guard(&res)
	typ, after, _, err := abi.ReadKeyRequest(in, tl, al, 0)
	if err != nil {
		return fail(err)
	}
	b, err := abi.AppendGetAll(ok(), eng.Store(), typ, after, int(maxBytes))
	if err != nil {
		return fail(err)
	}
	return done(b)
}

//go:wasmexport changes
func changes(since uint64, limit, tl, pl, maxBytes uint32) (res uint64) {
	defer guard(&res)
	typ, prefix, _, err := abi.ReadKeyRequest(in, tl, pl, 0)
	if err != nil {
		return fail(err)
	}
	b, err := abi.AppendChanges(ok(), eng.Store(), since, core.Filter{Type: typ, IDPrefix: prefix}, int(limit), int64(maxBytes))
	if err != nil {
		return fail(err)
	}
	return done(b)
}

//go:wasmexport sequence_at_time
func sequenceAtTime(ts int64) (res uint64) {
	defer func() {
		if recover() != nil {
			res = 0
		}
	}()
	return eng.Store().SequenceAtTime(ts)
}

//go:wasmexport stats
func stats() (res uint64) {
	defer guard(&res)
	st := eng.Store().Stats()
	return done(abi.AppendStats(ok(), &st))
}

// batch applies count operations encoded in the input buffer
// (abi.AppendBatchRequest) atomically.
//
//go:wasmexport batch
func batch(count uint32, size uint32, ts int64) (res uint64) {
	defer guard(&res)
	req, err := abi.ReadRequest(in, size)
	if err != nil {
		return fail(err)
	}
	r := abi.NewReader(req)
	ops := r.ReadBatchRequest(count)
	if err := r.Err(); err != nil {
		return fail(err)
	}
	// The store keeps values and inserted ids: copy them out of the input
	// buffer.
	for i := range ops {
		op := &ops[i]
		op.Value = append([]byte(nil), op.Value...)
		if op.Kind == core.KindInsert {
			op.ID = strings.Clone(op.ID)
		}
	}
	results, err := eng.Store().Batch(ops, ts)
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendBatch(ok(), ops, results))
}
