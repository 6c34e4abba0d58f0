package abi

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/actorstore/actorstore/core"
)

func TestPackUnpack(t *testing.T) {
	for _, c := range [][2]uint32{{0, 0}, {1, 2}, {math.MaxUint32, 0}, {0, math.MaxUint32}, {math.MaxUint32, math.MaxUint32}} {
		if p, n := Unpack(Pack(c[0], c[1])); p != c[0] || n != c[1] {
			t.Errorf("Unpack(Pack(%d, %d)) = %d, %d", c[0], c[1], p, n)
		}
	}
}

func TestHeaderSizes(t *testing.T) {
	if n := len(AppendError(nil, &core.Error{})); n != ErrorHeader {
		t.Errorf("empty error encodes to %d bytes, ErrorHeader is %d", n, ErrorHeader)
	}
	if n := len(AppendEvent(nil, &core.Event{})); n != EventHeader {
		t.Errorf("empty event encodes to %d bytes, EventHeader is %d", n, EventHeader)
	}
	if n := len(AppendOp(nil, &core.Op{})); n != OpHeader {
		t.Errorf("empty op encodes to %d bytes, OpHeader is %d", n, OpHeader)
	}
	if n := len(AppendStats(nil, &core.Stats{})); n != StatsSize {
		t.Errorf("stats encode to %d bytes, StatsSize is %d", n, StatsSize)
	}
}

func TestErrorRoundTrip(t *testing.T) {
	in := &core.Error{Code: core.VersionMismatch, Expected: 1, Actual: math.MaxUint64, Requested: 3,
		Oldest: 4, Index: -1, Msg: "version mismatch ü"}
	for _, idx := range []int{-1, 0, 7, math.MaxInt32} {
		in.Index = idx
		b := AppendError([]byte{0xaa}, in)
		r := NewReader(b[1:])
		code := core.Code(r.U8())
		if got := r.ReadError(code); !reflect.DeepEqual(got, in) || r.Len() != 0 {
			t.Errorf("ReadError = %+v (%d left), want %+v", got, r.Len(), in)
		}
	}
}

func TestReadErrorTruncated(t *testing.T) {
	b := AppendError(nil, &core.Error{Code: core.NotFound, Index: -1, Msg: "not found: t/x"})
	for n := 1; n < len(b); n++ {
		r := NewReader(b[:n])
		if got := r.ReadError(core.Code(r.U8())); got.Code != core.InvalidArgument || got.Index != -1 {
			t.Errorf("%d of %d bytes: %+v, want InvalidArgument", n, len(b), got)
		}
	}
}

func TestReaderStopsAfterFailure(t *testing.T) {
	r := NewReader([]byte{1, 2, 3, 4, 5})
	if r.U32() != 0x04030201 || r.Err() != nil {
		t.Fatal("U32")
	}
	if r.U32() != 0 || r.Err() == nil {
		t.Fatal("U32 past the end did not fail")
	}
	// The byte left is not handed out after a failure.
	if r.U8() != 0 || r.Bytes(0) != nil || r.String(0) != "" || r.U64() != 0 {
		t.Fatal("reads after a failure returned data")
	}
	if r.Err().Code != core.InvalidArgument {
		t.Fatal("Err code")
	}
}

func TestReaderBytesAliasAndCap(t *testing.T) {
	buf := []byte("abcdef")
	r := NewReader(buf)
	p := r.Bytes(3)
	if string(p) != "abc" || cap(p) != 3 {
		t.Fatalf("Bytes(3) = %q cap %d", p, cap(p))
	}
	if s := r.String(3); s != "def" {
		t.Fatalf("String(3) = %q", s)
	}
	if r.Bytes(math.MaxUint32) != nil || r.Err() == nil {
		t.Fatal("Bytes(MaxUint32) did not fail")
	}
}

// sampleEvents covers every flag combination and empty and non-empty
// strings and values.
var sampleEvents = []core.Event{
	{},
	{Sequence: 1, Op: core.EventInsert, Type: "user", ID: "u1", New: []byte{0xa0}, HasNew: true, Timestamp: -5},
	{Sequence: math.MaxUint64, Op: core.EventUpdate, Type: "t", ID: "ü", Prev: []byte{1}, New: []byte{2, 3},
		PrevVersion: 7, NewVersion: 8, HasPrev: true, HasNew: true, Timestamp: math.MinInt64},
	{Sequence: 9, Op: core.EventDelete, Type: "t", ID: "x", Prev: []byte{0xf6}, PrevVersion: 3, HasPrev: true,
		Timestamp: math.MaxInt64},
}

