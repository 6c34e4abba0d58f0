package core

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// newStore returns a store with options o, failing the test on an error.
func newStore(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return s
}

// val returns a well-formed CBOR byte string with n bytes of content, each
// the byte fill.
func val(n int, fill byte) []byte {
	var b []byte
	switch {
	case n < 24:
		b = []byte{0x40 | byte(n)}
	case n < 1<<8:
		b = []byte{0x58, byte(n)}
	case n < 1<<16:
		b = []byte{0x59, byte(n >> 8), byte(n)}
	default:
		b = []byte{0x5a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(b, bytes.Repeat([]byte{fill}, n)...)
}

// ok fails the test when err is not nil.
func ok(t testing.TB, err *Error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %+v", err)
	}
}

// wantCode fails the test unless err has code c and index idx.
func wantCode(t testing.TB, err *Error, c Code, idx int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", c)
	}
	if err.Code != c || err.Index != idx {
		t.Fatalf("got %v (index %d, %q), want %v (index %d)", err.Code, err.Index, err.Msg, c, idx)
	}
}

// state is everything a store shows through its API, for before/after
// checks: the actors of some types, the stats and the retained events.
type state struct {
	Types  []string
	Actors [][]Actor
	Stats  Stats
	Events []Event
}

// snapshot copies the observable state of s, values included, listing the
// actors of the given types.
func snapshot(s *Store, types ...string) state {
	st := state{Types: types, Stats: s.Stats()}
	for _, typ := range types {
		all := s.GetAll(typ)
		for i := range all {
			all[i].Value = bytes.Clone(all[i].Value)
		}
		st.Actors = append(st.Actors, all)
	}
	p, _ := s.Changes(st.Stats.OldestSequence-1, Filter{}, 1<<30, 1<<62)
	for _, e := range p.Events {
		e.Prev, e.New = bytes.Clone(e.Prev), bytes.Clone(e.New)
		st.Events = append(st.Events, e)
	}
	return st
}

// sameState fails the test when s no longer matches the snapshot want.
func sameState(t testing.TB, s *Store, want state) {
	t.Helper()
	if got := snapshot(s, want.Types...); !reflect.DeepEqual(got, want) {
		t.Fatalf("store changed:\n got %+v\nwant %+v", got, want)
	}
}

// actorCost is what one actor accounts for against MaxDataBytes, measured
// on a fresh store.
func actorCost(t testing.TB, typ, id string, v []byte) int64 {
	t.Helper()
	s := newStore(t, Options{})
	_, err := s.Insert(typ, id, v, 0)
	ok(t, err)
	return int64(s.Stats().DataBytes)
}

func TestInsertUpdateDeleteVersions(t *testing.T) {
	s := newStore(t, Options{})
	v0, v1, v2 := val(1, 'a'), val(2, 'b'), val(3, 'c')
	r, err := s.Insert("user", "u1", v0, 100)
	ok(t, err)
	if r.Actor.Version != 0 || r.Sequence != 1 || !r.Found || !bytes.Equal(r.Actor.Value, v0) {
		t.Fatalf("insert result %+v", r)
	}
	r, err = s.Update("user", "u1", v1, 101)
	ok(t, err)
	if r.Actor.Version != 1 || r.Sequence != 2 {
		t.Fatalf("update result %+v", r)
	}
	r, err = s.UpdateVersioned("user", "u1", v2, 1, 102)
	ok(t, err)
	if r.Actor.Version != 2 || r.Sequence != 3 {
		t.Fatalf("update versioned result %+v", r)
	}
	a, found := s.Get("user", "u1")
	if !found || a.Version != 2 || !bytes.Equal(a.Value, v2) || a.Type != "user" || a.ID != "u1" {
		t.Fatalf("Get = %+v, %v", a, found)
	}
	r, err = s.Delete("user", "u1", 103)
	ok(t, err)
	if !r.Found || r.Sequence != 4 || r.Actor.Version != 2 || !bytes.Equal(r.Actor.Value, v2) {
		t.Fatalf("delete result %+v", r)
	}
	if _, found := s.Get("user", "u1"); found {
		t.Fatal("deleted actor still found")
	}
	r, err = s.Delete("user", "u1", 104)
	ok(t, err)
	if r.Found || r.Sequence != 0 || s.Stats().CurrentSequence != 4 {
		t.Fatalf("delete of an absent actor: %+v, stats %+v", r, s.Stats())
	}
	r, err = s.Insert("user", "u1", v0, 105)
	ok(t, err)
	if r.Actor.Version != 0 || r.Sequence != 5 {
		t.Fatalf("re-insert result %+v", r)
	}
}

