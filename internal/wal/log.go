package wal

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SyncPolicy says when Log.Wait reports a record durable.
type SyncPolicy int

const (
	// SyncAlways (the default): Wait returns once the record is written
	// and fsynced. Concurrent waiters share fsyncs (group commit).
	SyncAlways SyncPolicy = iota
	// SyncInterval: Wait returns once the record is written to the OS (a
	// process crash loses nothing, a power loss up to Interval); a
	// background goroutine fsyncs every Interval when anything was written.
	SyncInterval
	// SyncNever: Wait returns once the record is written to the OS; the
	// log is fsynced only by Sync, Rotate and Close.
	SyncNever
)

// String returns "always", "interval" or "never".
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// DefaultInterval is the fsync interval of SyncInterval when
// Options.Interval is zero.
const DefaultInterval = 100 * time.Millisecond

// Options configure a Log.
type Options struct {
	// Sync is the sync policy; SyncAlways by default.
	Sync SyncPolicy
	// Interval is how often SyncInterval fsyncs; DefaultInterval when 0.
	Interval time.Duration
}

// segFile is what a Log writes to: an *os.File, or a wrapper in tests.
type segFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// maxSpare is the largest buffer kept for reuse after a flush.
const maxSpare = 4 << 20

// Log appends records to the current segment. Append never blocks on I/O:
// it frames the record into a memory buffer. Wait makes records durable:
// the first waiter to find no write in progress becomes the leader, takes
// the whole buffer (the two buffers swap), writes it with one write call,
// fsyncs under SyncAlways and wakes everyone; waiters that arrived
// meanwhile ride the next round.
//
// A failed write or fsync is sticky: the segment may now end in a partial
// frame, and an fsync error may have dropped dirty pages, so the Log never
// writes again and every later Wait, Sync and Rotate returns the error.
type Log struct {
	d        *Dir
	policy   SyncPolicy
	stop     chan struct{} // closed by Close to stop the interval goroutine
	done     chan struct{} // closed when it has stopped
	closeMu  sync.Mutex
	isClosed bool
	closeErr error

	mu       sync.Mutex
	cond     sync.Cond // on mu; broadcast whenever a flush ends or the Log fails
	f        segFile   // nil once closed
	path     string
	first    uint64
	size     int64  // segment bytes, appended ones included
	buf      []byte // framed records not yet written
	spare    []byte // the other buffer, while not being written
	appended uint64 // tickets issued
	written  uint64 // tickets written to the OS
	synced   uint64 // tickets fsynced
	flushing bool   // a leader is writing (and maybe fsyncing); one at a time
	syncing  bool   // the interval goroutine is fsyncing outside the leader role
	dirty    bool   // written since the last fsync
	err      error  // sticky
}

// OpenLog starts a new segment wal-<firstSeq>.log (fsynced, and the
// directory fsynced) and returns a Log appending to it. firstSeq is the
// sequence of the first record the Log will hold. An existing segment of
// that name is replaced if it holds no record; a segment with records, or
// one with a higher first sequence, is an error. One Log at a time may be
// open on a Dir.
func (d *Dir) OpenLog(firstSeq uint64, o Options) (*Log, error) {
	if o.Sync < SyncAlways || o.Sync > SyncNever {
		return nil, fmt.Errorf("actorstore: unknown sync policy %d", int(o.Sync))
	}
	if o.Interval < 0 {
		return nil, fmt.Errorf("actorstore: negative sync interval %v", o.Interval)
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if d.log != nil {
		return nil, fmt.Errorf("actorstore: a log is already open on %s", d.path)
	}
	segs, err := listFiles(d.path, "wal-", ".log")
	if err != nil {
		return nil, err
	}
	if n := len(segs); n > 0 && segs[n-1].Seq > firstSeq {
		return nil, fmt.Errorf("actorstore: cannot start a log at sequence %d: %s starts later", firstSeq, segs[n-1].Path)
	}
	f, err := createSegment(d.path, firstSeq)
	if err != nil {
		return nil, err
	}
	l := &Log{d: d, policy: o.Sync, f: f, path: f.Name(), first: firstSeq, size: segHeaderLen}
	if d.wrap != nil {
		l.f = d.wrap(f)
	}
	l.cond.L = &l.mu
	if o.Sync == SyncInterval {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.syncLoop(o.Interval)
	}
	d.log = l
	return l, nil
}

// Append frames payload into the memory buffer and returns its ticket for
// Wait. It never blocks on I/O. Callers append in log order (the host
// holds its own lock around it). Errors, including a payload over
// MaxPayload (which fails the Log: a record missing from the log cannot be
// skipped), surface at Wait.
func (l *Log) Append(payload []byte) uint64 {
	sum := crc32.Checksum(payload, castagnoli)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appended++
	switch {
	case l.err != nil:
	case len(payload) > MaxPayload:
		l.fail(fmt.Errorf("actorstore: log record of %d bytes exceeds the maximum %d", len(payload), MaxPayload))
	default:
		l.buf = appendFrame(l.buf, payload, sum)
		l.size += frameHdrLen + int64(len(payload))
	}
	return l.appended
}

// Wait returns once the record of ticket is durable as the sync policy
// says: written and fsynced under SyncAlways, written to the OS under
// SyncInterval and SyncNever.
//
// # Errors
//
// The Log's sticky error when it failed before the record was durable
// (it wraps the write or fsync error), ErrClosed for a record appended
// after Close. A record already durable when the Log later failed still
// waits successfully.
func (l *Log) Wait(ticket uint64) error {
	return l.wait(ticket, l.policy == SyncAlways)
}

// Sync writes and fsyncs every record appended so far, whatever the
// policy.
func (l *Log) Sync() error {
	l.mu.Lock()
	t := l.appended
	l.mu.Unlock()
	return l.wait(t, true)
}

func (l *Log) wait(t uint64, sync bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t > l.appended {
		return fmt.Errorf("actorstore: log ticket %d was never issued", t)
	}
	for {
		switch {
		case l.synced >= t || !sync && l.written >= t:
			return nil
		case l.err != nil:
			return l.err
		case l.flushing:
			l.cond.Wait()
		default:
			l.flush(sync)
		}
	}
}

// flush makes the caller the leader: it takes the whole buffer, writes it
// with one call, fsyncs when sync is set, and wakes every waiter. Called
// with l.mu held, no flush in progress and no sticky error; returns with
// l.mu held.
func (l *Log) flush(sync bool) {
	l.flushing = true
	buf, upto, f := l.buf, l.appended, l.f
	l.buf, l.spare = l.spare[:0], nil
	l.mu.Unlock()

	var err error
	if len(buf) > 0 {
		if _, err = f.Write(buf); err != nil {
			err = fmt.Errorf("actorstore: write log %s: %w", l.path, err)
		}
	}
	if err == nil && sync {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("actorstore: fsync log %s: %w", l.path, err)
		}
	}

	l.mu.Lock()
	l.flushing = false
	if cap(buf) <= maxSpare {
		l.spare = buf[:0]
	}
	if err != nil {
		l.fail(err)
		return
	}
	l.written = upto
	if sync {
		l.synced, l.dirty = max(l.synced, upto), false
	} else if len(buf) > 0 {
		l.dirty = true
	}
	l.cond.Broadcast()
}

