package wal

import (
	"errors"
	"fmt"
	"path/filepath"
)

var (
	// ErrLocked is returned by OpenDir when another Store, in this process
	// or another one, holds the directory.
	ErrLocked = errors.New("actorstore: directory locked")
	// ErrCorrupt is what every *CorruptError matches with errors.Is:
	// persisted data is damaged in a way a crash cannot explain.
	ErrCorrupt = errors.New("actorstore: corrupt data")
	// ErrClosed is returned by Dir and Log methods called after Close, and
	// by Wait for a record appended after the Log's Close.
	ErrClosed = errors.New("actorstore: closed")
)

// CorruptError reports damage that is not a torn tail, in a log segment
// or a snapshot file.
type CorruptError struct {
	File   string // full path of the segment or snapshot
	Offset int64  // offset of the damaged header or frame; -1 when not at one place
	Reason string // what is wrong, such as "bad checksum"
}

// Error returns "actorstore: corrupt KIND FILE at offset N: REASON", KIND
// being "log" or "snapshot" after File's extension; without " at offset
// N" when Offset is negative.
func (e *CorruptError) Error() string {
	kind := "file"
	switch filepath.Ext(e.File) {
	case ".log":
		kind = "log"
	case ".snap":
		kind = "snapshot"
	}
	if e.Offset < 0 {
		return fmt.Sprintf("actorstore: corrupt %s %s: %s", kind, e.File, e.Reason)
	}
	return fmt.Sprintf("actorstore: corrupt %s %s at offset %d: %s", kind, e.File, e.Offset, e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// ForeignDirError is returned by OpenDir for a non-empty directory without
// the ACTORSTORE marker: it was not made by Actor Store, and is left alone.
type ForeignDirError struct {
	Dir   string // the directory
	Entry string // one entry found in it
}

// Error names the directory and the entry.
func (e *ForeignDirError) Error() string {
	return fmt.Sprintf("actorstore: %s is not an Actor Store directory: it holds %q but no %s marker", e.Dir, e.Entry, markerName)
}

// FormatError is returned by OpenDir when the ACTORSTORE marker holds
// something other than the format this version writes.
type FormatError struct {
	Dir    string // the directory
	Marker string // the marker's content (at most 64 bytes of it)
}

// Error names the directory and what its marker says.
func (e *FormatError) Error() string {
	return fmt.Sprintf("actorstore: %s: unsupported directory format %q (want %q)", e.Dir, e.Marker, markerContent)
}