func TestGetAllOrderAndScan(t *testing.T) {
	s := newStore(t, Options{})
	for _, k := range []string{"b/2", "a/9", "b/10", "b/1", "c/1", "bb/0"} {
		typ, id, _ := strings.Cut(k, "/")
		_, err := s.Insert(typ, id, val(0, 0), 1)
		ok(t, err)
	}
	var ids []string
	for _, a := range s.GetAll("b") {
		ids = append(ids, a.ID)
	}
	if got := strings.Join(ids, ","); got != "1,10,2" {
		t.Fatalf("GetAll(b) ids = %s, want 1,10,2", got)
	}
	if got := s.GetAll("nope"); len(got) != 0 {
		t.Fatalf("GetAll(nope) = %v", got)
	}
	ids = ids[:0]
	s.Scan("b", "10", func(a *Actor) bool { ids = append(ids, a.ID); return true })
	if got := strings.Join(ids, ","); got != "2" {
		t.Fatalf("Scan(b, after 10) = %s, want 2", got)
	}
	if s.Len() != 6 || s.Stats().Actors != 6 {
		t.Fatalf("Len %d, Stats %+v", s.Len(), s.Stats())
	}
}

func TestErrors(t *testing.T) {
	s := newStore(t, Options{MaxValueBytes: 64})
	_, err := s.Insert("user", "u1", val(1, 1), 1)
	ok(t, err)
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		op   Op
		code Code
	}{
		{"empty type", Op{Kind: KindInsert, ID: "x", Value: val(0, 0)}, InvalidKey},
		{"empty id", Op{Kind: KindInsert, Type: "t", Value: val(0, 0)}, InvalidKey},
		{"long type", Op{Kind: KindInsert, Type: long(MaxTypeBytes + 1), ID: "x", Value: val(0, 0)}, InvalidKey},
		{"long id", Op{Kind: KindInsert, Type: "t", ID: long(MaxIDBytes + 1), Value: val(0, 0)}, InvalidKey},
		{"type not UTF-8", Op{Kind: KindInsert, Type: "t\xff", ID: "x", Value: val(0, 0)}, InvalidKey},
		{"id not UTF-8", Op{Kind: KindInsert, Type: "t", ID: "\xc3", Value: val(0, 0)}, InvalidKey},
		{"bad key before bad value", Op{Kind: KindInsert, ID: "x", Value: []byte{0xff}}, InvalidKey},
		{"delete bad key", Op{Kind: KindDelete, Type: "t"}, InvalidKey},
		{"insert existing", Op{Kind: KindInsert, Type: "user", ID: "u1", Value: val(0, 0)}, AlreadyExists},
		{"update missing", Op{Kind: KindUpdate, Type: "user", ID: "u2", Value: val(0, 0)}, NotFound},
		{"cas missing", Op{Kind: KindUpdateVersioned, Type: "user", ID: "u2", Value: val(0, 0)}, NotFound},
		{"malformed value", Op{Kind: KindInsert, Type: "t", ID: "x", Value: []byte{0x81}}, InvalidValue},
		{"empty value", Op{Kind: KindUpdate, Type: "user", ID: "u1"}, InvalidValue},
		{"value too large", Op{Kind: KindInsert, Type: "t", ID: "x", Value: val(63, 0)}, ValueTooLarge},
		{"too large before malformed", Op{Kind: KindUpdate, Type: "user", ID: "u1", Value: make([]byte, 65)}, ValueTooLarge},
		{"unknown kind", Op{Kind: 9, Type: "t", ID: "x", Value: val(0, 0)}, InvalidArgument},
		{"kind zero", Op{Type: "user", ID: "u1", Value: val(0, 0)}, InvalidArgument},
	}
	before := snapshot(s, "user", "t")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Apply(&c.op, 2)
			wantCode(t, err, c.code, -1)
			if err.Expected|err.Actual|err.Requested|err.Oldest != 0 || err.Msg == "" {
				t.Fatalf("unexpected fields in %+v", err)
			}
			sameState(t, s, before)
		})
	}
}

