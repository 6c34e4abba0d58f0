package core

// Engine is a Store as a host drives it: the store, the snapshot being
// read and the restore being written (at most one of each). The wasm module
// and the Go host's native engine are both thin wrappers of one Engine, so
// they keep the same rules. A restore that completes replaces the Store.
// An Engine is not safe for concurrent use.
type Engine struct {
	store *Store
	snap  *Snapshot
	rest  *Restorer
}

// NewEngine returns an engine holding an empty store with options o, or an
// InvalidArgument error for bad options.
func NewEngine(o Options) (*Engine, *Error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	return &Engine{store: s}, nil
}

// Store returns the current store. A completed restore replaces it: do not
// keep it across RestoreEnd.
func (e *Engine) Store() *Store { return e.store }

func noneInProgress(what string) *Error {
	return NewError(InvalidArgument, "invalid argument: no "+what+" in progress")
}

// SnapshotBegin starts a snapshot of the current state (Store.Snapshot),
// replacing an unfinished one.
func (e *Engine) SnapshotBegin() SnapshotInfo {
	e.SnapshotEnd()
	e.snap = e.store.Snapshot()
	return e.snap.Info()
}

// SnapshotNext appends the next whole frames of the snapshot in progress
// to dst, about limit bytes of them (limit is taken in 1..MaxSnapshotChunk),
// and returns dst unchanged once the stream is complete. Without a
// snapshot in progress it is an InvalidArgument error.
func (e *Engine) SnapshotNext(dst []byte, limit int) ([]byte, *Error) {
	if e.snap == nil {
		return dst, noneInProgress("snapshot")
	}
	return e.snap.Next(dst, min(max(limit, 1), MaxSnapshotChunk)), nil
}

// SnapshotEnd drops the snapshot in progress, if any.
func (e *Engine) SnapshotEnd() {
	if e.snap != nil {
		e.snap.Close()
		e.snap = nil
	}
}

// RestoreBegin starts building a new store, with the current store's
// options, from a snapshot stream, replacing an unfinished restore. The
// current store is untouched until RestoreEnd.
func (e *Engine) RestoreBegin() *Error {
	r, err := NewRestorer(e.store.Options())
	e.rest = r
	return err
}

// Restoring reports whether a restore is in progress.
func (e *Engine) Restoring() bool { return e.rest != nil }

// RestoreWrite consumes the next bytes of the stream. An error abandons
// the restore.
func (e *Engine) RestoreWrite(p []byte) *Error {
	if e.rest == nil {
		return noneInProgress("restore")
	}
	err := e.rest.Write(p)
	if err != nil {
		e.rest = nil
	}
	return err
}

// RestoreEnd checks that the stream was complete and puts the restored
// store in place of the current one, returning its stats. Either way the
// restore is over.
func (e *Engine) RestoreEnd() (Stats, *Error) {
	if e.rest == nil {
		return Stats{}, noneInProgress("restore")
	}
	s, err := e.rest.Finish()
	e.rest = nil
	if err != nil {
		return Stats{}, err
	}
	e.store = s
	return s.Stats(), nil
}

// RestoreAbort abandons the restore in progress, if any.
func (e *Engine) RestoreAbort() { e.rest = nil }
