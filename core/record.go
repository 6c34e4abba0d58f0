package core

import (
	"strconv"

	"github.com/actorstore/actorstore/internal/le"
)

// A mutation record is what a write-ahead log holds: the operations of one
// successful mutation (a single operation, or a batch) with the timestamp
// they were applied at and the sequence number of their first event.
// Because the core is deterministic, replaying the records in order after
// the snapshot they follow rebuilds the same state, sequence numbers and
// events. Every host writes the same bytes:
//
//	u8      0x01              record format
//	uvarint firstSeq          sequence number of the first event
//	8 bytes ts                int64 little-endian, Unix nanoseconds
//	uvarint n                 operations, 1..MaxBatchOps
//	n times:
//	  u8 kind                 1 insert, 2 update, 3 updateVersioned, 4 delete
//	  uvarint len, type
//	  uvarint len, id
//	  kinds 1-3: uvarint len, value
//	  kind 3:    uvarint expected version
//
// A record of one operation is replayed as that operation, a longer one as
// an atomic batch. A keyed write's record is format 2 (AppendKeyedRecord in
// idempotency.go): the same with its idempotency key and batch flag after
// ts. Every host reads both formats.

// RecordFormat is the first byte of every mutation record.
const RecordFormat = 1

// AppendRecord appends the record of ops, applied at ts with firstSeq as
// the sequence of their first event, to dst.
func AppendRecord(dst []byte, firstSeq uint64, ts int64, ops []Op) []byte {
	dst = le.AppendUvarint(append(dst, RecordFormat), firstSeq)
	dst = le.AppendUint64(dst, uint64(ts))
	return appendOps(dst, ops)
}

// appendOps appends a record's operation count and operations.
func appendOps(dst []byte, ops []Op) []byte {
	dst = le.AppendUvarint(dst, uint64(len(ops)))
	for i := range ops {
		op := &ops[i]
		dst = append(dst, byte(op.Kind))
		dst = appendBytes(dst, op.Type)
		dst = appendBytes(dst, op.ID)
		if op.Kind != KindDelete {
			dst = appendBytes(dst, op.Value)
		}
		if op.Kind == KindUpdateVersioned {
			dst = le.AppendUvarint(dst, op.Expected)
		}
	}
	return dst
}

func appendBytes[T string | []byte](dst []byte, s T) []byte {
	return append(le.AppendUvarint(dst, uint64(len(s))), s...)
}

// Record is a decoded mutation record. Its values share the decoded bytes.
type Record struct {
	FirstSeq uint64
	TS       int64
	// Key is a keyed write's idempotency key (format 2), "" for none.
	Key string
	// Batch says the operations are applied as a batch: always for more
	// than one, and for one when a format-2 record says so.
	Batch bool
	Ops   []Op
}

// reader decodes the byte layouts of records and snapshots. The first
// failure sticks in err; later reads return zero values.
type reader struct {
	b   []byte
	off int
	err *Error
	// what names the input in errors: "record", "snapshot".
	what string
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = errorf(InvalidArgument, "invalid %s: %s at byte %d", r.what, msg, r.off)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := le.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) fixed64() uint64 {
	if r.err != nil || len(r.b)-r.off < 8 {
		r.fail("unexpected end")
		return 0
	}
	v := le.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// bytes returns the next length-prefixed byte string, at most max long.
func (r *reader) bytes(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(r.b)-r.off) {
		r.fail("length " + strconv.FormatUint(n, 10) + " out of range")
		return nil
	}
	b := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *reader) done() bool { return r.err == nil && r.off == len(r.b) }

// DecodeRecord decodes a mutation record. Values in the result share b.
// Keys and values are not validated here: replay applies the
// operations through the same checks as any write.
func DecodeRecord(b []byte) (Record, *Error) {
	r := reader{b: b, what: "record"}
	f := r.byte()
	if r.err == nil && f != RecordFormat && f != RecordFormatKeyed {
		r.off--
		r.fail("unknown format " + strconv.Itoa(int(f)))
	}
	var rec Record
	rec.FirstSeq = r.uvarint()
	rec.TS = int64(r.fixed64())
	if f == RecordFormatKeyed {
		rec.Key, rec.Batch = r.recordKey()
	}
	n := r.uvarint()
	if r.err == nil && (n == 0 || n > MaxBatchOps || n > uint64(len(b)) || n > 1 && f == RecordFormatKeyed && !rec.Batch) {
		r.fail("operation count " + strconv.FormatUint(n, 10) + " out of range")
	}
	rec.Batch = rec.Batch || n > 1
	if r.err != nil {
		return Record{}, r.err
	}
	rec.Ops = make([]Op, n)
	for i := range rec.Ops {
		op := &rec.Ops[i]
		op.Kind = Kind(r.byte())
		if r.err == nil && (op.Kind < KindInsert || op.Kind > KindDelete) {
			r.off--
			r.fail("unknown operation kind " + strconv.Itoa(int(op.Kind)))
		}
		op.Type = string(r.bytes(MaxTypeBytes))
		op.ID = string(r.bytes(MaxIDBytes))
		if op.Kind != KindDelete {
			op.Value = r.bytes(MaxValueLimit)
		}
		if op.Kind == KindUpdateVersioned {
			op.Expected = r.uvarint()
		}
		if r.err != nil {
			return Record{}, r.err
		}
	}
	if !r.done() {
		r.fail("trailing bytes")
		return Record{}, r.err
	}
	if rec.FirstSeq == 0 {
		return Record{}, errorf(InvalidArgument, "invalid record: first sequence 0")
	}
	return rec, nil
}

// Replay decodes a mutation record and applies it. It fails, changing
// nothing, unless the record's first sequence is the next one and its
// operations succeed and make events: a log that does not follow the state
// it is replayed onto is an error, never a silent divergence. The store
// copies what it keeps of rec.
func (s *Store) Replay(rec []byte) (first, last uint64, err *Error) {
	r, err := DecodeRecord(rec)
	if err != nil {
		return 0, 0, err
	}
	return s.ReplayRecord(&r)
}

// ReplayRecord applies a decoded record, as Replay does.
func (s *Store) ReplayRecord(r *Record) (first, last uint64, err *Error) {
	if next := s.feed.seq + 1; r.FirstSeq != next {
		return 0, 0, errorf(InvalidArgument, "record out of order: it starts at sequence %d, the store is at %d",
			r.FirstSeq, s.feed.seq)
	}
	before := s.feed.seq
	if err = s.replayOps(r); err != nil {
		err.Msg = "record at sequence " + strconv.FormatUint(r.FirstSeq, 10) + " does not apply: " + err.Msg
		return 0, 0, err
	}
	if s.feed.seq == before {
		return 0, 0, errorf(InvalidArgument, "record at sequence %d made no event", r.FirstSeq)
	}
	return r.FirstSeq, s.feed.seq, nil
}

// RecordSequence returns a mutation record's first sequence without
// decoding the rest; ok is false when b does not start as a record does.
func RecordSequence(b []byte) (seq uint64, ok bool) {
	if len(b) < 2 || b[0] != RecordFormat && b[0] != RecordFormatKeyed {
		return 0, false
	}
	v, n := le.Uvarint(b[1:])
	return v, n > 0 && v > 0
}