func TestKeyAndValueLimitsInclusive(t *testing.T) {
	s := newStore(t, Options{MaxValueBytes: 64})
	_, err := s.Insert(strings.Repeat("t", MaxTypeBytes), strings.Repeat("i", MaxIDBytes), val(62, 0), 1)
	ok(t, err) // 256-byte type, 1024-byte id, 64-byte value
	_, err = s.Insert("ü", "水", val(0, 0), 1)
	ok(t, err)
}

func TestVersionMismatchFields(t *testing.T) {
	s := newStore(t, Options{})
	_, err := s.Insert("t", "x", val(0, 0), 1)
	ok(t, err)
	_, err = s.Update("t", "x", val(0, 0), 1)
	ok(t, err)
	before := snapshot(s, "t")
	_, err = s.UpdateVersioned("t", "x", val(0, 0), 7, 2)
	wantCode(t, err, VersionMismatch, -1)
	if err.Expected != 7 || err.Actual != 1 {
		t.Fatalf("mismatch fields %+v", err)
	}
	sameState(t, s, before)
}

func TestOptionsOutOfRange(t *testing.T) {
	for _, o := range []Options{
		{ReplayBufferSize: -1}, {ReplayBufferSize: 10_000_001}, {ReplayBufferBytes: -1},
		{ReplayBufferBytes: MaxDataLimit + 1}, {MaxValueBytes: -1}, {MaxValueBytes: MaxValueLimit + 1},
		{MaxDataBytes: -1}, {MaxDataBytes: MaxDataLimit + 1},
		{IdempotencyKeys: -1}, {IdempotencyKeys: MaxIdempotencyKeys + 1}, {IdempotencyTTL: -1},
		{IdempotencyBytes: -1}, {IdempotencyBytes: MaxDataLimit + 1},
	} {
		if _, err := New(o); err == nil || err.Code != InvalidArgument {
			t.Errorf("New(%+v) = %v, want InvalidArgument", o, err)
		}
	}
	got := newStore(t, Options{}).Options()
	want := Options{DefaultReplayBufferSize, DefaultReplayBufferBytes, DefaultMaxValueBytes, DefaultMaxDataBytes,
		DefaultIdempotencyKeys, DefaultIdempotencyTTL, DefaultIdempotencyBytes}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
}

func TestBatchApplies(t *testing.T) {
	s := newStore(t, Options{})
	_, err := s.Insert("t", "old", val(1, 1), 1)
	ok(t, err)
	rs, err := s.Batch([]Op{
		{Kind: KindInsert, Type: "t", ID: "a", Value: val(1, 2)},
		{Kind: KindUpdate, Type: "t", ID: "a", Value: val(1, 3)},
		{Kind: KindUpdateVersioned, Type: "t", ID: "a", Value: val(1, 4), Expected: 1},
		{Kind: KindDelete, Type: "t", ID: "old"},
		{Kind: KindDelete, Type: "t", ID: "absent"},
	}, 50)
	ok(t, err)
	wantSeq := []uint64{2, 3, 4, 5, 0}
	wantVer := []uint64{0, 1, 2, 0, 0}
	for i, r := range rs {
		if r.Sequence != wantSeq[i] || r.Actor.Version != wantVer[i] || r.Found != (i < 4) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	p, err := s.Changes(1, Filter{}, 100, 1<<30)
	ok(t, err)
	if len(p.Events) != 4 || p.Next != 5 {
		t.Fatalf("batch events %+v", p)
	}
	for _, e := range p.Events {
		if e.Timestamp != 50 {
			t.Errorf("event %d timestamp %d, want 50", e.Sequence, e.Timestamp)
		}
	}
	rs, err = s.Batch(nil, 60)
	ok(t, err)
	if len(rs) != 0 || s.Stats().CurrentSequence != 5 {
		t.Fatalf("empty batch: %v, %+v", rs, s.Stats())
	}
}

// fillStore inserts n actors of type "t" with ids "%05d" and values of
// size bytes.
func fillStore(t testing.TB, s *Store, n, size int) {
	t.Helper()
	for i := range n {
		_, err := s.Insert("t", fmt.Sprintf("%05d", i), val(size, byte(i)), int64(i))
		ok(t, err)
	}
}

func TestBatchAtomicity(t *testing.T) {
	fails := []struct {
		name string
		op   Op
		code Code
	}{
		{"not found", Op{Kind: KindUpdate, Type: "t", ID: "zzz", Value: val(0, 0)}, NotFound},
		{"exists", Op{Kind: KindInsert, Type: "t", ID: "00001", Value: val(0, 0)}, AlreadyExists},
		{"bad key", Op{Kind: KindDelete, Type: "", ID: "x"}, InvalidKey},
		{"bad value", Op{Kind: KindInsert, Type: "t", ID: "new2", Value: []byte{0x1c}}, InvalidValue},
		{"mismatch", Op{Kind: KindUpdateVersioned, Type: "t", ID: "00002", Value: val(0, 0), Expected: 9}, VersionMismatch},
		{"kind", Op{Kind: 0, Type: "t", ID: "x", Value: val(0, 0)}, InvalidArgument},
		{"full", Op{Kind: KindInsert, Type: "t", ID: "big", Value: val(1<<16, 0)}, StoreFull},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			s := newStore(t, Options{MaxDataBytes: 1 << 16, ReplayBufferSize: 8})
			fillStore(t, s, 20, 4)
			before := snapshot(s, "t", "newtype")
			ops := []Op{
				{Kind: KindInsert, Type: "t", ID: "new", Value: val(5, 5)},
				{Kind: KindUpdate, Type: "t", ID: "00000", Value: val(6, 6)},
				{Kind: KindDelete, Type: "t", ID: "00003"},
				{Kind: KindInsert, Type: "newtype", ID: "n", Value: val(1, 1)},
				f.op,
			}
			_, err := s.Batch(ops, 99)
			wantCode(t, err, f.code, 4)
			if !strings.HasPrefix(err.Msg, "batch operation 4: ") {
				t.Fatalf("message %q", err.Msg)
			}
			sameState(t, s, before)
			// The store still works, and sequences continue without a gap.
			r, err := s.Insert("t", "after", val(0, 0), 100)
			ok(t, err)
			if r.Sequence != before.Stats.CurrentSequence+1 {
				t.Fatalf("sequence after a failed batch %d, want %d", r.Sequence, before.Stats.CurrentSequence+1)
			}
		})
	}
}

