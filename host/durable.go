package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/wal"
)

// SyncPolicy says when a write to a durable store (Options.Dir) returns.
// Whatever the policy, every acknowledged write has been handed to the
// operating system: a crash of the process loses nothing. The policies
// differ in what a crash of the machine (power loss, kernel panic) can
// lose.
type SyncPolicy int

const (
	// SyncAlways, the default: a write returns once its log record is
	// fsynced. A machine crash loses nothing acknowledged. Concurrent
	// writers share fsyncs (group commit).
	SyncAlways SyncPolicy = iota
	// SyncInterval: a write returns once its record is written to the
	// OS; the log is fsynced every Options.SyncInterval. A machine crash
	// loses at most the writes of the last interval.
	SyncInterval
	// SyncNever: as SyncInterval, but the log is fsynced only at
	// snapshots and Close; a machine crash loses what the OS had not yet
	// written back (on Linux, typically up to 30 seconds).
	SyncNever
)

// String returns "always", "interval" or "never".
func (p SyncPolicy) String() string { return wal.SyncPolicy(p).String() }

// DefaultSnapshotLogBytes is the log size past which a durable store takes
// a snapshot, when Options.SnapshotLogBytes is 0.
const DefaultSnapshotLogBytes = 64 << 20

// Recovery describes how Open rebuilt a durable store.
type Recovery struct {
	// Snapshot is the snapshot file the state was restored from, "" if
	// none; SnapshotSequence is its sequence number.
	Snapshot         string
	SnapshotSequence uint64
	// SkippedSnapshots lists newer snapshot files that failed to load,
	// with why; the log from the older one made up for them.
	SkippedSnapshots []string
	// Records is the number of log records replayed after the snapshot.
	Records int
	// TornFile, when set, is the log whose torn final record (a write in
	// progress when the process died, never acknowledged) was cut off at
	// TornOffset, removing TornBytes bytes.
	TornFile   string
	TornOffset int64
	TornBytes  int64
	// Duration is how long recovery took.
	Duration time.Duration
	// Heals counts the wasm guests that trapped and were replaced by a new
	// one rebuilt from the directory since Open.
	Heals int
}

// durable is the persistence of a store opened with Options.Dir: the
// directory (held locked), its write-ahead log and its snapshots.
type durable struct {
	dir      *wal.Dir
	log      *wal.Log
	segFirst uint64 // the first sequence of log's current segment; Store.mu
	wopts    wal.Options
	rec      []byte // record scratch, used under Store.mu
	appended uint64 // ticket of the latest record appended to log; Store.mu
	visible  uint64 // newest sequence known durable; Store.mu
	failed   error  // the log failed: the store refuses everything; Store.mu
	recovery Recovery
	snapAt   int64 // log bytes that start a snapshot; <= 0: never
	running  atomic.Bool
	bg       sync.WaitGroup
	bgErr    atomic.Pointer[error] // the latest automatic checkpoint's failure, or nil
	retryAt  atomic.Int64          // after a failed one, the log size to try again at
	heals    int                   // trapped guests replaced; Store.mu
}

func walOptions(o Options) wal.Options {
	return wal.Options{Sync: wal.SyncPolicy(o.Sync), Interval: o.SyncInterval}
}

// openDurable locks o.Dir, rebuilds the engine's state from it and opens
// its log for writing.
func openDurable(s *Store, o Options) (*durable, error) {
	if o.Sync < SyncAlways || o.Sync > SyncNever {
		return nil, errorf(ErrInvalidArgument, "invalid options: unknown Sync policy %d", o.Sync)
	}
	if o.SyncInterval < 0 {
		return nil, errorf(ErrInvalidArgument, "invalid options: negative SyncInterval %v", o.SyncInterval)
	}
	dir, err := wal.OpenDir(o.Dir)
	if err != nil {
		return nil, walError(err)
	}
	d := &durable{dir: dir, snapAt: o.SnapshotLogBytes, wopts: walOptions(o)}
	if d.snapAt == 0 {
		d.snapAt = DefaultSnapshotLogBytes
	}
	start := time.Now()
	cur, err := d.load(s.eng)
	if err == nil {
		d.log, err = dir.OpenLog(cur+1, d.wopts)
	}
	if err != nil {
		dir.Close()
		return nil, err
	}
	d.recovery.Duration = time.Since(start)
	d.visible, d.segFirst = cur, cur+1
	return d, nil
}

