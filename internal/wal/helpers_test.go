package wal

import (
	"bytes"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// mustOpen opens a Dir in a fresh temporary directory, closed at cleanup.
func mustOpen(t testing.TB) *Dir {
	t.Helper()
	return mustOpenAt(t, filepath.Join(t.TempDir(), "store"))
}

func mustOpenAt(t testing.TB, path string) *Dir {
	t.Helper()
	d, err := OpenDir(path)
	if err != nil {
		t.Fatalf("OpenDir(%s): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// encodeSegment returns a segment holding payloads, and each frame's offset.
func encodeSegment(first uint64, payloads ...[]byte) ([]byte, []int64) {
	b := appendHeader(nil, first)
	offs := make([]int64, len(payloads))
	for i, p := range payloads {
		offs[i] = int64(len(b))
		b = appendFrame(b, p, crc32.Checksum(p, castagnoli))
	}
	return b, offs
}

// payloads returns n distinct non-zero payloads of varied sizes.
func payloads(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 1+3*i)
	}
	return out
}

// writeSegment writes a segment file named for first into d.
func writeSegment(t testing.TB, d *Dir, first uint64, data []byte) string {
	t.Helper()
	p := filepath.Join(d.Path(), segName(first))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type record struct {
	payload []byte
	file    string
	off     int64
}

// replayAll replays d, keeping copies of the records.
func replayAll(d *Dir) ([]record, Recovery, error) {
	var out []record
	rec, err := d.Replay(func(p []byte, file string, off int64) error {
		out = append(out, record{bytes.Clone(p), file, off})
		return nil
	})
	return out, rec, err
}

func mustReplay(t testing.TB, d *Dir) ([]record, Recovery) {
	t.Helper()
	recs, rec, err := replayAll(d)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return recs, rec
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

var errInjected = errors.New("injected failure")

// testFile wraps a segment file: it counts writes and fsyncs, and can
// delay, block or fail them.
type testFile struct {
	segFile
	mu          sync.Mutex
	writes      int
	syncs       int
	written     int64 // bytes written after the header
	syncedBytes int64 // written as of the last successful fsync
	failWrite   bool
	failSync    bool
	syncDelay   time.Duration
	syncGate    chan struct{} // when set, Sync waits for it to close
}

func (f *testFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.failWrite {
		n, _ := f.segFile.Write(p[:len(p)/2]) // a partial write, as a full disk leaves
		f.written += int64(n)
		return n, errInjected
	}
	n, err := f.segFile.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *testFile) Sync() error {
	f.mu.Lock()
	f.syncs++
	fail, delay, gate, w := f.failSync, f.syncDelay, f.syncGate, f.written
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	time.Sleep(delay)
	if fail {
		return errInjected
	}
	if err := f.segFile.Sync(); err != nil {
		return err
	}
	f.mu.Lock()
	f.syncedBytes = max(f.syncedBytes, w)
	f.mu.Unlock()
	return nil
}

func (f *testFile) stats() (writes, syncs int, written, synced int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.syncs, f.written, f.syncedBytes
}

func (f *testFile) set(fn func(f *testFile)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// wrapFiles makes d's Logs write through testFiles, returned in order of
// creation by the function it returns.
func wrapFiles(d *Dir, setup func(*testFile)) func() []*testFile {
	var mu sync.Mutex
	var files []*testFile
	d.wrap = func(f segFile) segFile {
		tf := &testFile{segFile: f}
		if setup != nil {
			setup(tf)
		}
		mu.Lock()
		files = append(files, tf)
		mu.Unlock()
		return tf
	}
	return func() []*testFile {
		mu.Lock()
		defer mu.Unlock()
		return append([]*testFile(nil), files...)
	}
}

func mustOpenLog(t testing.TB, d *Dir, first uint64, o Options) *Log {
	t.Helper()
	l, err := d.OpenLog(first, o)
	if err != nil {
		t.Fatalf("OpenLog(%d, %+v): %v", first, o, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendWait(t testing.TB, l *Log, p []byte) {
	t.Helper()
	if err := l.Wait(l.Append(p)); err != nil {
		t.Fatalf("Append+Wait: %v", err)
	}
}

func checkPayloads(t testing.TB, got []record, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].payload, want[i]) {
			t.Fatalf("record %d = %q, want %q", i, got[i].payload, want[i])
		}
	}
}

func asCorrupt(t testing.TB, err error) *CorruptError {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want a *CorruptError", err)
	}
	return ce
}

func le32(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
