package main

import (
	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/le"
)

// The persistence exports: replay of mutation records, and snapshots
// streamed out of and into the module in chunks, so that hosts write the
// same bytes to disk or IndexedDB and writes go on while a snapshot is read.
var (
	snap     *core.Snapshot // the snapshot being read, if any
	restorer *core.Restorer // the restore being written, if any
)

// A restore allocates what it keeps: collecting while the heap grows from
// nothing to its size would mark it again and again for no garbage (in
// the guest that made restoring 300k actors take 2 s instead of 0.6 s).
// The collector is paused from restore_begin to the restore's end; the
// memory limit still bounds the heap.
func setRestoring(r *core.Restorer) {
	if (restorer == nil) != (r == nil) {
		if r != nil {
			setGCPercent(-1)
		} else {
			setGCPercent(100)
		}
	}
	restorer = r
}

func noneInProgress(what string) uint64 {
	return fail(&core.Error{Code: core.InvalidArgument, Index: -1, Msg: "invalid argument: no " + what + " in progress"})
}

// replay applies the mutation record in the input buffer (core.AppendRecord
// layout): its first sequence must be the next one, and it must apply.
//
//go:wasmexport replay
func replay(size uint32) (res uint64) {
	defer guard(&res)
	if err := fit(uint64(size)); err != nil {
		return fail(err)
	}
	// The store keeps the record's values: copy it out of the input buffer.
	first, last, err := store.Replay(append([]byte(nil), in[:size]...))
	if err != nil {
		return fail(err)
	}
	return done(le.AppendUint64(le.AppendUint64(ok(), first), last))
}

// snapshot_begin starts a snapshot of the current state, replacing an
// unfinished one.
//
//go:wasmexport snapshot_begin
func snapshotBegin() (res uint64) {
	defer guard(&res)
	if snap != nil {
		snap.Close()
	}
	snap = store.Snapshot()
	info := snap.Info()
	b := le.AppendUint64(ok(), info.Sequence)
	b = le.AppendUint64(b, info.Actors)
	return done(le.AppendUint64(b, info.Events))
}

// maxChunk bounds what snapshot_next returns, beyond one oversized frame.
const maxChunk = 16 << 20

// snapshot_next returns the next whole frames of the snapshot stream, about
// limit bytes of them; none once it is complete.
//
//go:wasmexport snapshot_next
func snapshotNext(limit uint32) (res uint64) {
	defer guard(&res)
	if snap == nil {
		return noneInProgress("snapshot")
	}
	return done(snap.Next(ok(), int(min(max(limit, 1), maxChunk))))
}

// snapshot_end drops the snapshot being read.
//
//go:wasmexport snapshot_end
func snapshotEnd() (res uint64) {
	defer guard(&res)
	if snap != nil {
		snap.Close()
		snap = nil
	}
	return done(ok())
}

// restore_begin starts building a new store, with the current options, from
// a snapshot stream; the current store is untouched until restore_end.
//
//go:wasmexport restore_begin
func restoreBegin() (res uint64) {
	defer guard(&res)
	r, err := core.NewRestorer(store.Options())
	if err != nil {
		return fail(err)
	}
	setRestoring(r)
	return done(ok())
}

// restore_write consumes the next size bytes of the stream from the input
// buffer. An error abandons the restore.
//
//go:wasmexport restore_write
func restoreWrite(size uint32) (res uint64) {
	defer guard(&res)
	if restorer == nil {
		return noneInProgress("restore")
	}
	if err := fit(uint64(size)); err != nil {
		return fail(err)
	}
	if err := restorer.Write(in[:size]); err != nil {
		setRestoring(nil)
		return fail(err)
	}
	return done(ok())
}

// restore_end checks the stream was complete and puts the restored store
// in place of the current one.
//
//go:wasmexport restore_end
func restoreEnd() (res uint64) {
	defer guard(&res)
	if restorer == nil {
		return noneInProgress("restore")
	}
	s, err := restorer.Finish()
	setRestoring(nil)
	if err != nil {
		return fail(err)
	}
	store = s
	st := s.Stats()
	return done(le.AppendUint64(le.AppendUint64(ok(), st.CurrentSequence), st.Actors))
}

// restore_abort abandons a restore.
//
//go:wasmexport restore_abort
func restoreAbort() (res uint64) {
	defer guard(&res)
	setRestoring(nil)
	return done(ok())
}