// load restores the newest snapshot that loads, then replays the log after
// it, returning the current sequence.
func (d *durable) load(eng engine) (uint64, error) {
	snaps, err := d.dir.Snapshots()
	if err != nil {
		return 0, walError(err)
	}
	var firstErr error
	base := uint64(0)
	for _, f := range snaps {
		err := restoreFile(eng, f)
		if err == nil {
			d.recovery.Snapshot, d.recovery.SnapshotSequence, base = f.Path, f.Seq, f.Seq
			break
		}
		if errors.Is(err, ErrStoreFull) || errors.Is(err, ErrValueTooLarge) {
			return 0, err // not damage: the options are too small for the data
		}
		if firstErr == nil {
			firstErr = err
		}
		d.recovery.SkippedSnapshots = append(d.recovery.SkippedSnapshots, err.Error())
	}
	cur, replayed := base, 0
	rec, err := d.dir.Replay(func(p []byte, file string, off int64) error {
		first, ok := core.RecordSequence(p)
		if !ok {
			return &CorruptError{File: file, Offset: off, Reason: "malformed log record"}
		}
		if first <= base {
			return nil // the snapshot holds it
		}
		replayed++
		if first != cur+1 {
			reason := fmt.Sprintf("log record of sequence %d follows sequence %d: records are missing", first, cur)
			if first <= cur {
				reason = fmt.Sprintf("log record of sequence %d repeats one already replayed (at %d)", first, cur)
			}
			return &CorruptError{File: file, Offset: off, Reason: reason}
		}
		_, last, cerr := eng.replay(p)
		if cerr != nil {
			if cerr.Code == core.StoreFull || cerr.Code == core.ValueTooLarge {
				return fmt.Errorf("actorstore: %s (log %s at offset %d): open with the limits the store was written with: %w",
					cerr.Msg, file, off, mapError(cerr))
			}
			return &CorruptError{File: file, Offset: off, Reason: "log record does not apply: " + cerr.Msg}
		}
		cur = last
		return nil
	})
	d.recovery.Records = replayed
	d.recovery.TornFile, d.recovery.TornOffset, d.recovery.TornBytes = rec.TornFile, rec.TornOffset, rec.TornBytes
	if err != nil {
		err = walError(err)
		if firstErr != nil && errors.Is(err, ErrCorrupt) {
			// The log could not make up for the snapshot that failed:
			// that snapshot is the damage to report.
			return 0, firstErr
		}
		return 0, err
	}
	return cur, nil
}

// restoreFile restores the engine from a snapshot file; on failure the
// engine is unchanged.
func restoreFile(eng engine, f wal.File) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if cerr := eng.restoreBegin(); cerr != nil {
		return mapError(cerr)
	}
	var read int64
	err = readPieces(fh, func(p []byte) error {
		if cerr := eng.restoreWrite(p); cerr != nil {
			if cerr.Code == core.StoreFull || cerr.Code == core.ValueTooLarge {
				return fmt.Errorf("actorstore: snapshot %s does not fit: open with the limits the store was written with: %w",
					f.Path, mapError(cerr))
			}
			return &CorruptError{File: f.Path, Offset: -1, Reason: cerr.Msg}
		}
		read += int64(len(p))
		return nil
	})
	if err != nil {
		eng.restoreAbort()
		var re *readError
		if errors.As(err, &re) {
			return fmt.Errorf("actorstore: read snapshot %s: %w", f.Path, re.err)
		}
		return err
	}
	seq, cerr := eng.restoreEnd()
	if cerr != nil {
		return &CorruptError{File: f.Path, Offset: read, Reason: cerr.Msg}
	}
	if seq != f.Seq {
		// Its name is what decides which log records follow it.
		return &CorruptError{File: f.Path, Offset: -1, Reason: fmt.Sprintf("snapshot holds sequence %d, its name says %d", seq, f.Seq)}
	}
	return nil
}

