package core

import "strconv"

// Code classifies a failed operation. The numeric values are part of the
// wasm ABI (see wasm/ABI.md) and must never change.
type Code uint8

// Error codes shared by the core, the ABI and every host.
const (
	OK              Code = 0
	InvalidKey      Code = 1  // type or id empty, too long, or not UTF-8
	AlreadyExists   Code = 2  // insert of a key that exists
	NotFound        Code = 3  // update of a key that does not exist
	VersionMismatch Code = 4  // compare-and-swap saw another version
	Compacted       Code = 5  // the requested events were evicted
	InvalidValue    Code = 6  // value is not one well-formed CBOR item
	ValueTooLarge   Code = 7  // value exceeds MaxValueBytes
	Closed          Code = 8  // used by hosts only: the store was closed
	StoreFull       Code = 9  // the write would exceed MaxDataBytes
	InvalidArgument Code = 10 // a malformed request (bad ABI input, bad batch op)
	Internal        Code = 11 // a recovered panic: a bug, never bad input
)

var codeNames = [...]string{
	OK: "OK", InvalidKey: "INVALID_KEY", AlreadyExists: "ALREADY_EXISTS",
	NotFound: "NOT_FOUND", VersionMismatch: "VERSION_MISMATCH", Compacted: "COMPACTED",
	InvalidValue: "INVALID_VALUE", ValueTooLarge: "VALUE_TOO_LARGE", Closed: "CLOSED",
	StoreFull: "STORE_FULL", InvalidArgument: "INVALID_ARGUMENT", Internal: "INTERNAL",
}

// String returns the contract name of the code, such as "NOT_FOUND".
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE_" + strconv.Itoa(int(c))
}

// Error is the one error type the core returns. Fields beyond Code and Msg
// are set only for the codes that carry them.
type Error struct {
	Code Code
	// Expected and Actual are set for VersionMismatch.
	Expected, Actual uint64
	// Requested and Oldest are set for Compacted.
	Requested, Oldest uint64
	// Index is the failing operation of a batch, or -1 outside a batch.
	Index int
	// Msg is a human-readable description.
	Msg string
}

// Error returns the message prefixed with "actorstore: ".
func (e *Error) Error() string { return "actorstore: " + e.Msg }

// NewError returns an error of code c outside a batch (Index -1) with
// message msg. Errors of a batch operation set Index afterwards.
func NewError(c Code, msg string) *Error {
	return &Error{Code: c, Index: -1, Msg: msg}
}

func errorf(c Code, format string, args ...any) *Error {
	return NewError(c, sprintf(format, args...))
}

// sprintf formats %s and %d with strings and integers only. The core
// avoids fmt: it would pull reflection and the os package, with its extra
// WASI imports, into the module.
func sprintf(format string, args ...any) string {
	b := make([]byte, 0, len(format)+32)
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) || len(args) == 0 {
			b = append(b, format[i])
			continue
		}
		i++
		switch v := args[0].(type) {
		case string:
			b = append(b, v...)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		default:
			b = append(b, '?')
		}
		args = args[1:]
	}
	return string(b)
}
