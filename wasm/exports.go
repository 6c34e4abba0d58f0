package main

import (
	"strings"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
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
	ok()
	return result()
}

// write runs insert, update and update_versioned: in holds type‖id‖value.
func write(kind core.Kind, tl, il, vl uint32, expected uint64, ts int64) uint64 {
	if err := fit(uint64(tl) + uint64(il) + uint64(vl)); err != nil {
		return fail(err)
	}
	op := core.Op{Kind: kind, Type: view(in[:tl]), ID: view(in[tl : tl+il]), Expected: expected}
	if kind == core.KindInsert { // inserted keys are retained: copy them
		op.Type, op.ID = strings.Clone(op.Type), strings.Clone(op.ID)
	}
	op.Value = append([]byte(nil), in[tl+il:tl+il+vl]...)
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
	ok()
	u64(r.Actor.Version)
	u64(r.Sequence)
	return result()
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
	a, found := store.Get(view(in[:tl]), view(in[tl:tl+il]))
	ok()
	if !found {
		out = append(out, 0)
		return result()
	}
	out = append(out, 1)
	u64(a.Version)
	u32(uint32(len(a.Value)))
	out = append(out, a.Value...)
	return result()
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
	ok()
	appendResult(&r, true)
	return result()
}

// appendResult encodes a delete or batch result: found, version, sequence,
// and the removed value for deletes.
func appendResult(r *core.Result, withValue bool) {
	if r.Found {
		out = append(out, 1)
	} else {
		out = append(out, 0)
	}
	u64(r.Actor.Version)
	u64(r.Sequence)
	if !withValue || !r.Found {
		u32(0)
		return
	}
	u32(uint32(len(r.Actor.Value)))
	out = append(out, r.Actor.Value...)
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
	ok()
	out = append(out, 0) // more
	u32(0)               // count
	count, more := uint32(0), false
	store.Scan(view(in[:tl]), view(in[tl:tl+al]), func(a *core.Actor) bool {
		if count > 0 && len(out) >= int(maxBytes) {
			more = true
			return false
		}
		u64(a.Version)
		u32(uint32(len(a.ID)))
		u32(uint32(len(a.Value)))
		out = append(out, a.ID...)
		out = append(out, a.Value...)
		count++
		return true
	})
	if more {
		out[1] = 1
	}
	le.PutUint32(out[2:], count)
	return result()
}

//go:wasmexport changes
func changes(since uint64, limit, tl, pl, maxBytes uint32) (res uint64) {
	defer guard(&res)
	if err := fit(uint64(tl) + uint64(pl)); err != nil {
		return fail(err)
	}
	f := core.Filter{Type: view(in[:tl]), IDPrefix: view(in[tl : tl+pl])}
	ok()
	u64(0) // next
	u32(0) // count
	count := uint32(0)
	next, err := store.ScanChanges(since, f, int(limit), int64(maxBytes), func(e *core.Event) {
		out = abi.AppendEvent(out, e)
		count++
	})
	if err != nil {
		return fail(err)
	}
	le.PutUint64(out[1:], next)
	le.PutUint32(out[9:], count)
	return result()
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
	ok()
	out = abi.AppendStats(out, &st)
	return result()
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
			op.Type, op.ID = strings.Clone(op.Type), strings.Clone(op.ID)
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
	ok()
	u32(uint32(len(results)))
	for i := range results {
		appendResult(&results[i], ops[i].Kind == core.KindDelete)
	}
	return result()
}