// appendLocked logs a mutation the engine just applied, under its
// idempotency key when key is set, returning the log and the ticket to
// wait on outside the lock. Called with Store.mu held, in sequence order.
func (d *durable) appendLocked(first uint64, ts int64, key string, batch bool, ops []core.Op) (*wal.Log, uint64) {
	d.rec = core.AppendKeyedRecord(d.rec[:0], first, ts, key, batch, ops)
	t := d.log.Append(d.rec)
	d.appended = t
	if cap(d.rec) > 1<<20 {
		d.rec = nil // do not pin a big batch
	}
	return d.log, t
}

// logged waits, outside the lock, until the record of ticket in l is
// durable under the sync policy, then makes its events visible to the
// change feed. A log failure closes the store: memory is ahead of the disk.
func (s *Store) logged(l *wal.Log, ticket, last uint64) error {
	d := s.dur
	err := l.Wait(ticket)
	s.mu.Lock()
	if err != nil {
		s.failLocked(err)
		s.mu.Unlock()
		return s.dur.failed
	}
	// A Restore in between started another log and history: this record
	// belongs to the one it replaced.
	if last > d.visible && l == d.log {
		d.visible = last
		s.committed()
	}
	s.mu.Unlock()
	if d.snapAt > 0 && l.Size() >= max(d.snapAt, d.retryAt.Load()) && d.running.CompareAndSwap(false, true) {
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			defer d.running.Store(false)
			err := s.checkpoint(context.Background())
			if errors.Is(err, ErrClosed) {
				return
			}
			if err != nil {
				// Try again once the log has grown as much again, not at
				// every write.
				d.retryAt.Store(d.currentLog(s).Size() + d.snapAt)
				d.bgErr.Store(&err)
				return
			}
			d.retryAt.Store(0)
			d.bgErr.Store(nil)
		}()
	}
	return nil
}

// failLocked closes the store after its log failed.
func (s *Store) failLocked(err error) {
	d := s.dur
	if d.failed == nil {
		d.failed = fmt.Errorf("actorstore: the write-ahead log failed, the store is closed (reopen it to recover what was acknowledged): %w (%w)", err, ErrClosed)
	}
	if !s.closed {
		s.closed = true
		close(s.done)
		s.eng.close(context.Background())
	}
}

// Checkpoint takes a snapshot of a durable store into its directory now,
// then drops the log and snapshots it no longer needs (the newest two
// snapshots, and the log after the older one, are kept). A store takes one
// by itself whenever its log passes Options.SnapshotLogBytes. Writes go on
// while it runs. Without Options.Dir it is ErrInvalidArgument.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.dur == nil {
		return errorf(ErrInvalidArgument, "invalid argument: Checkpoint needs a durable store (Options.Dir)")
	}
	return s.checkpoint(ctx)
}

func (s *Store) checkpoint(ctx context.Context) error {
	d := s.dur
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	// The snapshot and the new log segment start at the same sequence:
	// no record can come between them while the lock is held.
	info, cerr := s.eng.snapshotBegin()
	var err error
	if cerr != nil {
		err = mapError(cerr)
	} else if info.Sequence+1 != d.segFirst { // else nothing was logged since the segment began
		if err = d.log.Rotate(info.Sequence + 1); err != nil {
			s.failLocked(err)
			err = d.failed
		}
		d.segFirst = info.Sequence + 1
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		s.mu.Lock()
		if !s.closed {
			s.eng.snapshotEnd()
		}
		s.mu.Unlock()
	}()
	_, err = d.dir.WriteSnapshot(info.Sequence, func(w io.Writer) error {
		return s.pumpSnapshot(ctx, w, true)
	})
	if err != nil {
		return fmt.Errorf("actorstore: checkpoint: %w", err)
	}
	snaps, err := d.dir.Snapshots()
	if err != nil || len(snaps) < 2 {
		return err
	}
	return d.dir.RemoveBefore(snaps[1].Seq + 1)
}