func TestBatchFailureLeavesLiveTreeUntouched(t *testing.T) {
	// Enough actors for a multi-level tree: the batch's copy-on-write copy
	// shares every node with the live tree until it writes.
	s := newStore(t, Options{})
	fillStore(t, s, 3000, 8)
	before := snapshot(s, "t")
	var ops []Op
	for i := 0; i < 3000; i += 7 {
		id := fmt.Sprintf("%05d", i)
		switch i % 3 {
		case 0:
			ops = append(ops, Op{Kind: KindUpdate, Type: "t", ID: id, Value: val(9, 0xee)})
		case 1:
			ops = append(ops, Op{Kind: KindDelete, Type: "t", ID: id})
		default:
			ops = append(ops, Op{Kind: KindInsert, Type: "t", ID: id + "x", Value: val(2, 0xdd)})
		}
	}
	ops = append(ops, Op{Kind: KindUpdate, Type: "t", ID: "missing", Value: val(0, 0)})
	_, err := s.Batch(ops, 1)
	wantCode(t, err, NotFound, len(ops)-1)
	sameState(t, s, before)
	// A successful batch afterwards sees the original tree.
	_, err = s.Batch(ops[:len(ops)-1], 2)
	ok(t, err)
	if a, _ := s.Get("t", "00000"); a.Version != 1 {
		t.Fatalf("after the second batch: %+v", a)
	}
}

