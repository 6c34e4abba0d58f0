package cluster

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/types"

	"github.com/actorstore/actorstore/host"
)

// syncFS is raft-wal's file system with the node's fsync policy
// (Options.Sync). raft-wal fsyncs its segment after every append; with
// host.SyncAlways that is what happens, and an entry is on the disk of
// each node that acknowledged it. With host.SyncInterval a segment's
// Sync only marks it dirty and a ticker fsyncs dirty segments every
// interval; with host.SyncNever a segment is fsynced only when the node
// closes it. Either way an acknowledged write is in the page cache of a
// majority: it survives the crash of any minority of processes, and is
// lost only if a majority of machines lose power within the interval.
type syncFS struct {
	types.VFS
	policy host.SyncPolicy

	mu    sync.Mutex
	files map[*syncFile]struct{}
	stop  chan struct{}
	done  chan struct{}
}

func newSyncFS(policy host.SyncPolicy, interval time.Duration) *syncFS {
	s := &syncFS{VFS: fs.New(), policy: policy, files: map[*syncFile]struct{}{}}
	if policy == host.SyncInterval {
		if interval <= 0 {
			interval = 100 * time.Millisecond
		}
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.loop(interval)
	}
	return s
}

func (s *syncFS) loop(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			fs := slices.Collect(maps.Keys(s.files))
			s.mu.Unlock()
			for _, f := range fs {
				f.flush()
			}
		}
	}
}

// Close stops the interval ticker (files are fsynced as they close).
func (s *syncFS) Close() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
}

func (s *syncFS) wrap(f types.WritableFile, err error) (types.WritableFile, error) {
	if err != nil || s.policy == host.SyncAlways {
		return f, err
	}
	sf := &syncFile{WritableFile: f, fs: s}
	s.mu.Lock()
	s.files[sf] = struct{}{}
	s.mu.Unlock()
	return sf, nil
}

func (s *syncFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	return s.wrap(s.VFS.Create(dir, name, size))
}

func (s *syncFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	return s.wrap(s.VFS.OpenWriter(dir, name))
}

// syncFile defers a segment's fsyncs to its syncFS's policy.
type syncFile struct {
	types.WritableFile
	fs *syncFS

	mu    sync.Mutex
	dirty bool
}

func (f *syncFile) Sync() error {
	f.mu.Lock()
	f.dirty = true
	f.mu.Unlock()
	return nil
}

func (f *syncFile) flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dirty {
		return nil
	}
	f.dirty = false
	return f.WritableFile.Sync()
}

func (f *syncFile) Close() error {
	f.fs.mu.Lock()
	delete(f.fs.files, f)
	f.fs.mu.Unlock()
	f.mu.Lock()
	f.dirty = true
	f.mu.Unlock()
	err := f.flush()
	if cerr := f.WritableFile.Close(); err == nil {
		err = cerr
	}
	return err
}
