// Package abi is the byte layout shared by the wasm module (wasm/) and the
// Go host (host/): request and result encodings, little-endian, documented
// in wasm/ABI.md. Encoders append; decoders never panic and report
// malformed input as an InvalidArgument error.
package abi

//go:generate go run ./gen -o ../../js/lib/abi.js

import (
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

// Pack puts a pointer and a length in one uint64, as exports return them.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits what Pack made.
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }

// AppendError encodes a failed result.
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
	bad bool
}

// NewReader reads b. Strings and byte slices it returns alias b: pass it a
// buffer nobody modifies afterwards.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

func (r *Reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b)-r.off {
		r.bad = true
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
		r.bad = true
		return nil
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

// Err reports whether a read ran past the end.
func (r *Reader) Err() *core.Error {
	if r.bad {
		return &core.Error{Code: core.InvalidArgument, Index: -1, Msg: "malformed ABI message: truncated"}
	}
	return nil
}

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

// AppendEvent encodes one event of a changes result.
func AppendEvent(b []byte, e *core.Event) []byte {
	var flags byte
	if e.HasPrev {
		flags |= FlagPrev
	}
	if e.HasNew {
		flags |= FlagNew
	}
	b = le.AppendUint64(b, e.Sequence)
	b = append(b, byte(e.Op), flags)
	b = le.AppendUint64(b, uint64(e.Timestamp))
	b = le.AppendUint64(b, e.PrevVersion)
	b = le.AppendUint64(b, e.NewVersion)
	b = le.AppendUint32(b, uint32(len(e.Type)))
	b = le.AppendUint32(b, uint32(len(e.ID)))
	b = le.AppendUint32(b, uint32(len(e.Prev)))
	b = le.AppendUint32(b, uint32(len(e.New)))
	b = append(b, e.Type...)
	b = append(b, e.ID...)
	b = append(b, e.Prev...)
	return append(b, e.New...)
}

// ReadEvent decodes one event; its strings and values alias the buffer.
func (r *Reader) ReadEvent() core.Event {
	var e core.Event
	e.Sequence = r.U64()
	e.Op = core.EventOp(r.U8())
	flags := r.U8()
	e.HasPrev, e.HasNew = flags&FlagPrev != 0, flags&FlagNew != 0
	e.Timestamp = int64(r.U64())
	e.PrevVersion, e.NewVersion = r.U64(), r.U64()
	tl, il, pl, nl := r.U32(), r.U32(), r.U32(), r.U32()
	e.Type, e.ID = r.String(tl), r.String(il)
	e.Prev, e.New = r.Bytes(pl), r.Bytes(nl)
	if !e.HasPrev {
		e.Prev = nil
	}
	if !e.HasNew {
		e.New = nil
	}
	return e
}

// AppendOp encodes one batch operation of a batch request.
func AppendOp(b []byte, op *core.Op) []byte {
	b = append(b, byte(op.Kind))
	b = le.AppendUint32(b, uint32(len(op.Type)))
	b = le.AppendUint32(b, uint32(len(op.ID)))
	b = le.AppendUint32(b, uint32(len(op.Value)))
	b = le.AppendUint64(b, op.Expected)
	b = append(b, op.Type...)
	b = append(b, op.ID...)
	return append(b, op.Value...)
}

// ReadOp decodes one batch operation; its strings and value alias the
// buffer.
func (r *Reader) ReadOp() core.Op {
	var op core.Op
	op.Kind = core.Kind(r.U8())
	tl, il, vl := r.U32(), r.U32(), r.U32()
	op.Expected = r.U64()
	op.Type, op.ID, op.Value = r.String(tl), r.String(il), r.Bytes(vl)
	return op
}

// AppendStats encodes a stats result body.
func AppendStats(b []byte, s *core.Stats) []byte {
	for _, v := range [StatsFields]uint64{s.TotalEvents, s.CurrentSequence, s.OldestSequence,
		s.ReplayEvents, s.ReplayBytes, s.EventsDropped, s.Actors, s.DataBytes} {
		b = le.AppendUint64(b, v)
	}
	return b
}

// ReadStats decodes a stats result body.
func (r *Reader) ReadStats() core.Stats {
	return core.Stats{TotalEvents: r.U64(), CurrentSequence: r.U64(), OldestSequence: r.U64(),
		ReplayEvents: r.U64(), ReplayBytes: r.U64(), EventsDropped: r.U64(), Actors: r.U64(), DataBytes: r.U64()}
}
