package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/actorstore/actorstore/core"
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
	_, err := s.snapshotTo(ctx, w)
	return err
}

func (s *Store) snapshotTo(ctx context.Context, w io.Writer) (core.SnapshotInfo, error) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if err := s.lock(ctx); err != nil {
		return core.SnapshotInfo{}, err
	}
	info, cerr := s.eng.snapshotBegin()
	s.mu.Unlock()
	if cerr != nil {
		return info, mapError(cerr)
	}
	defer func() {
		s.mu.Lock()
		if !s.closed {
			s.eng.snapshotEnd()
		}
		s.mu.Unlock()
	}()
	if err := s.pumpSnapshot(ctx, w, true); err != nil {
		return info, fmt.Errorf("actorstore: snapshot: %w", err)
	}
	return info, nil
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

// ErrRestored is returned by Subscription.Next after Restore replaced the
// store's state and history: subscribe again.
var ErrRestored = errors.New("actorstore: the store was restored from a snapshot")

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
// ErrStoreFull or ErrInvalidArgument when its data does not fit the
// store's limits (MaxDataBytes, MaxValueBytes).
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
	buf := make([]byte, snapshotChunk)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if err := s.lock(ctx); err != nil {
				s.abortRestore()
				return err
			}
			cerr := s.eng.restoreWrite(buf[:n])
			s.mu.Unlock()
			if cerr != nil {
				return mapError(cerr)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			s.abortRestore()
			return fmt.Errorf("actorstore: restore: %w", rerr)
		}
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
