package main

import (
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
	// The store copies the key and value out of the input buffer.
	op := core.Op{Kind: kind, Type: typ, ID: id, Value: value, Expected: expected}
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

// batchOps holds the operations of the batch being applied; it keeps its
// memory between batches.
var batchOps []core.Op

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
	ops := r.ReadBatchRequestInto(batchOps, count)
	if err := r.Err(); err != nil {
		return fail(err)
	}
	batchOps = ops[:0] // reused: a batch leaves no garbage for the collector
	// The store copies keys and values out of the input buffer.
	results, err := eng.Store().Batch(ops, ts)
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendBatch(ok(), ops, results))
}
