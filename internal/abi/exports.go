package abi

import (
	"unsafe"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/le"
)

// The layouts of each export, in wasm/ABI.md's order. Append functions
// append a success body (after the status byte); Read methods decode one.

// ConfigureParams are configure's four i64 parameters for o.
func ConfigureParams(o core.Options) []uint64 {
	return []uint64{uint64(o.ReplayBufferSize), uint64(o.ReplayBufferBytes), uint64(o.MaxValueBytes), uint64(o.MaxDataBytes)}
}

// ConfigureOptions are the options configure's parameters ask for.
func ConfigureOptions(replaySize, replayBytes, maxValue, maxData int64) core.Options {
	return core.Options{ReplayBufferSize: int(replaySize), ReplayBufferBytes: replayBytes,
		MaxValueBytes: int(maxValue), MaxDataBytes: maxData}
}

// KeyRequestLen is the size of a type‖id‖value request: the input of
// insert, update, update_versioned (type, id, value), get and delete
// (type, id), get_all (type, after) and changes (type, id prefix).
func KeyRequestLen(typ, id string, value []byte) uint64 {
	return uint64(len(typ)) + uint64(len(id)) + uint64(len(value))
}

// PutKeyRequest writes typ‖id‖value at the start of dst, which holds
// KeyRequestLen bytes.
func PutKeyRequest(dst []byte, typ, id string, value []byte) {
	copy(dst[copy(dst, typ)+copy(dst[len(typ):], id):], value)
}

// ReadKeyRequest splits the input buffer in holding a type‖id‖value
// request of these lengths. The strings and value alias in. A request
// longer than in is an InvalidArgument error.
func ReadKeyRequest(in []byte, tl, il, vl uint32) (typ, id string, value []byte, err *core.Error) {
	if total := uint64(tl) + uint64(il) + uint64(vl); total > uint64(len(in)) {
		return "", "", nil, core.NewError(core.InvalidArgument, "invalid argument: "+itoa(total)+
			" bytes of arguments, input buffer holds "+itoa(uint64(len(in))))
	}
	return view(in[:tl]), view(in[tl : tl+il]), in[tl+il : tl+il+vl : tl+il+vl], nil
}

// flag reads a byte that must be 0 or 1.
func (r *Reader) flag() bool {
	switch r.U8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(core.NewError(core.InvalidArgument, "malformed ABI message: a flag is neither 0 nor 1"))
	return false
}

// ReadRequest returns the first size bytes of the input buffer in: the
// input of batch, replay and restore_write. A size past the end of in is
// an InvalidArgument error.
func ReadRequest(in []byte, size uint32) ([]byte, *core.Error) {
	_, _, p, err := ReadKeyRequest(in, 0, 0, size)
	return p, err
}

// view returns a string aliasing b.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// AppendWrite encodes the result of insert, update or update_versioned:
// the written actor's version and its event's sequence.
func AppendWrite(b []byte, r *core.Result) []byte {
	return le.AppendUint64(le.AppendUint64(b, r.Actor.Version), r.Sequence)
}

// ReadWrite decodes what AppendWrite encodes: a found Result with the
// version and sequence set. The actor written is the request's.
func (r *Reader) ReadWrite() core.Result {
	res := core.Result{Found: true}
	res.Actor.Version, res.Sequence = r.U64(), r.U64()
	return res
}

// AppendGet encodes the result of get: found, and when found the actor's
// version and value.
func AppendGet(b []byte, a *core.Actor, found bool) []byte {
	if !found {
		return append(b, 0)
	}
	b = le.AppendUint64(append(b, 1), a.Version)
	b = le.AppendUint32(b, uint32(len(a.Value)))
	return append(b, a.Value...)
}

// ReadGet decodes what AppendGet encodes: the actor's version and value
// (aliasing the buffer), and whether it was found.
func (r *Reader) ReadGet() (a core.Actor, found bool) {
	if !r.flag() {
		return core.Actor{}, false
	}
	a.Version = r.U64()
	a.Value = r.Bytes(r.U32())
	return a, r.err == nil
}