// restored makes a state the engine just restored the directory's whole
// history: its snapshot replaces every log segment and snapshot, and a new
// log starts after it. Called with Store.mu held, so writers wait for it.
// A failure closes the store; reopening finds the old history or, once
// the new snapshot was committed, the restored one.
func (d *durable) restored(s *Store) error {
	fail := func(err error) error {
		s.failLocked(err)
		return d.failed
	}
	if err := d.log.Close(); err != nil {
		return fail(err)
	}
	info, cerr := s.eng.snapshotBegin()
	if cerr != nil {
		return fail(mapError(cerr))
	}
	err := d.dir.ReplaceAll(info.Sequence, func(w io.Writer) error {
		return s.pumpSnapshot(context.Background(), w, false)
	})
	s.eng.snapshotEnd()
	if err != nil {
		return fail(walError(err))
	}
	l, err := d.dir.OpenLog(info.Sequence+1, d.wopts)
	if err != nil {
		return fail(err)
	}
	d.log, d.visible, d.segFirst, d.appended = l, info.Sequence, info.Sequence+1, 0
	return nil
}

// healLocked replaces an engine of a durable store that lost its state (a
// wasm guest that trapped) with a new one rebuilt from the directory, as
// Open would: every acknowledged write is in the log. The call that
// trapped returned ErrInternal; the next one finds the store whole again.
// Called with Store.mu held.
func (s *Store) healLocked(ctx context.Context) error {
	old, ok := s.eng.(renewable)
	if !ok || !old.lost() {
		return nil
	}
	d := s.dur
	if err := d.log.Sync(); err != nil { // the log's files hold every record
		s.failLocked(err)
		return d.failed
	}
	start := time.Now()
	eng, err := old.renew(ctx)
	if err != nil {
		return fmt.Errorf("actorstore: replacing the trapped wasm guest: %w", err)
	}
	d.recovery = Recovery{}
	cur, err := d.load(eng)
	if err == nil && cur < d.visible {
		err = fmt.Errorf("actorstore: the log ends at sequence %d, %d was acknowledged", cur, d.visible)
	}
	if err != nil {
		eng.close(ctx)
		return fmt.Errorf("actorstore: replacing the trapped wasm guest: %w", err)
	}
	d.recovery.Duration = time.Since(start)
	s.eng.close(ctx)
	s.eng = eng
	s.feedGen.Add(1)
	d.heals++
	return nil
}

// currentLog returns the log being written.
func (d *durable) currentLog(s *Store) *wal.Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	return d.log
}

// CheckpointError returns the error of the latest automatic checkpoint
// (the snapshots a durable store takes as its log grows), or nil when it
// succeeded or none failed. After a failure the store keeps working and
// logging, and tries again once the log has grown by SnapshotLogBytes.
func (s *Store) CheckpointError() error {
	if s.dur == nil {
		return nil
	}
	if p := s.dur.bgErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Recovered describes how Open rebuilt a durable store from its directory
// (or, after a wasm trap, how the store rebuilt itself); the zero Recovery
// for an in-memory store.
func (s *Store) Recovered() Recovery {
	if s.dur == nil {
		return Recovery{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.dur.recovery
	r.Heals = s.dur.heals
	return r
}

// close syncs the log and releases the directory, after any background
// snapshot has stopped.
func (d *durable) close() error {
	d.bg.Wait()
	err := d.log.Close()
	if e := d.dir.Close(); err == nil {
		err = e
	}
	return err
}
