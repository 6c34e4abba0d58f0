package host

import (
	"errors"
	"fmt"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/wal"
)

// Errors of the arguments, returned by any method that takes them.
var (
	// ErrInvalidKey is returned when an actor type or id is empty, longer
	// than 256 (type) or 1024 (id) bytes, or not UTF-8.
	ErrInvalidKey = errors.New("actorstore: invalid key")
	// ErrInvalidValue is returned when a value cannot be encoded or is not
	// one well-formed CBOR data item.
	ErrInvalidValue = errors.New("actorstore: invalid value")
	// ErrValueTooLarge is returned when an encoded value exceeds
	// Options.MaxValueBytes.
	ErrValueTooLarge = errors.New("actorstore: value too large")
	// ErrInvalidArgument is returned for a malformed request: a negative
	// limit, options out of range, a request too large for the module, a
	// BatchOp not made by its constructors, a stream given to Restore that
	// is not a whole, valid snapshot.
	ErrInvalidArgument = errors.New("actorstore: invalid argument")
)

// Errors of writes, returned when the stored state refuses one.
var (
	// ErrAlreadyExists is returned by Insert when the actor exists.
	ErrAlreadyExists = errors.New("actorstore: already exists")
	// ErrNotFound is returned by Update and UpdateVersioned when the actor
	// does not exist.
	ErrNotFound = errors.New("actorstore: not found")
	// ErrVersionMismatch is returned by UpdateVersioned when the actor's
	// version is not the expected one; see VersionMismatchError.
	ErrVersionMismatch = errors.New("actorstore: version mismatch")
	// ErrStoreFull is returned when a write would take the data held past
	// Options.MaxDataBytes. Deletes and shrinking updates still work.
	ErrStoreFull = errors.New("actorstore: store full")
)

// Errors of the change feed, returned by Changes, Subscribe and
// Subscription.Next.
var (
	// ErrCompacted is returned when the requested events were evicted
	// from the replay buffer; see CompactedError.
	ErrCompacted = errors.New("actorstore: compacted")
	// ErrRestored is returned by Subscription.Next after Restore replaced
	// the store's state and history: subscribe again.
	ErrRestored = errors.New("actorstore: the store was restored from a snapshot")
)

// Errors of the store's life, returned by any method.
var (
	// ErrClosed is returned by every method after Close, and by
	// Subscription.Next after the subscription or its store was closed. A
	// durable store whose log failed closes itself: its calls then return
	// an error naming the failure that also matches ErrClosed.
	ErrClosed = errors.New("actorstore: closed")
	// ErrInternal is returned when the engine failed: a bug, never the
	// result of bad input. After a wasm trap an in-memory store is
	// unusable; a durable one rebuilds itself from its directory.
	ErrInternal = errors.New("actorstore: internal error")
)

// Errors of durable stores, returned by Open with Options.Dir (and by a
// durable store rebuilding itself after a wasm trap).
var (
	// ErrLocked is returned when another Store, in this process or
	// another, has Options.Dir open.
	ErrLocked = errors.New("actorstore: directory locked")
	// ErrCorrupt is returned when the directory's data is damaged other
	// than by a crash; see CorruptError.
	ErrCorrupt = errors.New("actorstore: corrupt data")
)

var sentinels = map[core.Code]error{
	core.InvalidKey: ErrInvalidKey, core.AlreadyExists: ErrAlreadyExists, core.NotFound: ErrNotFound,
	core.VersionMismatch: ErrVersionMismatch, core.Compacted: ErrCompacted, core.InvalidValue: ErrInvalidValue,
	core.ValueTooLarge: ErrValueTooLarge, core.Closed: ErrClosed, core.StoreFull: ErrStoreFull,
	core.InvalidArgument: ErrInvalidArgument, core.Internal: ErrInternal,
}

// VersionMismatchError is returned by UpdateVersioned (and batches holding
// one) when the stored version differs from the expected one. It matches
// ErrVersionMismatch with errors.Is.
type VersionMismatchError struct {
	Expected, Actual uint64
	msg              string
}

// Error returns the message, naming the actor and both versions.
func (e *VersionMismatchError) Error() string { return e.msg }

// Is reports whether target is ErrVersionMismatch.
func (e *VersionMismatchError) Is(target error) bool { return target == ErrVersionMismatch }

// CompactedError is returned when events from Requested on were evicted;
// Oldest is the oldest event still retained. It matches ErrCompacted.
type CompactedError struct {
	Requested, Oldest uint64
	msg               string
}

// Error returns the message, naming both sequence numbers.
func (e *CompactedError) Error() string { return e.msg }

// Is reports whether target is ErrCompacted.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// BatchError is returned by Batch when operation Index failed; Err is that
// operation's error. The store is unchanged.
type BatchError struct {
	Index int
	Err   error
}

// Error returns the failing operation's message, which names its index.
func (e *BatchError) Error() string { return e.Err.Error() }

// Unwrap returns the failing operation's error.
func (e *BatchError) Unwrap() error { return e.Err }

// CorruptError is returned by Open when a file of Options.Dir is damaged
// in a way a crash cannot explain: a bad checksum before the end of the
// log, a gap in the sequence, a log record that no longer applies, a
// snapshot that does not load and that the log cannot make up for. A torn
// final record, which a crash does leave, is not one: Open cuts it off and
// reports it in Recovery. It matches ErrCorrupt with errors.Is.
type CorruptError struct {
	// File is the path of the damaged log segment (wal-*.log) or snapshot
	// (snap-*.snap, restore-*.snap).
	File string
	// Offset is the byte offset of the damage in File: the start of the
	// damaged log record, or how far a snapshot was read. It is -1 when
	// the damage is not at one place, such as a snapshot's missing end.
	Offset int64
	// Reason says what is wrong, such as "bad checksum".
	Reason string
}

// Error returns the message, naming the kind of file, its path, the offset
// (when there is one) and the reason.
func (e *CorruptError) Error() string {
	return (&wal.CorruptError{File: e.File, Offset: e.Offset, Reason: e.Reason}).Error()
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// codeError is a sentinel with the engine's message.
type codeError struct {
	sentinel error
	msg      string
}

func (e *codeError) Error() string { return e.msg }
func (e *codeError) Unwrap() error { return e.sentinel }

// mapError turns an engine error into the host's error values.
func mapError(e *core.Error) error {
	if e == nil {
		return nil
	}
	var err error
	switch e.Code {
	case core.VersionMismatch:
		err = &VersionMismatchError{Expected: e.Expected, Actual: e.Actual, msg: e.Error()}
	case core.Compacted:
		err = &CompactedError{Requested: e.Requested, Oldest: e.Oldest, msg: e.Error()}
	default:
		s, ok := sentinels[e.Code]
		if !ok {
			s = ErrInternal
		}
		err = &codeError{sentinel: s, msg: e.Error()}
	}
	if e.Index >= 0 {
		return &BatchError{Index: e.Index, Err: err}
	}
	return err
}

// walError turns an error of the write-ahead log package into the host's
// error values: its damage into a *CorruptError, its lock failure into
// ErrLocked. Other errors (of the file system) pass as they are.
func walError(err error) error {
	var ce *wal.CorruptError
	switch {
	case errors.As(err, &ce):
		return &CorruptError{File: ce.File, Offset: ce.Offset, Reason: ce.Reason}
	case errors.Is(err, wal.ErrLocked):
		return &codeError{sentinel: ErrLocked, msg: err.Error()}
	}
	return err
}

func errorf(sentinel error, format string, args ...any) error {
	return &codeError{sentinel: sentinel, msg: "actorstore: " + fmt.Sprintf(format, args...)}
}
