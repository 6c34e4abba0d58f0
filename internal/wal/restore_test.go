package wal

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceAll: a committed restore replaces every segment and snapshot;
// one interrupted before its commit changes nothing; one interrupted after
// it is finished by the next OpenDir.
func TestReplaceAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	d, err := OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []uint64{1, 10, 20} {
		writeSegment(t, d, s, appendHeader(nil, s))
	}
	if _, err := d.WriteSnapshot(15, func(w io.Writer) error { _, err := w.Write([]byte("old")); return err }); err != nil {
		t.Fatal(err)
	}
	l := mustOpenLog(t, d, 30, Options{})
	if err := d.ReplaceAll(5, func(io.Writer) error { return nil }); err == nil {
		t.Fatal("ReplaceAll with a log open")
	}
	l.Close()

	// A failing write leaves the history as it was.
	if err := d.ReplaceAll(5, func(io.Writer) error { return errors.New("boom") }); err == nil {
		t.Fatal("a failed write committed")
	}
	checkSeqs(t, d.Segments, 1, 10, 20, 30)
	checkSeqs(t, d.Snapshots, 15)
	checkNoTemp(t, path)

	if err := d.ReplaceAll(5, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, d.Segments)
	checkSeqs(t, d.Snapshots, 5)
	if b, _ := os.ReadFile(filepath.Join(path, snapName(5))); string(b) != "new" {
		t.Fatalf("snapshot holds %q", b)
	}
	d.Close()

	// A crash after the commit, before the clean-up: OpenDir finishes it.
	for _, s := range []uint64{6, 9} {
		os.WriteFile(filepath.Join(path, segName(s)), appendHeader(nil, s), 0o644)
	}
	os.WriteFile(filepath.Join(path, snapName(8)), []byte("stale"), 0o644)
	os.WriteFile(filepath.Join(path, restoreName(3)), []byte("restored"), 0o644)
	os.WriteFile(filepath.Join(path, restoreName(4)+tmpSuffix), []byte("uncommitted"), 0o644)
	d = mustOpenAt(t, path)
	checkSeqs(t, d.Segments)
	checkSeqs(t, d.Snapshots, 3)
	checkNoTemp(t, path)
	if b, _ := os.ReadFile(filepath.Join(path, snapName(3))); string(b) != "restored" {
		t.Fatalf("snapshot holds %q", b)
	}
}
