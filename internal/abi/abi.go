// Package abi is the byte layout of every export of the wasm module
// (wasm/): its arguments, the bytes it reads from the input buffer and the
// results it returns, little-endian, documented in wasm/ABI.md. The module
// encodes with the Append functions and the Go host (host/) decodes with
// the Reader's Read methods, so the two cannot drift; layout.go names the
// offsets, and js/lib/abi.js carries them to the JS host.
//
// Encoders append; decoders never panic and report malformed input as an
// InvalidArgument error.
package abi

//go:generate go run ./gen -o ../../js/lib/abi.js

import (
	"strconv"
	"unsafe"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/le"
)

// Version is returned by the module's abi_version export. Hosts refuse a
// module whose version differs.
const Version = 1

// MaxRequestBytes is the largest input buffer the module will allocate:
// room for the largest value (64 MiB) and its key.
const MaxRequestBytes = 65<<20 + 4096

// MinInputBuffer is the smallest input buffer the module allocates:
// input_buffer(size) makes room for max(size, MinInputBuffer) bytes.
const MinInputBuffer = 4096

// Pack puts a pointer and a length in one uint64, as exports return them.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits what Pack made.
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }

// AppendError encodes a failed result, from its code byte.
func AppendError(b []byte, e *core.Error) []byte {
	b = append(b, byte(e.Code))
	b = le.AppendUint64(b, e.Expected)
	b = le.AppendUint64(b, e.Actual)
	b = le.AppendUint64(b, e.Requested)
	b = le.AppendUint64(b, e.Oldest)
	b = le.AppendUint32(b, uint32(int32(e.Index)))
	b = le.AppendUint32(b, uint32(len(e.Msg)))
	return append(b, e.Msg...)
}

// Reader decodes a result or request. After the first failure every read
// returns zero values and Err reports it.
type Reader struct {
	b   []byte
	off int
	err *core.Error
}

// NewReader reads b. Strings and byte slices it returns alias b: pass it a
// buffer nobody modifies afterwards.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// fail records err unless a failure came first.
func (r *Reader) fail(err *core.Error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.fail(core.NewError(core.InvalidArgument, "malformed ABI message: truncated"))
		return nil
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

// U32 reads a little-endian uint32.
func (r *Reader) U32() uint32 {
	if p := r.take(4); p != nil {
		return le.Uint32(p)
	}
	return 0
}

// U64 reads a little-endian uint64.
func (r *Reader) U64() uint64 {
	if p := r.take(8); p != nil {
		return le.Uint64(p)
	}
	return 0
}

// Bytes reads n bytes, aliasing the buffer.
func (r *Reader) Bytes(n uint32) []byte {
	if uint64(n) > uint64(len(r.b)-r.off) {
		return r.take(-1)
	}
	return r.take(int(n))
}

// String reads n bytes as a string that aliases the buffer.
func (r *Reader) String(n uint32) string {
	p := r.Bytes(n)
	if len(p) == 0 {
		return ""
	}
	return unsafe.String(&p[0], len(p))
}

// Len reports the bytes not yet read.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Err reports the first failure: a read past the end, or a message that
// does not hold what it should.
func (r *Reader) Err() *core.Error { return r.err }

// ReadError decodes the body of a failed result whose code byte was read.
func (r *Reader) ReadError(code core.Code) *core.Error {
	e := &core.Error{Code: code}
	e.Expected, e.Actual = r.U64(), r.U64()
	e.Requested, e.Oldest = r.U64(), r.U64()
	e.Index = int(int32(r.U32()))
	e.Msg = string(r.Bytes(r.U32()))
	if err := r.Err(); err != nil {
		return err
	}
	return e
}

// ReadStatus reads the status byte of a result: nil for success, the
// result's error otherwise (or the Reader's, for a truncated one).
func (r *Reader) ReadStatus() *core.Error {
	code := core.Code(r.U8())
	if r.err != nil {
		return r.err
	}
	if code == core.OK {
		return nil
	}
	return r.ReadError(code)
}

// itoa formats n for messages: the module links neither fmt nor reflect.
func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
