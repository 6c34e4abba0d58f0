package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/actorstore/actorstore/internal/atomicfile"
)

const (
	markerName    = "ACTORSTORE"
	markerContent = "actorstore dir v1\n"
	lockName      = "LOCK"
	tmpSuffix     = ".tmp"
)

// File is a log segment or a snapshot file.
type File struct {
	Path string // full path
	Seq  uint64 // a segment's first sequence, a snapshot's sequence
}

// Dir is an open Actor Store directory. It holds the directory's lock
// until Close. Its methods are safe for concurrent use, but Replay, OpenLog
// and RemoveBefore are meant to be called by one owner in turn.
type Dir struct {
	path  string
	lockf *os.File

	mu       sync.Mutex
	log      *Log // the open log, if any
	closed   bool
	closeErr error

	// wrap, when set (by tests), wraps every segment file a Log writes.
	wrap func(segFile) segFile
}

// OpenDir opens the Actor Store directory at path, creating it (and its
// parents) when missing. An empty directory is initialised with the
// ACTORSTORE marker; leftover temporary files from an interrupted snapshot
// are removed.
//
// # Errors
//
// An error wrapping ErrLocked when another Dir, in this process or another,
// holds path; a *ForeignDirError when path holds files but no marker; a
// *FormatError when the marker names another format.
func OpenDir(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("actorstore: empty directory path")
	}
	if err := mkdirAll(path); err != nil {
		return nil, fmt.Errorf("actorstore: create directory: %w", err)
	}
	// Look before creating LOCK: a foreign directory is left untouched.
	if _, err := checkMarker(path); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(filepath.Join(path, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("actorstore: open lock file: %w", err)
	}
	if err := lockFile(lf, path); err != nil {
		lf.Close()
		if !errors.Is(err, ErrLocked) {
			err = fmt.Errorf("actorstore: lock %s: %w", path, err)
		}
		return nil, err
	}
	d := &Dir{path: path, lockf: lf}
	if err := d.init(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// init writes the marker if needed and removes leftover temporary files;
// called with the lock held.
func (d *Dir) init() error {
	ok, err := checkMarker(d.path) // again: another process may have won the race
	if err != nil {
		return err
	}
	if !ok {
		if err := writeFileAtomic(filepath.Join(d.path, markerName), []byte(markerContent)); err != nil {
			return fmt.Errorf("actorstore: write marker: %w", err)
		}
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return err
	}
	removed := false
	for _, e := range entries {
		if isTemp(e.Name()) {
			if err := os.Remove(filepath.Join(d.path, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("actorstore: remove leftover: %w", err)
			}
			removed = true
		}
	}
	if removed {
		if err := syncDir(d.path); err != nil {
			return err
		}
	}
	return d.finishRestore(entries) // the temporary files removed are not restore files
}

func isTemp(name string) bool {
	if name == markerName+tmpSuffix {
		return true
	}
	base := strings.TrimSuffix(name, tmpSuffix)
	_, snap := parseName(base, "snap-", ".snap")
	_, restore := parseName(base, "restore-", ".snap")
	return (snap || restore) && strings.HasSuffix(name, tmpSuffix)
}

// checkMarker reports whether path holds a valid marker; an error when the
// marker is wrong or path holds foreign files and no marker. LOCK and a
// temporary marker (an interrupted initialisation) count as empty.
func checkMarker(path string) (bool, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return false, fmt.Errorf("actorstore: read directory: %w", err)
	}
	foreign := ""
	for _, e := range entries {
		switch e.Name() {
		case markerName:
			b, err := readHead(filepath.Join(path, markerName), 64)
			if err != nil {
				return false, fmt.Errorf("actorstore: read marker: %w", err)
			}
			if string(b) != markerContent {
				return false, &FormatError{Dir: path, Marker: string(b)}
			}
			return true, nil
		case lockName, markerName + tmpSuffix:
		default:
			if foreign == "" {
				foreign = e.Name()
			}
		}
	}
	if foreign != "" {
		return false, &ForeignDirError{Dir: path, Entry: foreign}
	}
	return false, nil
}

// readHead reads at most n bytes of a file.
func readHead(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// mkdirAll creates path and its missing parents, fsyncing the directory
// that holds each one created.
func mkdirAll(path string) error {
	var missing []string
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if len(missing) == 0 {
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", path)
		}
		return nil
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := syncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes path through path.tmp, fsync, rename, fsync dir.
func writeFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic writes path through path.tmp: write, flush, fsync, rename,
// fsync the directory. On failure path.tmp is removed and path is not
// touched. Errors from write are returned as they are.
func writeAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, path+tmpSuffix, func(f *os.File) error {
		bw := bufio.NewWriterSize(&syncEvery{f: f}, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// syncDir fsyncs a directory, making entries created, renamed or removed
// in it durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// syncEvery fsyncs its file every syncStep bytes written. A snapshot of a
// big store is hundreds of megabytes: fsynced only at its end, the kernel
// would write it all back at once and the log's fsyncs would queue behind
// it, stalling every durable write for as long.
type syncEvery struct {
	f       *os.File
	pending int
}

// syncStep is how many bytes syncEvery writes between fsyncs.
const syncStep = 8 << 20

func (s *syncEvery) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.pending += n
	if err == nil && s.pending >= syncStep {
		s.pending = 0
		err = s.f.Sync()
	}
	return n, err
}

// Path returns the directory's path as given to OpenDir.
func (d *Dir) Path() string { return d.path }

// Close closes the open Log, if any, and releases the lock. It is safe to
// call more than once; later calls return the first one's result.
func (d *Dir) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return d.closeErr
	}
	d.closed = true
	l := d.log
	d.mu.Unlock()
	var err error
	if l != nil {
		err = l.Close()
	}
	unlockFile(d.lockf, d.path)
	if cerr := d.lockf.Close(); err == nil {
		err = cerr
	}
	d.mu.Lock()
	d.closeErr = err
	d.mu.Unlock()
	return err
}

func (d *Dir) check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	return nil
}

// list returns the files named prefix + 20 digits + suffix, by sequence
// ascending.
func (d *Dir) list(prefix, suffix string) ([]File, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return listFiles(d.path, prefix, suffix)
}

func listFiles(dir, prefix, suffix string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("actorstore: read directory: %w", err)
	}
	var out []File
	for _, e := range entries {
		if seq, ok := parseName(e.Name(), prefix, suffix); ok {
			out = append(out, File{Path: filepath.Join(dir, e.Name()), Seq: seq})
		}
	}
	slices.SortFunc(out, func(a, b File) int { return cmpSeq(a.Seq, b.Seq) })
	return out, nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Segments returns the log segments, by first sequence ascending.
func (d *Dir) Segments() ([]File, error) { return d.list("wal-", ".log") }

// Snapshots returns the snapshot files, newest (highest sequence) first.
func (d *Dir) Snapshots() ([]File, error) {
	s, err := d.list("snap-", ".snap")
	slices.Reverse(s)
	return s, err
}

// WriteSnapshot writes snap-<seq>.snap atomically: write gets a buffered
// writer on a temporary file, which is then flushed, fsynced and renamed,
// and the directory fsynced. When write or any step fails nothing is left
// behind (an existing snapshot of that sequence stays as it was); errors
// from write are returned as they are.
func (d *Dir) WriteSnapshot(seq uint64, write func(io.Writer) error) (File, error) {
	if err := d.check(); err != nil {
		return File{}, err
	}
	path := filepath.Join(d.path, snapName(seq))
	var werr error
	err := writeAtomic(path, func(w io.Writer) error {
		werr = write(w)
		return werr
	})
	if err != nil {
		if err != werr {
			err = fmt.Errorf("actorstore: write snapshot %s: %w", path, err)
		}
		return File{}, err
	}
	return File{Path: path, Seq: seq}, nil
}

// RemoveBefore deletes the log segments whose records all have sequences
// below seq (segment i covers its first sequence up to the next segment's
// first minus one; the last segment and the open Log's segment are always
// kept) and every snapshot but the newest two, then fsyncs the directory.
func (d *Dir) RemoveBefore(seq uint64) error {
	segs, err := d.Segments()
	if err != nil {
		return err
	}
	snaps, err := d.Snapshots()
	if err != nil {
		return err
	}
	cur := d.currentSegment()
	var doomed []string
	for i := 0; i+1 < len(segs); i++ {
		if segs[i+1].Seq <= seq && segs[i].Path != cur {
			doomed = append(doomed, segs[i].Path)
		}
	}
	for i := 2; i < len(snaps); i++ {
		doomed = append(doomed, snaps[i].Path)
	}
	if len(doomed) == 0 {
		return nil
	}
	var first error
	for _, p := range doomed {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = fmt.Errorf("actorstore: remove: %w", err)
		}
	}
	if err := syncDir(d.path); err != nil && first == nil {
		first = fmt.Errorf("actorstore: sync directory: %w", err)
	}
	return first
}

// currentSegment returns the path of the open Log's segment, or "".
func (d *Dir) currentSegment() string {
	d.mu.Lock()
	l := d.log
	d.mu.Unlock()
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path
}

func lockedError(dir string) error {
	return fmt.Errorf("%w: %s is held by another Store or process", ErrLocked, dir)
}
