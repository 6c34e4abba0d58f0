package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenDirCreatesAndMarks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "store")
	d := mustOpenAt(t, path)
	b, err := os.ReadFile(filepath.Join(path, markerName))
	if err != nil || string(b) != "actorstore dir v1\n" {
		t.Fatalf("marker = %q, %v", b, err)
	}
	if d.Path() != path {
		t.Fatalf("Path() = %q", d.Path())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening a marked directory holding our files works.
	d2 := mustOpenAt(t, path)
	writeSegment(t, d2, 1, appendHeader(nil, 1))
	d2.Close()
	mustOpenAt(t, path)
}

func TestOpenDirEmptyExisting(t *testing.T) {
	path := t.TempDir()
	mustOpenAt(t, path)
	if _, err := os.Stat(filepath.Join(path, markerName)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDirInterruptedInit(t *testing.T) {
	path := t.TempDir()
	os.WriteFile(filepath.Join(path, lockName), nil, 0o644)
	os.WriteFile(filepath.Join(path, markerName+tmpSuffix), []byte("actor"), 0o644)
	mustOpenAt(t, path)
	if _, err := os.Stat(filepath.Join(path, markerName+tmpSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover marker.tmp: %v", err)
	}
}

func TestOpenDirForeign(t *testing.T) {
	path := t.TempDir()
	os.WriteFile(filepath.Join(path, "notes.txt"), []byte("mine"), 0o644)
	_, err := OpenDir(path)
	var fe *ForeignDirError
	if !errors.As(err, &fe) || fe.Dir != path || fe.Entry != "notes.txt" || !strings.Contains(err.Error(), path) {
		t.Fatalf("OpenDir(foreign) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(path, lockName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("OpenDir left a LOCK file in a foreign directory")
	}
	if f, err := os.Create(filepath.Join(t.TempDir(), "file")); err == nil {
		f.Close()
		if _, err := OpenDir(f.Name()); err == nil {
			t.Fatal("OpenDir on a regular file succeeded")
		}
	}
}

func TestOpenDirMarkerMismatch(t *testing.T) {
	for _, m := range []string{"actorstore dir v2\n", "", "actorstore dir v1"} {
		path := t.TempDir()
		os.WriteFile(filepath.Join(path, markerName), []byte(m), 0o644)
		_, err := OpenDir(path)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Marker != m || !strings.Contains(err.Error(), "unsupported") {
			t.Fatalf("marker %q: OpenDir = %v", m, err)
		}
	}
}

func TestLockSameProcess(t *testing.T) {
	path := t.TempDir()
	d := mustOpenAt(t, path)
	_, err := OpenDir(path)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second OpenDir = %v, want ErrLocked naming %s", err, path)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	mustOpenAt(t, path)
}

const lockChildEnv = "ACTORSTORE_WAL_LOCK_CHILD"

// TestLockChild is the child process of TestLockOtherProcess.
func TestLockChild(t *testing.T) {
	path := os.Getenv(lockChildEnv)
	if path == "" {
		t.Skip("only run by TestLockOtherProcess")
	}
	d, err := OpenDir(path)
	switch {
	case errors.Is(err, ErrLocked):
		fmt.Println("RESULT locked")
	case err != nil:
		fmt.Println("RESULT error", err)
	default:
		d.Close()
		fmt.Println("RESULT opened")
	}
}

func TestLockOtherProcess(t *testing.T) {
	path := t.TempDir()
	child := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.v")
		cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if r, ok := strings.CutPrefix(line, "RESULT "); ok {
				return r
			}
		}
		t.Fatalf("child said nothing:\n%s", out)
		return ""
	}
	d := mustOpenAt(t, path)
	if r := child(); r != "locked" {
		t.Fatalf("child while held: %s, want locked", r)
	}
	d.Close()
	if r := child(); r != "opened" {
		t.Fatalf("child after Close: %s, want opened", r)
	}
}

func TestWriteSnapshot(t *testing.T) {
	d := mustOpen(t)
	for _, seq := range []uint64{7, 30, 12} {
		f, err := d.WriteSnapshot(seq, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "snapshot %d", seq)
			return err
		})
		if err != nil || f.Seq != seq || f.Path != filepath.Join(d.Path(), snapName(seq)) {
			t.Fatalf("WriteSnapshot(%d) = %+v, %v", seq, f, err)
		}
	}
	snaps, err := d.Snapshots()
	if err != nil || len(snaps) != 3 || snaps[0].Seq != 30 || snaps[1].Seq != 12 || snaps[2].Seq != 7 {
		t.Fatalf("Snapshots() = %+v, %v; want 30, 12, 7", snaps, err)
	}
	if b, _ := os.ReadFile(snaps[1].Path); string(b) != "snapshot 12" {
		t.Fatalf("snapshot 12 holds %q", b)
	}
	checkNoTemp(t, d.Path())
}

