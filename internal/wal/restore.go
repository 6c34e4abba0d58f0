package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// restoreName is the file a restore commits through: a snapshot that
// replaces the directory's whole history.
func restoreName(seq uint64) string { return fmt.Sprintf("restore-%020d.snap", seq) }

// ReplaceAll makes a restored state the directory's whole history: write
// gets a buffered writer for its snapshot (of sequence seq), which is
// written to restore-<seq>.snap atomically; that rename is the commit
// point. Then every log segment and snapshot is removed and the file
// becomes snap-<seq>.snap. A crash before the commit leaves the old
// history; a crash after it is rolled forward by the next OpenDir. The
// Log must be closed first; open a new one at seq+1 afterwards.
func (d *Dir) ReplaceAll(seq uint64, write func(io.Writer) error) error {
	if err := d.check(); err != nil {
		return err
	}
	d.mu.Lock()
	open := d.log != nil
	d.mu.Unlock()
	if open {
		return errors.New("actorstore: ReplaceAll with a log open")
	}
	path := filepath.Join(d.path, restoreName(seq))
	var werr error
	if err := writeAtomic(path, func(w io.Writer) error { werr = write(w); return werr }); err != nil {
		if err != werr {
			err = fmt.Errorf("actorstore: write restored snapshot %s: %w", path, err)
		}
		return err
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return err
	}
	return d.finishRestore(entries)
}

// finishRestore rolls a committed restore forward: with a restore file
// present, the history it replaces is deleted and it becomes a snapshot.
// With several (a crash between two restores' commits cannot leave two,
// but be strict), the one written last by sequence order is not knowable:
// that is corruption.
// entries is the directory's listing.
func (d *Dir) finishRestore(entries []os.DirEntry) error {
	var restore string
	var seq uint64
	for _, e := range entries {
		if s, ok := parseName(e.Name(), "restore-", ".snap"); ok {
			if restore != "" {
				return &CorruptError{File: filepath.Join(d.path, e.Name()), Offset: -1,
					Reason: "two committed restores (" + restore + ")"}
			}
			restore, seq = e.Name(), s
		}
	}
	if restore == "" {
		return nil
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "wal-") && strings.HasSuffix(n, ".log") ||
			strings.HasPrefix(n, "snap-") && strings.HasSuffix(n, ".snap") {
			if err := os.Remove(filepath.Join(d.path, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("actorstore: finish restore: %w", err)
			}
		}
	}
	if err := syncDir(d.path); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(d.path, restore), filepath.Join(d.path, snapName(seq))); err != nil {
		return fmt.Errorf("actorstore: finish restore: %w", err)
	}
	return syncDir(d.path)
}
