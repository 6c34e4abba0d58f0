package main

import (
	"strings"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
	"github.com/actorstore/actorstore/internal/le"
)

// configure replaces the store with an empty one using these options
// (0 means the default).
//
//go:wasmexport configure
func configure(replaySize, replayBytes, maxValue, maxData int64) (res uint64) {
	defer guard(&res)
	s, err := core.New(core.Options{ReplayBufferSize: int(replaySize), ReplayBufferBytes: replayBytes,
		MaxValueBytes: int(maxValue), MaxDataBytes: maxData})
	if err != nil {
		return fail(err)
	}
	store = s
	return done(ok())
}

// write runs insert, update and update_versioned: in holds type‖id‖value.
func write(kind core.Kind, tl, il, vl uint32, expected uint64, ts int64) uint64 {
	if err := fit(uint64(tl) + uint64(il) + uint64(vl)); err != nil {
		return fail(err)
	}
	// The store keeps the value, and an inserted id: copy them out of the
	// input buffer in one allocation. Types are interned by the core.
	op := core.Op{Kind: kind, Type: view(in[:tl]), ID: view(in[tl : tl+il]), Expected: expected}
	if kind == core.KindInsert {
		kv := append(make([]byte, 0, il+vl), in[tl:tl+il+vl]...)
		op.ID, op.Value = view(kv[:il]), kv[il:il+vl:il+vl]
	} else {
		op.Value = append(make([]byte, 0, vl), in[tl+il:tl+il+vl]...)
	}
	var r core.Result
	var err *core.Error
	switch kind {
	case core.KindInsert:
		r, err = store.Insert(op.Type, op.ID, op.Value, ts)
	case core.KindUpdate:
		r, err = store.Update(op.Type, op.ID, op.Value, ts)
	default:
		r, err = store.UpdateVersioned(op.Type, op.ID, op.Value, op.Expected, ts)
	}
	if err != nil {
		return fail(err)
	}
	b := le.AppendUint64(ok(), r.Actor.Version)
	return done(le.AppendUint64(b, r.Sequence))
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
	if err := fit(uint64(tl) + uint64(il)); err != nil {
		return fail(err)
	}
	a, found, err := store.Lookup(view(in[:tl]), view(in[tl:tl+il]))
	if err != nil {
		return fail(err)
	}
	if !found {
		return done(append(ok(), 0))
	}
	b := le.AppendUint64(append(ok(), 1), a.Version)
	b = le.AppendUint32(b, uint32(len(a.Value)))
	return done(append(b, a.Value...))
}

//go:wasmexport delete
func del(tl, il uint32, ts int64) (res uint64) {
	defer guard(&res)
	if err := fit(uint64(tl) + uint64(il)); err != nil {
		return fail(err)
	}
	r, err := store.Delete(view(in[:tl]), view(in[tl:tl+il]), ts)
	if err != nil {
		return fail(err)
	}
	return done(appendResult(ok(), &r, true))
}

// appendResult encodes a delete or batch result: found, version, sequence,
// and the removed value for deletes.
func appendResult(b []byte, r *core.Result, withValue bool) []byte {
	found := byte(0)
	if r.Found {
		found = 1
	}
	b = le.AppendUint64(append(b, found), r.Actor.Version)
	b = le.AppendUint64(b, r.Sequence)
	if !withValue || !r.Found {
		return le.AppendUint32(b, 0)
	}
	b = le.AppendUint32(b, uint32(len(r.Actor.Value)))
	return append(b, r.Actor.Value...)
}

// get_all returns actors of a type with ids after the given one, in id
// order, stopping once the page holds maxBytes (at least one actor).
//
//go:wasmexport get_all
func getAll(tl, al, maxBytes uint32) (res uint64) {
	defer guard(&res)
	if err := fit(uint64(tl) + uint64(al)); err != nil {
		return fail(err)
	}
	if err := core.CheckType(view(in[:tl])); err != nil {
		return fail(err)
	}
	b := append(ok(), 0, 0, 0, 0, 0) // more, count
	count, more := uint32(0), false
	store.Scan(view(in[:tl]), view(in[tl:tl+al]), func(a *core.Actor) bool {
		if count > 0 && len(b) >= int(maxBytes) {
			more = true
			return false
		}
		b = le.AppendUint64(b, a.Version)
		b = le.AppendUint32(b, uint32(len(a.ID)))
		b = le.AppendUint32(b, uint32(len(a.Value)))
		b = append(append(b, a.ID...), a.Value...)
		count++
		return true
	})
	if more {
		b[1] = 1
	}
	le.PutUint32(b[2:], count)
	return done(b)
}

//go:wasmexport changes
func changes(since uint64, limit, tl, pl, maxBytes uint32) (res uint64) {
	defer guard(&res)
	if err := fit(uint64(tl) + uint64(pl)); err != nil {
		return fail(err)
	}
	f := core.Filter{Type: view(in[:tl]), IDPrefix: view(in[tl : tl+pl])}
	b := append(ok(), make([]byte, 12)...) // next, count
	count := uint32(0)
	next, err := store.ScanChanges(since, f, int(limit), int64(maxBytes), func(e *core.Event) {
		b = abi.AppendEvent(b, e)
		count++
	})
	if err != nil {
		return fail(err)
	}
	le.PutUint64(b[1:], next)
	le.PutUint32(b[9:], count)
	return done(b)
}

//go:wasmexport sequence_at_time
func sequenceAtTime(ts int64) (res uint64) {
	defer func() {
		if recover() != nil {
			res = 0
		}
	}()
	return store.SequenceAtTime(ts)
}

//go:wasmexport stats
func stats() (res uint64) {
	defer guard(&res)
	st := store.Stats()
	return done(abi.AppendStats(ok(), &st))
}

// batch applies count operations encoded in the input buffer (abi.AppendOp
// layout) atomically.
//
//go:wasmexport batch
func batch(count uint32, size uint32, ts int64) (res uint64) {
	defer guard(&res)
	if err := fit(uint64(size)); err != nil {
		return fail(err)
	}
	if err := core.CheckBatchLen(int(count)); err != nil {
		return fail(err)
	}
	if uint64(count)*abi.OpHeader > uint64(size) {
		return fail(&core.Error{Code: core.InvalidArgument, Index: -1, Msg: "invalid argument: batch count exceeds its bytes"})
	}
	r := abi.NewReader(in[:size])
	ops := make([]core.Op, count)
	for i := range ops {
		op := r.ReadOp()
		if err := r.Err(); err != nil {
			err.Index = i
			return fail(err)
		}
		op.Value = append([]byte(nil), op.Value...)
		if op.Kind == core.KindInsert {
			op.ID = strings.Clone(op.ID)
		}
		ops[i] = op
	}
	if r.Len() != 0 {
		return fail(&core.Error{Code: core.InvalidArgument, Index: -1, Msg: "invalid argument: trailing bytes after batch operations"})
	}
	results, err := store.Batch(ops, ts)
	if err != nil {
		return fail(err)
	}
	b := le.AppendUint32(ok(), uint32(len(results)))
	for i := range results {
		b = appendResult(b, &results[i], ops[i].Kind == core.KindDelete)
	}
	return done(b)
}