func TestWriteSnapshotFailure(t *testing.T) {
	d := mustOpen(t)
	boom := errors.New("boom")
	if _, err := d.WriteSnapshot(5, func(w io.Writer) error { _, err := w.Write([]byte("old")); return err }); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{5, 6} {
		_, err := d.WriteSnapshot(seq, func(w io.Writer) error {
			w.Write(make([]byte, 3<<20)) // past the buffer: the temporary file has data
			return boom
		})
		if err != boom {
			t.Fatalf("WriteSnapshot(%d) = %v, want the write function's error", seq, err)
		}
	}
	snaps, _ := d.Snapshots()
	if len(snaps) != 1 || snaps[0].Seq != 5 {
		t.Fatalf("after failed writes: %+v", snaps)
	}
	if b, _ := os.ReadFile(snaps[0].Path); string(b) != "old" {
		t.Fatalf("snapshot 5 changed to %d bytes", len(b))
	}
	checkNoTemp(t, d.Path())
}

func TestLeftoverTempRemoved(t *testing.T) {
	path := t.TempDir()
	d := mustOpenAt(t, path)
	tmp := filepath.Join(path, snapName(9)+tmpSuffix)
	os.WriteFile(tmp, []byte("half"), 0o644)
	d.Close()
	mustOpenAt(t, path)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover %s: %v", tmp, err)
	}
}

func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), tmpSuffix) {
			t.Fatalf("temporary file %s left", e.Name())
		}
	}
}

func TestRemoveBefore(t *testing.T) {
	d := mustOpen(t)
	for _, s := range []uint64{1, 10, 20} {
		writeSegment(t, d, s, appendHeader(nil, s))
	}
	for _, s := range []uint64{5, 15, 25} {
		if _, err := d.WriteSnapshot(s, func(io.Writer) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	l := mustOpenLog(t, d, 30, Options{})
	if err := d.RemoveBefore(15); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, d.Segments, 10, 20, 30) // segment 1 covers 1..9
	checkSeqs(t, d.Snapshots, 25, 15)
	if err := d.RemoveBefore(1000); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, d.Segments, 30)
	l.Close()
	// Never the current segment, even when it is not the last.
	d2 := mustOpen(t)
	l2 := mustOpenLog(t, d2, 1, Options{})
	writeSegment(t, d2, 50, appendHeader(nil, 50))
	d2.RemoveBefore(100)
	checkSeqs(t, d2.Segments, 1, 50)
	l2.Close()
}

func checkSeqs(t *testing.T, list func() ([]File, error), want ...uint64) {
	t.Helper()
	files, err := list()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, f := range files {
		got = append(got, f.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("files %v, want %v", got, want)
	}
}

func TestClosedDir(t *testing.T) {
	d := mustOpen(t)
	l := mustOpenLog(t, d, 1, Options{})
	ticket := l.Append([]byte("x"))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(ticket); err != nil {
		t.Fatalf("record appended before Dir.Close: %v", err)
	}
	if err := l.Wait(l.Append([]byte("y"))); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
	if _, err := d.Segments(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Segments after Close = %v", err)
	}
	if _, err := d.OpenLog(2, Options{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("OpenLog after Close = %v", err)
	}
}
