package main

import "github.com/actorstore/actorstore/internal/abi"

// The persistence exports: replay of mutation records, and snapshots
// streamed out of and into the module in chunks (core.Engine), so that
// hosts write the same bytes to disk or IndexedDB and writes go on while a
// snapshot is read.

// replay applies the mutation record in the input buffer (core.AppendRecord
// layout): its first sequence must be the next one, and it must apply.
//
//go:wasmexport replay
func replay(size uint32) (res uint64) {
	defer guard(&res)
	rec, err := abi.ReadRequest(in, size)
	if err != nil {
		return fail(err)
	}
	// The store copies the record's keys and values out of the input
	// buffer.
	first, last, err := eng.Store().Replay(rec)
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendReplay(ok(), first, last))
}

// snapshot_begin starts a snapshot of the current state, replacing an
// unfinished one.
//
//go:wasmexport snapshot_begin
func snapshotBegin() (res uint64) {
	defer guard(&res)
	info := eng.SnapshotBegin()
	return done(abi.AppendSnapshotBegin(ok(), &info))
}

// snapshot_next returns the next whole frames of the snapshot stream, about
// limit bytes of them; none once it is complete.
//
//go:wasmexport snapshot_next
func snapshotNext(limit uint32) (res uint64) {
	defer guard(&res)
	b, err := abi.AppendSnapshotNext(ok(), eng, int(limit))
	if err != nil {
		return fail(err)
	}
	return done(b)
}

// snapshot_end drops the snapshot being read.
//
//go:wasmexport snapshot_end
func snapshotEnd() (res uint64) {
	defer guard(&res)
	eng.SnapshotEnd()
	return done(ok())
}

// restore_begin starts building a new store, with the current options, from
// a snapshot stream; the current store is untouched until restore_end.
//
//go:wasmexport restore_begin
func restoreBegin() (res uint64) {
	defer guard(&res)
	if err := eng.RestoreBegin(); err != nil {
		return fail(err)
	}
	return done(ok())
}

// restore_write consumes the next size bytes of the stream from the input
// buffer. An error abandons the restore.
//
//go:wasmexport restore_write
func restoreWrite(size uint32) (res uint64) {
	defer guard(&res)
	p, err := abi.ReadRequest(in, size)
	if err != nil {
		return fail(err)
	}
	if err := eng.RestoreWrite(p); err != nil {
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
	st, err := eng.RestoreEnd()
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendRestoreEnd(ok(), &st))
}

// restore_abort abandons a restore.
//
//go:wasmexport restore_abort
func restoreAbort() (res uint64) {
	defer guard(&res)
	eng.RestoreAbort()
	return done(ok())
}