// AppendResult encodes one result of delete (its whole body) or of batch:
// found, version, sequence and, withValue (deletes), the removed value.
func AppendResult(b []byte, r *core.Result, withValue bool) []byte {
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

// ReadResult decodes what AppendResult encodes; the value, kept only
// withValue and when found, aliases the buffer.
func (r *Reader) ReadResult(withValue bool) core.Result {
	res := core.Result{Found: r.flag()}
	res.Actor.Version, res.Sequence = r.U64(), r.U64()
	v := r.Bytes(r.U32())
	if withValue && res.Found {
		res.Actor.Value = v
	}
	return res
}

// AppendGetAll encodes the result of get_all: the page of actors of typ
// after the id after that Store.ScanPage picks for maxBytes, with more and
// the count first. An invalid type is the error, and b is then to be
// dropped.
func AppendGetAll(b []byte, s *core.Store, typ, after string, maxBytes int) ([]byte, *core.Error) {
	at := len(b)
	b = append(b, make([]byte, GetAllHeader)...)
	count := uint32(0)
	more, err := s.ScanPage(typ, after, maxBytes, func(a *core.Actor) {
		b = appendActor(b, a)
		count++
	})
	if err != nil {
		return b, err
	}
	putGetAllHeader(b[at:], more, count)
	return b, nil
}

// putGetAllHeader fills in the header of a get_all body.
func putGetAllHeader(b []byte, more bool, count uint32) {
	b[GetAllMore] = 0
	if more {
		b[GetAllMore] = 1
	}
	le.PutUint32(b[GetAllCount:], count)
}

// appendActor encodes one actor of a get_all body.
func appendActor(b []byte, a *core.Actor) []byte {
	b = le.AppendUint64(b, a.Version)
	b = le.AppendUint32(b, uint32(len(a.ID)))
	b = le.AppendUint32(b, uint32(len(a.Value)))
	return append(append(b, a.ID...), a.Value...)
}

// ReadGetAll decodes what AppendGetAll encodes: the actors, each of type
// typ, with ids and values aliasing the buffer, and whether more remain.
func (r *Reader) ReadGetAll(typ string) (actors []core.Actor, more bool) {
	more = r.flag()
	n := r.U32()
	actors = make([]core.Actor, 0, min(n, uint32(r.Len()/ActorHeader)))
	for i := uint32(0); i < n && r.err == nil; i++ {
		a := core.Actor{Type: typ, Version: r.U64()}
		il, vl := r.U32(), r.U32()
		a.ID, a.Value = r.String(il), r.Bytes(vl)
		actors = append(actors, a)
	}
	return actors, more
}

// AppendChanges encodes the result of changes: the events of
// Store.ScanChanges(since, f, limit, maxBytes) after the next cursor and
// their count. On an error, b is to be dropped.
func AppendChanges(b []byte, s *core.Store, since uint64, f core.Filter, limit int, maxBytes int64) ([]byte, *core.Error) {
	at := len(b)
	b = append(b, make([]byte, ChangesHeader)...)
	count := uint32(0)
	next, err := s.ScanChanges(since, f, limit, maxBytes, func(e *core.Event) {
		b = AppendEvent(b, e)
		count++
	})
	if err != nil {
		return b, err
	}
	putChangesHeader(b[at:], next, count)
	return b, nil
}

// putChangesHeader fills in the header of a changes body.
func putChangesHeader(b []byte, next uint64, count uint32) {
	le.PutUint64(b[ChangesNext:], next)
	le.PutUint32(b[ChangesCount:], count)
}

// ReadChanges decodes what AppendChanges encodes; the events' strings and
// values alias the buffer.
func (r *Reader) ReadChanges() core.Page {
	p := core.Page{Next: r.U64()}
	n := r.U32()
	p.Events = make([]core.Event, 0, min(n, uint32(r.Len()/EventHeader)))
	for i := uint32(0); i < n && r.err == nil; i++ {
		p.Events = append(p.Events, r.ReadEvent())
	}
	return p
}

// AppendEvent encodes one event of a changes result.
func AppendEvent(b []byte, e *core.Event) []byte {
	var flags byte
	if e.HasPrev {
		flags |= FlagPrev
	}
	if e.HasNew {
		flags |= FlagNew
	}
	b = le.AppendUint64(b, e.Sequence)
	b = append(b, byte(e.Op), flags)
	b = le.AppendUint64(b, uint64(e.Timestamp))
	b = le.AppendUint64(b, e.PrevVersion)
	b = le.AppendUint64(b, e.NewVersion)
	b = le.AppendUint32(b, uint32(len(e.Type)))
	b = le.AppendUint32(b, uint32(len(e.ID)))
	b = le.AppendUint32(b, uint32(len(e.Prev)))
	b = le.AppendUint32(b, uint32(len(e.New)))
	b = append(b, e.Type...)
	b = append(b, e.ID...)
	b = append(b, e.Prev...)
	return append(b, e.New...)
}

// ReadEvent decodes one event; its strings and values alias the buffer.
func (r *Reader) ReadEvent() core.Event {
	var e core.Event
	e.Sequence = r.U64()
	e.Op = core.EventOp(r.U8())
	flags := r.U8()
	e.HasPrev, e.HasNew = flags&FlagPrev != 0, flags&FlagNew != 0
	e.Timestamp = int64(r.U64())
	e.PrevVersion, e.NewVersion = r.U64(), r.U64()
	tl, il, pl, nl := r.U32(), r.U32(), r.U32(), r.U32()
	e.Type, e.ID = r.String(tl), r.String(il)
	e.Prev, e.New = r.Bytes(pl), r.Bytes(nl)
	if !e.HasPrev {
		e.Prev = nil
	}
	if !e.HasNew {
		e.New = nil
	}
	return e
}

// AppendStats encodes the result of stats.
func AppendStats(b []byte, s *core.Stats) []byte {
	for _, v := range [StatsFields]uint64{s.TotalEvents, s.CurrentSequence, s.OldestSequence,
		s.ReplayEvents, s.ReplayBytes, s.EventsDropped, s.Actors, s.DataBytes, s.IdempotencyKeys, s.IdempotencyBytes} {
		b = le.AppendUint64(b, v)
	}
	return b
}

// ReadStats decodes what AppendStats encodes.
func (r *Reader) ReadStats() core.Stats {
	return core.Stats{TotalEvents: r.U64(), CurrentSequence: r.U64(), OldestSequence: r.U64(),
		ReplayEvents: r.U64(), ReplayBytes: r.U64(), EventsDropped: r.U64(), Actors: r.U64(), DataBytes: r.U64(),
		IdempotencyKeys: r.U64(), IdempotencyBytes: r.U64()}
}

// AppendOp encodes one operation of a batch request.
func AppendOp(b []byte, op *core.Op) []byte {
	b = append(b, byte(op.Kind))
	b = le.AppendUint32(b, uint32(len(op.Type)))
	b = le.AppendUint32(b, uint32(len(op.ID)))
	b = le.AppendUint32(b, uint32(len(op.Value)))
	b = le.AppendUint64(b, op.Expected)
	b = append(b, op.Type...)
	b = append(b, op.ID...)
	return append(b, op.Value...)
}

// ReadOp decodes one operation of a batch request; its strings and value
// alias the buffer.
func (r *Reader) ReadOp() core.Op {
	var op core.Op
	r.readOp(&op)
	return op
}

// readOp is ReadOp into op: an Op returned by value is a copy that costs
// in the wasm guest. An operation that fits whole is read inline (the
// module reads every operation of a batch here, and calls are dear in
// the guest); the rest go through the Reader, for its errors.
func (r *Reader) readOp(op *core.Op) {
	if b := r.b[r.off:]; r.err == nil && len(b) >= OpHeader {
		tl, il, vl := uint64(le.Uint32(b[1:])), uint64(le.Uint32(b[5:])), uint64(le.Uint32(b[9:]))
		if tl+il+vl <= uint64(len(b)-OpHeader) {
			p := b[OpHeader : OpHeader+tl+il+vl]
			op.Kind = core.Kind(b[0])
			op.Expected = uint64(le.Uint32(b[13:])) | uint64(le.Uint32(b[17:]))<<32
			op.Type, op.ID, op.Value = view(p[:tl]), view(p[tl:tl+il]), p[tl+il:len(p):len(p)]
			r.off += OpHeader + len(p)
			return
		}
	}
	op.Kind = core.Kind(r.U8())
	tl, il, vl := r.U32(), r.U32(), r.U32()
	op.Expected = r.U64()
	op.Type, op.ID, op.Value = r.String(tl), r.String(il), r.Bytes(vl)
}

// AppendBatchRequest encodes the input of batch: the operations back to
// back.
func AppendBatchRequest(b []byte, ops []core.Op) []byte {
	for i := range ops {
		b = AppendOp(b, &ops[i])
	}
	return b
}

// ReadBatchRequest decodes the input of a batch of count operations,
// which must fill the rest of the buffer exactly. Strings and values
// alias the buffer. Failures, in Err, are InvalidArgument: more than
// core.MaxBatchOps, a count the bytes cannot hold, a malformed operation
// (its Index set), trailing bytes.
func (r *Reader) ReadBatchRequest(count uint32) []core.Op {
	return r.ReadBatchRequestInto(nil, count)
}

// ReadBatchRequestInto is ReadBatchRequest decoding into dst's memory
// when it has the capacity (the module reuses one slice for every batch).
func (r *Reader) ReadBatchRequestInto(dst []core.Op, count uint32) []core.Op {
	if err := core.CheckBatchLen(int(count)); err != nil {
		r.fail(err)
		return nil
	}
	if uint64(count)*OpHeader > uint64(r.Len()) {
		r.fail(core.NewError(core.InvalidArgument, "invalid argument: batch count exceeds its bytes"))
		return nil
	}
	ops := dst[:0]
	if cap(ops) < int(count) {
		ops = make([]core.Op, count)
	}
	ops = ops[:count]
	for i := range ops {
		r.readOp(&ops[i])
		if r.err != nil {
			r.err.Index = i
			return nil
		}
	}
	if r.Len() != 0 {
		r.fail(core.NewError(core.InvalidArgument, "invalid argument: trailing bytes after batch operations"))
		return nil
	}
	return ops
}

// AppendBatch encodes the result of batch: the count, then one result per
// operation, with the removed value for deletes.
func AppendBatch(b []byte, ops []core.Op, rs []core.Result) []byte {
	b = le.AppendUint32(b, uint32(len(rs)))
	for i := range rs {
		b = AppendResult(b, &rs[i], ops[i].Kind == core.KindDelete)
	}
	return b
}

// ReadBatch decodes the result of batch for ops into what Store.Batch
// returns: the written actors are the operations' (type, id, value), the
// removed ones have the operations' keys and the result's values (which
// alias the buffer). A count other than len(ops) is an Internal error.
func (r *Reader) ReadBatch(ops []core.Op) []core.Result {
	if n := r.U32(); r.err == nil && int(n) != len(ops) {
		r.fail(core.NewError(core.Internal, "batch returned "+itoa(uint64(n))+" results for "+
			itoa(uint64(len(ops)))+" operations"))
	}
	if r.err != nil {
		return nil
	}
	out := make([]core.Result, len(ops))
	for i := range out {
		op := &ops[i]
		out[i] = r.ReadResult(op.Kind == core.KindDelete)
		if out[i].Found {
			out[i].Actor.Type, out[i].Actor.ID = op.Type, op.ID
		}
		if op.Kind != core.KindDelete {
			out[i].Actor.Value = op.Value
		}
	}
	return out
}

// AppendReplay encodes the result of replay: the record's first and last
// sequence.
func AppendReplay(b []byte, first, last uint64) []byte {
	return le.AppendUint64(le.AppendUint64(b, first), last)
}

// ReadReplay decodes what AppendReplay encodes.
func (r *Reader) ReadReplay() (first, last uint64) { return r.U64(), r.U64() }

// AppendSnapshotBegin encodes the result of snapshot_begin.
func AppendSnapshotBegin(b []byte, info *core.SnapshotInfo) []byte {
	b = le.AppendUint64(b, info.Sequence)
	b = le.AppendUint64(b, info.Actors)
	return le.AppendUint64(b, info.Events)
}

// ReadSnapshotBegin decodes what AppendSnapshotBegin encodes.
func (r *Reader) ReadSnapshotBegin() core.SnapshotInfo {
	return core.SnapshotInfo{Sequence: r.U64(), Actors: r.U64(), Events: r.U64()}
}

// AppendSnapshotNext encodes the result of snapshot_next: the next frames
// of e's snapshot in progress (core.Engine.SnapshotNext), filling the rest
// of the body; none once the stream is complete.
func AppendSnapshotNext(b []byte, e *core.Engine, limit int) ([]byte, *core.Error) {
	return e.SnapshotNext(b, limit)
}

// ReadSnapshotNext decodes what AppendSnapshotNext encodes: the rest of
// the body, aliasing the buffer.
func (r *Reader) ReadSnapshotNext() []byte { return r.Bytes(uint32(min(r.Len(), 1<<32-1))) }

// AppendRestoreEnd encodes the result of restore_end: the restored
// store's current sequence and actors.
func AppendRestoreEnd(b []byte, st *core.Stats) []byte {
	return le.AppendUint64(le.AppendUint64(b, st.CurrentSequence), st.Actors)
}

// ReadRestoreEnd decodes what AppendRestoreEnd encodes: a Stats with
// CurrentSequence and Actors set.
func (r *Reader) ReadRestoreEnd() core.Stats {
	return core.Stats{CurrentSequence: r.U64(), Actors: r.U64()}
}
