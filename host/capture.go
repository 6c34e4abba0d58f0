package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// CapturedSnapshot is the store's state at the moment CaptureSnapshot
// returned, held copy-on-write until it is streamed with WriteTo and
// released with Close. Writes go on meanwhile; a replicated store takes
// its log snapshots this way, capturing on its apply path and streaming
// elsewhere.
type CapturedSnapshot struct {
	s    *Store
	once sync.Once
	used bool
}

// CaptureSnapshot starts a snapshot of the store's state now. Stream it
// with WriteTo (once) and release it with Close; until Close, other
// snapshots and restores of the store wait.
func (s *Store) CaptureSnapshot(ctx context.Context) (*CapturedSnapshot, error) {
	s.snapMu.Lock()
	if err := s.lock(ctx); err != nil {
		s.snapMu.Unlock()
		return nil, err
	}
	_, cerr := s.eng.snapshotBegin()
	s.mu.Unlock()
	if cerr != nil {
		s.snapMu.Unlock()
		return nil, mapError(cerr)
	}
	return &CapturedSnapshot{s: s}, nil
}

// WriteTo writes the captured state to w as a portable snapshot stream,
// the bytes Snapshot writes.
func (c *CapturedSnapshot) WriteTo(w io.Writer) (int64, error) {
	if c.used {
		return 0, errors.New("actorstore: snapshot: already written")
	}
	c.used = true
	cw := &countingWriter{w: w}
	if err := c.s.pumpSnapshot(context.Background(), cw, true); err != nil {
		return cw.n, fmt.Errorf("actorstore: snapshot: %w", err)
	}
	return cw.n, nil
}

// Close releases the snapshot. It is safe to call more than once.
func (c *CapturedSnapshot) Close() error {
	c.once.Do(func() {
		s := c.s
		s.mu.Lock()
		if !s.closed {
			s.eng.snapshotEnd()
		}
		s.mu.Unlock()
		s.snapMu.Unlock()
	})
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
