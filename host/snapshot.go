package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
)

// snapshotChunk is about the bytes read from the engine per turn of the
// store's lock while a snapshot is streamed: writes go on in between.
const snapshotChunk = 64 << 10

// Snapshot writes the store's whole state to w as a portable snapshot
// stream: actors, the sequence counter and the retained replay buffer.
// Every host and engine writes the same bytes for the same state, and
// Restore on any of them (the JS package's restore too) reads them back.
//
// The snapshot is the state at the moment Snapshot is called: it streams
// from a copy-on-write copy, so writes go on while w is written. One
// snapshot or restore runs at a time per store.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	_, cerr := s.eng.snapshotBegin()
	s.mu.Unlock()
	if cerr != nil {
		return mapError(cerr)
	}
	defer func() {
		s.mu.Lock()
		if !s.closed {
			s.eng.snapshotEnd()
		}
		s.mu.Unlock()
	}()
	if err := s.pumpSnapshot(ctx, w, true); err != nil {
		return fmt.Errorf("actorstore: snapshot: %w", err)
	}
	return nil
}

// pumpSnapshot writes the rest of the engine's snapshot in progress to w.
// With perChunk the store's lock is taken for each chunk, so writes go on
// in between; otherwise the caller holds it.
func (s *Store) pumpSnapshot(ctx context.Context, w io.Writer, perChunk bool) error {
	for {
		if perChunk {
			if err := s.lock(ctx); err != nil {
				return err
			}
		}
		chunk, cerr := s.eng.snapshotNext(snapshotChunk)
		if perChunk {
			s.mu.Unlock()
			// Writers waiting for the lock go first: a mutex does not
			// queue, and this loop would take it straight back.
			runtime.Gosched()
		}
		if cerr != nil {
			return mapError(cerr)
		}
		if len(chunk) == 0 {
			return nil
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
}

// Restore replaces the store's whole state with the snapshot read from r
// (as written by Snapshot, on any host). The stream is read and checked to
// its end before anything changes: garbage, a truncated stream or a read
// error leave the store as it was. Sequence numbers, the replay buffer and
// its counters become the snapshot's; open subscriptions end with
// ErrRestored. On a durable store (Options.Dir) the restored state is made
// durable before Restore returns.
//
// # Errors
//
// ErrInvalidArgument for a stream that is not a whole, valid snapshot;
// ErrStoreFull or ErrValueTooLarge when its data does not fit the store's
// limits (MaxDataBytes, MaxValueBytes).
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	cerr := s.eng.restoreBegin()
	s.mu.Unlock()
	if cerr != nil {
		return mapError(cerr)
	}
	err := readPieces(r, func(p []byte) error {
		if err := s.lock(ctx); err != nil {
			return err
		}
		cerr := s.eng.restoreWrite(p)
		s.mu.Unlock()
		return mapError(cerr)
	})
	if err != nil {
		s.abortRestore() // the engine has dropped it already after its own error
		var re *readError
		if errors.As(err, &re) {
			return fmt.Errorf("actorstore: restore: %w", re.err)
		}
		return err
	}
	if err := s.lock(ctx); err != nil {
		s.abortRestore()
		return err
	}
	defer s.mu.Unlock()
	if _, cerr := s.eng.restoreEnd(); cerr != nil {
		return mapError(cerr)
	}
	s.epoch++
	s.committed()
	if s.dur != nil {
		return s.dur.restored(s)
	}
	return nil
}

func (s *Store) abortRestore() {
	s.mu.Lock()
	if !s.closed {
		s.eng.restoreAbort()
	}
	s.mu.Unlock()
}

// readError is a failure to read a snapshot, as opposed to one of the
// engine or the store while restoring it.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

// readPieces reads r to its end and passes it to fn in pieces of up to
// snapshotChunk bytes. An error of fn stops it and is returned as it is; a
// read error comes back as a *readError.
func readPieces(r io.Reader, fn func([]byte) error) error {
	buf := make([]byte, snapshotChunk)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return &readError{err}
		}
	}
}