func TestEventRoundTrip(t *testing.T) {
	var b []byte
	for i := range sampleEvents {
		b = AppendEvent(b, &sampleEvents[i])
	}
	r := NewReader(b)
	for i := range sampleEvents {
		if got := r.ReadEvent(); !sameEvent(&got, &sampleEvents[i]) {
			t.Errorf("event %d: %+v, want %+v", i, got, sampleEvents[i])
		}
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("err %v, %d bytes left", r.Err(), r.Len())
	}
}

func TestOpRoundTrip(t *testing.T) {
	ops := []core.Op{{}, {Kind: core.KindInsert, Type: "t", ID: "x", Value: []byte{0}},
		{Kind: core.KindUpdateVersioned, Type: "type", ID: "id", Value: []byte{0x80}, Expected: math.MaxUint64},
		{Kind: core.KindDelete, Type: "t", ID: "x"}, {Kind: 200, Type: "\xff", ID: ""}}
	var b []byte
	for i := range ops {
		b = AppendOp(b, &ops[i])
	}
	r := NewReader(b)
	for i := range ops {
		if got := r.ReadOp(); !sameOp(&got, &ops[i]) {
			t.Errorf("op %d: %+v, want %+v", i, got, ops[i])
		}
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("err %v, %d bytes left", r.Err(), r.Len())
	}
}

func TestStatsRoundTrip(t *testing.T) {
	in := core.Stats{TotalEvents: 1, CurrentSequence: 2, OldestSequence: 3, ReplayEvents: 4, ReplayBytes: 5,
		EventsDropped: 6, Actors: 7, DataBytes: math.MaxUint64}
	r := NewReader(AppendStats(nil, &in))
	if got := r.ReadStats(); got != in || r.Err() != nil || r.Len() != 0 {
		t.Fatalf("ReadStats = %+v, want %+v", got, in)
	}
}

// sameEvent reports whether two events are equal, nil and empty values
// alike.
func sameEvent(a, b *core.Event) bool {
	return a.Sequence == b.Sequence && a.Op == b.Op && a.Type == b.Type && a.ID == b.ID &&
		bytes.Equal(a.Prev, b.Prev) && bytes.Equal(a.New, b.New) && a.PrevVersion == b.PrevVersion &&
		a.NewVersion == b.NewVersion && a.HasPrev == b.HasPrev && a.HasNew == b.HasNew && a.Timestamp == b.Timestamp
}

// sameOp reports whether two operations are equal, nil and empty values
// alike.
func sameOp(a, b *core.Op) bool {
	return a.Kind == b.Kind && a.Type == b.Type && a.ID == b.ID && bytes.Equal(a.Value, b.Value) &&
		a.Expected == b.Expected
}

// split cuts b into four parts at points chosen by cuts.
func split(b []byte, cuts uint64) [4][]byte {
	var out [4][]byte
	for i := range 3 {
		n := 0
		if len(b) > 0 {
			n = int(cuts>>(16*i)&0xffff) % (len(b) + 1)
		}
		out[i], b = b[:n], b[n:]
	}
	out[3] = b
	return out
}

// checkRoundTrips builds an event and an op from the fuzz arguments and
// checks that they decode to themselves.
func checkRoundTrips(t *testing.T, b []byte, u uint64, i int64, flags uint8) {
	p := split(b, u)
	ev := core.Event{Sequence: u, Op: core.EventOp(flags), Type: string(p[0]), ID: string(p[1]),
		Prev: p[2], New: p[3], PrevVersion: u >> 1, NewVersion: ^u, HasPrev: flags&1 != 0,
		HasNew: flags&2 != 0, Timestamp: i}
	if !ev.HasPrev {
		ev.Prev = nil
	}
	if !ev.HasNew {
		ev.New = nil
	}
	enc := AppendEvent([]byte{flags}, &ev)
	r := NewReader(enc[1:])
	if got := r.ReadEvent(); !sameEvent(&got, &ev) || r.Err() != nil || r.Len() != 0 {
		t.Fatalf("event %+v decodes as %+v (%v, %d left)", ev, got, r.Err(), r.Len())
	}
	op := core.Op{Kind: core.Kind(flags), Type: string(p[0]), ID: string(p[1]), Value: p[2], Expected: uint64(i)}
	r = NewReader(AppendOp(nil, &op))
	if got := r.ReadOp(); !sameOp(&got, &op) || r.Err() != nil || r.Len() != 0 {
		t.Fatalf("op %+v decodes as %+v (%v, %d left)", op, got, r.Err(), r.Len())
	}
}
