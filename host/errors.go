package host

import (
	"errors"
	"fmt"

	"github.com/actorstore/actorstore/core"
)

// Errors returned by Store methods, usable with errors.Is. Errors that carry
// detail wrap these: *VersionMismatchError, *CompactedError, *BatchError.
var (
	// ErrInvalidKey is returned when an actor type or id is empty, longer
	// than 256 (type) or 1024 (id) bytes, or not UTF-8.
	ErrInvalidKey = errors.New("actorstore: invalid key")
	// ErrAlreadyExists is returned by Insert when the actor exists.
	ErrAlreadyExists = errors.New("actorstore: already exists")
	// ErrNotFound is returned by Update and UpdateVersioned when the actor
	// does not exist.
	ErrNotFound = errors.New("actorstore: not found")
	// ErrVersionMismatch is returned by UpdateVersioned when the actor's
	// version is not the expected one; see VersionMismatchError.
	ErrVersionMismatch = errors.New("actorstore: version mismatch")
	// ErrCompacted is returned by Changes and Subscription.Next when the
	// requested events were evicted from the replay buffer; see
	// CompactedError.
	ErrCompacted = errors.New("actorstore: compacted")
	// ErrInvalidValue is returned when a value cannot be encoded or is not
	// one well-formed CBOR data item.
	ErrInvalidValue = errors.New("actorstore: invalid value")
	// ErrValueTooLarge is returned when an encoded value exceeds
	// Options.MaxValueBytes.
	ErrValueTooLarge = errors.New("actorstore: value too large")
	// ErrStoreFull is returned when a write would take the data held past
	// Options.MaxDataBytes. Deletes and shrinking updates still work.
	ErrStoreFull = errors.New("actorstore: store full")
	// ErrInvalidArgument is returned for a malformed request: a negative
	// limit, options out of range, a request too large for the module.
	ErrInvalidArgument = errors.New("actorstore: invalid argument")
	// ErrClosed is returned by every method after Close, and by
	// Subscription.Next after the subscription or its store was closed.
	ErrClosed = errors.New("actorstore: closed")
	// ErrInternal is returned when the engine failed: a bug, never the
	// result of bad input. After a wasm trap the store is unusable.
	ErrInternal = errors.New("actorstore: internal error")
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

func errorf(sentinel error, format string, args ...any) error {
	return &codeError{sentinel: sentinel, msg: "actorstore: " + fmt.Sprintf(format, args...)}
}