func TestStoreFullAccounting(t *testing.T) {
	one := actorCost(t, "t", "a", val(10, 0))
	s := newStore(t, Options{MaxDataBytes: 2 * one})
	_, err := s.Insert("t", "a", val(10, 0), 1)
	ok(t, err)
	_, err = s.Insert("t", "b", val(10, 0), 1)
	ok(t, err)
	if got := s.Stats().DataBytes; got != uint64(2*one) {
		t.Fatalf("DataBytes %d, want %d", got, 2*one)
	}
	full := snapshot(s, "t")
	_, err = s.Insert("t", "c", val(0, 0), 1)
	wantCode(t, err, StoreFull, -1)
	_, err = s.Update("t", "a", val(11, 0), 1) // grows by one byte
	wantCode(t, err, StoreFull, -1)
	sameState(t, s, full)
	_, err = s.Update("t", "a", val(10, 1), 1) // same size: allowed when full
	ok(t, err)
	_, err = s.Update("t", "a", val(5, 1), 1) // shrinks by five bytes
	ok(t, err)
	_, err = s.Update("t", "b", val(15, 1), 1) // takes those five bytes
	ok(t, err)
	_, err = s.Update("t", "b", val(16, 1), 1)
	wantCode(t, err, StoreFull, -1)
	_, err = s.Delete("t", "a", 1)
	ok(t, err)
	if got := s.Stats().DataBytes; got != uint64(actorCost(t, "t", "b", val(15, 1))) {
		t.Fatalf("DataBytes after delete %d", got)
	}
	_, err = s.Insert("t", "c", val(5, 0), 1) // exactly what is left
	ok(t, err)
	if got, want := s.Stats().DataBytes, uint64(2*one); got != want {
		t.Fatalf("DataBytes %d, want %d", got, want)
	}
}

func TestStoreFullInBatch(t *testing.T) {
	one := actorCost(t, "t", "a", val(10, 0))
	s := newStore(t, Options{MaxDataBytes: 2 * one})
	fill := []Op{
		{Kind: KindInsert, Type: "t", ID: "a", Value: val(10, 0)},
		{Kind: KindInsert, Type: "t", ID: "b", Value: val(10, 0)},
	}
	_, err := s.Batch(append(fill, Op{Kind: KindInsert, Type: "t", ID: "c", Value: val(10, 0)}), 1)
	wantCode(t, err, StoreFull, 2)
	if st := s.Stats(); st.DataBytes != 0 || st.Actors != 0 {
		t.Fatalf("stats after a failed batch %+v", st)
	}
	_, err = s.Batch(fill, 1)
	ok(t, err)
	// A delete earlier in a batch frees room for a later insert.
	_, err = s.Batch([]Op{
		{Kind: KindDelete, Type: "t", ID: "a"},
		{Kind: KindInsert, Type: "t", ID: "c", Value: val(10, 0)},
	}, 2)
	ok(t, err)
	if got := s.Stats().DataBytes; got != uint64(2*one) {
		t.Fatalf("DataBytes %d, want %d", got, 2*one)
	}
}

func TestValueAliasing(t *testing.T) {
	// Updating does not change a value handed out earlier, nor an event.
	s := newStore(t, Options{})
	_, err := s.Insert("t", "x", val(3, 'a'), 1)
	ok(t, err)
	a, _ := s.Get("t", "x")
	held := bytes.Clone(a.Value)
	_, err = s.Update("t", "x", val(3, 'b'), 2)
	ok(t, err)
	if !bytes.Equal(a.Value, held) {
		t.Fatal("an update changed a value returned before")
	}
	p, err := s.Changes(0, Filter{}, 10, 1<<20)
	ok(t, err)
	if !bytes.Equal(p.Events[0].New, held) || !bytes.Equal(p.Events[1].Prev, held) {
		t.Fatalf("events %+v", p.Events)
	}
}

func TestLookupAndCheckTypeValidateKeys(t *testing.T) {
	s := newStore(t, Options{})
	_, err := s.Insert("t", "x", val(1, 1), 1)
	ok(t, err)
	if a, found, err := s.Lookup("t", "x"); err != nil || !found || a.ID != "x" {
		t.Fatalf("Lookup(t, x) = %+v, %v, %v", a, found, err)
	}
	if _, found, err := s.Lookup("t", "y"); err != nil || found {
		t.Fatalf("Lookup(t, y) = %v, %v", found, err)
	}
	for _, k := range [][2]string{{"", "x"}, {"t", ""}, {"t\xff", "x"}, {"t", "\xff"}, {strings.Repeat("t", MaxTypeBytes+1), "x"}} {
		if _, _, err := s.Lookup(k[0], k[1]); err == nil || err.Code != InvalidKey {
			t.Errorf("Lookup(%q, %q) = %v, want InvalidKey", k[0], k[1], err)
		}
	}
	for typ, want := range map[string]bool{"t": true, "": false, "\xc3": false, strings.Repeat("t", MaxTypeBytes): true,
		strings.Repeat("t", MaxTypeBytes+1): false} {
		if err := CheckType(typ); (err == nil) != want || err != nil && err.Code != InvalidKey {
			t.Errorf("CheckType(%q) = %v, want ok %v", typ, err, want)
		}
	}
}