// fail records the first error and wakes every waiter. Called with l.mu
// held.
func (l *Log) fail(err error) {
	if l.err == nil {
		l.err = err
	}
	l.cond.Broadcast()
}

// syncLoop fsyncs every interval when anything was written (SyncInterval).
// The fsync runs outside the leader role, so that writers keep writing.
func (l *Log) syncLoop(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		for l.flushing {
			l.cond.Wait()
		}
		if l.err == nil && len(l.buf) > 0 {
			l.flush(false)
		}
		if l.err == nil && l.dirty {
			f, upto := l.f, l.written
			l.dirty, l.syncing = false, true
			l.mu.Unlock()
			err := f.Sync()
			l.mu.Lock()
			l.syncing = false
			if err != nil {
				l.fail(fmt.Errorf("actorstore: fsync log %s: %w", l.path, err))
			} else {
				l.synced = max(l.synced, upto)
				l.cond.Broadcast()
			}
		}
		l.mu.Unlock()
	}
}

// Rotate writes and fsyncs everything appended to the current segment,
// closes it, and starts wal-<nextFirstSeq>.log (fsynced, directory
// fsynced). Call it while no Append can run (under the host's lock), with
// nextFirstSeq the sequence of the next record. A failure is sticky.
func (l *Log) Rotate(nextFirstSeq uint64) error {
	l.mu.Lock()
	for l.flushing || l.syncing {
		l.cond.Wait()
	}
	if l.err != nil {
		defer l.mu.Unlock()
		return l.err
	}
	if nextFirstSeq <= l.first {
		defer l.mu.Unlock()
		return fmt.Errorf("actorstore: rotate to sequence %d: the current segment starts at %d", nextFirstSeq, l.first)
	}
	l.flushing = true
	buf, upto, f, path := l.buf, l.appended, l.f, l.path
	l.buf, l.spare = l.spare[:0], nil
	l.mu.Unlock()

	var err error
	if len(buf) > 0 {
		_, err = f.Write(buf)
	}
	if err == nil {
		err = f.Sync()
	}
	closed := false
	if err == nil {
		err, closed = f.Close(), true
	}
	if err != nil {
		err = fmt.Errorf("actorstore: finish log %s: %w", path, err)
	}
	var nf segFile
	if err == nil {
		var of *os.File
		if of, err = createSegment(l.d.path, nextFirstSeq); err == nil {
			nf = of
			if l.d.wrap != nil {
				nf = l.d.wrap(of)
			}
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushing = false
	if cap(buf) <= maxSpare {
		l.spare = buf[:0]
	}
	if closed && nf == nil {
		l.f = nil
	}
	if err != nil {
		l.fail(err)
		return l.err
	}
	l.written, l.synced, l.dirty = upto, upto, false
	l.f, l.path, l.first = nf, filepath.Join(l.d.path, segName(nextFirstSeq)), nextFirstSeq
	l.size = segHeaderLen + int64(len(l.buf))
	l.cond.Broadcast()
	return nil
}

// Size returns the size of the current segment, counting records
// appended but not yet written.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Close syncs everything appended, stops the interval goroutine and closes
// the segment. Later Waits for records not durable by then, and Syncs and
// Rotates, return ErrClosed (or the sticky error). It is safe to call more
// than once; later calls return the first one's result.
func (l *Log) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.isClosed {
		return l.closeErr
	}
	l.isClosed = true
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
	err := l.Sync()
	l.mu.Lock()
	for l.flushing {
		l.cond.Wait()
	}
	if l.err == nil {
		l.err = ErrClosed
	}
	f := l.f
	l.f, l.buf, l.spare = nil, nil, nil
	l.cond.Broadcast()
	l.mu.Unlock()
	if f != nil {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("actorstore: close log: %w", cerr)
		}
	}
	l.d.mu.Lock()
	if l.d.log == l {
		l.d.log = nil
	}
	l.d.mu.Unlock()
	l.closeErr = err
	return err
}
