package core

import (
	"bytes"
	"fmt"
	"testing"
)

// wantRetained is the reference replay buffer: the longest suffix of all
// events, after the last one too big to retain at all, that holds at most
// maxN events and maxBytes bytes.
func wantRetained(all []Event, maxN int, maxBytes int64) []Event {
	start, bytes := len(all), int64(0)
	for i := len(all) - 1; i >= 0; i-- {
		size := all[i].Size()
		if size > maxBytes || len(all)-i > maxN || bytes+size > maxBytes {
			break
		}
		start, bytes = i, bytes+size
	}
	return all[start:]
}

// sameEvent reports whether two events are equal, treating nil and empty
// values alike.
func sameEvent(a, b *Event) bool {
	return a.Sequence == b.Sequence && a.Op == b.Op && a.Type == b.Type && a.ID == b.ID &&
		bytes.Equal(a.Prev, b.Prev) && bytes.Equal(a.New, b.New) && a.PrevVersion == b.PrevVersion &&
		a.NewVersion == b.NewVersion && a.HasPrev == b.HasPrev && a.HasNew == b.HasNew && a.Timestamp == b.Timestamp
}

// sequences lists the sequence numbers of events.
func sequences(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i := range evs {
		out[i] = evs[i].Sequence
	}
	return out
}

// wantCompacted fails the test unless err is Compacted with these fields.
func wantCompacted(t testing.TB, err *Error, requested, oldest uint64) {
	t.Helper()
	wantCode(t, err, Compacted, -1)
	if err.Requested != requested || err.Oldest != oldest {
		t.Fatalf("Compacted{%d, %d}, want {%d, %d}", err.Requested, err.Oldest, requested, oldest)
	}
}

// allEvents returns every retained event of s.
func allEvents(t testing.TB, s *Store) []Event {
	t.Helper()
	p, err := s.Changes(s.Stats().OldestSequence-1, Filter{}, 1<<30, 1<<62)
	ok(t, err)
	return p.Events
}

func TestFeedEvictsByCount(t *testing.T) {
	s := newStore(t, Options{ReplayBufferSize: 3})
	fillStore(t, s, 5, 1)
	st := s.Stats()
	if st.ReplayEvents != 3 || st.EventsDropped != 2 || st.OldestSequence != 3 || st.CurrentSequence != 5 || st.TotalEvents != 5 {
		t.Fatalf("stats %+v", st)
	}
	if want := uint64(3 * (&Event{Type: "t", ID: "00000", New: val(1, 0)}).Size()); st.ReplayBytes != want {
		t.Fatalf("ReplayBytes %d, want %d", st.ReplayBytes, want)
	}
	_, err := s.Changes(0, Filter{}, 10, 1<<20)
	wantCompacted(t, err, 1, 3)
	_, err = s.Changes(1, Filter{}, 10, 1<<20)
	wantCompacted(t, err, 2, 3)
	p, err := s.Changes(2, Filter{}, 10, 1<<20)
	ok(t, err)
	if fmt.Sprint(sequences(p.Events)) != "[3 4 5]" || p.Next != 5 {
		t.Fatalf("page %v next %d", sequences(p.Events), p.Next)
	}
}

func TestFeedEvictsByBytes(t *testing.T) {
	size := (&Event{Type: "t", ID: "00000", New: val(10, 0)}).Size()
	s := newStore(t, Options{ReplayBufferBytes: 2*size + size/2})
	fillStore(t, s, 4, 10)
	st := s.Stats()
	if st.ReplayEvents != 2 || st.EventsDropped != 2 || st.ReplayBytes != uint64(2*size) || st.OldestSequence != 3 {
		t.Fatalf("stats %+v", st)
	}
	// A bigger event, an update carrying both values, evicts both.
	_, err := s.Update("t", "00003", val(60, 1), 9)
	ok(t, err)
	if got := sequences(allEvents(t, s)); fmt.Sprint(got) != "[5]" {
		t.Fatalf("retained %v, want [5]", got)
	}
}

func TestFeedDropsEventTooBigToRetain(t *testing.T) {
	s := newStore(t, Options{ReplayBufferBytes: 250})
	fillStore(t, s, 2, 1)
	_, err := s.Insert("t", "big", val(300, 0), 5)
	ok(t, err)
	st := s.Stats()
	if st.ReplayEvents != 0 || st.ReplayBytes != 0 || st.EventsDropped != 3 || st.OldestSequence != 4 || st.CurrentSequence != 3 {
		t.Fatalf("stats %+v", st)
	}
	_, err = s.Changes(2, Filter{}, 10, 1<<20)
	wantCompacted(t, err, 3, 4)
	p, err := s.Changes(3, Filter{}, 10, 1<<20)
	ok(t, err)
	if len(p.Events) != 0 || p.Next != 3 {
		t.Fatalf("page %+v", p)
	}
	if got := s.SequenceAtTime(0); got != 4 {
		t.Fatalf("SequenceAtTime on an empty buffer %d, want 4", got)
	}
	_, err = s.Delete("t", "00000", 6)
	ok(t, err)
	if got := sequences(allEvents(t, s)); fmt.Sprint(got) != "[4]" {
		t.Fatalf("retained %v", got)
	}
}

func TestFeedRingWrapsAndGrows(t *testing.T) {
	// Big events keep the buffer short while its head moves; small events
	// then make it grow past its initial 64 slots with a wrapped head.
	big := (&Event{Type: "t", ID: "b00000", New: val(1000, 0)}).Size()
	o := Options{ReplayBufferSize: 300, ReplayBufferBytes: 40 * big}
	s := newStore(t, o)
	var all []Event
	add := func(id string, v []byte) {
		r, err := s.Insert("t", id, v, int64(len(all)))
		ok(t, err)
		all = append(all, Event{Sequence: r.Sequence, Op: EventInsert, Type: "t", ID: id, New: v, HasNew: true, Timestamp: int64(len(all))})
	}
	for i := range 100 {
		add(fmt.Sprintf("b%05d", i), val(1000, byte(i)))
	}
	for i := range 1000 {
		add(fmt.Sprintf("s%05d", i), val(1, byte(i)))
		if i%97 == 0 || i > 990 {
			checkRetained(t, s, all, o)
		}
	}
}

// checkRetained compares every retained event of s with the reference.
func checkRetained(t testing.TB, s *Store, all []Event, o Options) {
	t.Helper()
	want := wantRetained(all, o.ReplayBufferSize, o.ReplayBufferBytes)
	got := allEvents(t, s)
	if len(got) != len(want) {
		t.Fatalf("retained %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if !sameEvent(&got[i], &want[i]) {
			t.Fatalf("retained event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// changesFixture is a store holding 8 events: inserts of user/a1, user/b1,
// users/a2, user/a3, then updates of user/a1, users/a2, then deletes of
// user/b1, user/a3. Timestamps are 10, 20, ... 80.
func changesFixture(t *testing.T) *Store {
	s := newStore(t, Options{})
	steps := []Op{
		{Kind: KindInsert, Type: "user", ID: "a1", Value: val(1, 1)},
		{Kind: KindInsert, Type: "user", ID: "b1", Value: val(1, 2)},
		{Kind: KindInsert, Type: "users", ID: "a2", Value: val(1, 3)},
		{Kind: KindInsert, Type: "user", ID: "a3", Value: val(1, 4)},
		{Kind: KindUpdate, Type: "user", ID: "a1", Value: val(1, 5)},
		{Kind: KindUpdate, Type: "users", ID: "a2", Value: val(1, 6)},
		{Kind: KindDelete, Type: "user", ID: "b1"},
		{Kind: KindDelete, Type: "user", ID: "a3"},
	}
	for i := range steps {
		_, err := s.Apply(&steps[i], int64(10*(i+1)))
		ok(t, err)
	}
	return s
}

func TestScanChangesFilterLimitCursor(t *testing.T) {
	s := changesFixture(t)
	cases := []struct {
		since    uint64
		f        Filter
		limit    int
		maxBytes int64
		want     string
		next     uint64
	}{
		{0, Filter{}, 100, 1 << 20, "[1 2 3 4 5 6 7 8]", 8},
		{0, Filter{Type: "user"}, 100, 1 << 20, "[1 2 4 5 7 8]", 8},
		{0, Filter{Type: "users"}, 100, 1 << 20, "[3 6]", 8},
		{0, Filter{Type: "use"}, 100, 1 << 20, "[]", 8},
		{0, Filter{IDPrefix: "a"}, 100, 1 << 20, "[1 3 4 5 6 8]", 8},
		{0, Filter{Type: "user", IDPrefix: "a"}, 100, 1 << 20, "[1 4 5 8]", 8},
		{0, Filter{IDPrefix: "a1"}, 100, 1 << 20, "[1 5]", 8},
		{0, Filter{IDPrefix: "zz"}, 100, 1 << 20, "[]", 8},
		{0, Filter{}, 3, 1 << 20, "[1 2 3]", 3},
		{0, Filter{Type: "users"}, 1, 1 << 20, "[3]", 3},
		{3, Filter{Type: "users"}, 1, 1 << 20, "[6]", 6},
		{6, Filter{Type: "users"}, 1, 1 << 20, "[]", 8},
		{0, Filter{}, 0, 1 << 20, "[]", 0},
		{0, Filter{}, 100, 1, "[1]", 1},
		{2, Filter{Type: "users"}, 100, 1, "[3]", 3},
		{4, Filter{}, 100, 0, "[5]", 5},
		{8, Filter{}, 100, 1 << 20, "[]", 8},
		{20, Filter{}, 100, 1 << 20, "[]", 20},
	}
	for _, c := range cases {
		p, err := s.Changes(c.since, c.f, c.limit, c.maxBytes)
		ok(t, err)
		if got := fmt.Sprint(sequences(p.Events)); got != c.want || p.Next != c.next {
			t.Errorf("Changes(%d, %+v, %d, %d) = %s next %d, want %s next %d",
				c.since, c.f, c.limit, c.maxBytes, got, p.Next, c.want, c.next)
		}
	}
}

func TestScanChangesMaxBytes(t *testing.T) {
	s := changesFixture(t)
	all := allEvents(t, s)
	// Events stop once those passed account for maxBytes: exactly two
	// events' worth passes two, one byte more passes three.
	two := all[0].Size() + all[1].Size()
	for _, c := range []struct {
		maxBytes int64
		want     string
	}{{two, "[1 2]"}, {two + 1, "[1 2 3]"}, {two - 1, "[1 2]"}} {
		p, err := s.Changes(0, Filter{}, 100, c.maxBytes)
		ok(t, err)
		if got := fmt.Sprint(sequences(p.Events)); got != c.want {
			t.Errorf("maxBytes %d: %s, want %s", c.maxBytes, got, c.want)
		}
	}
}

func TestChangesEventContents(t *testing.T) {
	s := changesFixture(t)
	all := allEvents(t, s)
	want := []Event{
		{Sequence: 1, Op: EventInsert, Type: "user", ID: "a1", New: val(1, 1), HasNew: true, Timestamp: 10},
		{Sequence: 5, Op: EventUpdate, Type: "user", ID: "a1", Prev: val(1, 1), New: val(1, 5), NewVersion: 1, HasPrev: true, HasNew: true, Timestamp: 50},
		{Sequence: 7, Op: EventDelete, Type: "user", ID: "b1", Prev: val(1, 2), HasPrev: true, Timestamp: 70},
	}
	for _, w := range want {
		if got := all[w.Sequence-1]; !sameEvent(&got, &w) {
			t.Errorf("event %d: %+v, want %+v", w.Sequence, got, w)
		}
	}
	for _, e := range all {
		if e.Op.String() == "unknown" {
			t.Errorf("event %d op %d", e.Sequence, e.Op)
		}
	}
}

func TestChangesCompactedAfterEviction(t *testing.T) {
	s := newStore(t, Options{ReplayBufferSize: 4})
	fillStore(t, s, 10, 1) // events 7..10 retained
	for since := uint64(0); since < 6; since++ {
		_, err := s.Changes(since, Filter{Type: "nomatch"}, 10, 1<<20)
		wantCompacted(t, err, since+1, 7)
	}
	p, err := s.Changes(6, Filter{Type: "nomatch"}, 10, 1<<20)
	ok(t, err)
	if len(p.Events) != 0 || p.Next != 10 {
		t.Fatalf("page %+v", p)
	}
}

func TestSequenceAtTime(t *testing.T) {
	s := newStore(t, Options{ReplayBufferSize: 4})
	if got := s.SequenceAtTime(0); got != 1 {
		t.Fatalf("empty store: %d, want 1", got)
	}
	for i, ts := range []int64{10, 20, 20, 30, 15, 40} { // sequences 1..6
		_, err := s.Insert("t", fmt.Sprint(i), val(0, 0), ts)
		ok(t, err)
	}
	// Retained: 3 (20), 4 (30), 5 (15), 6 (40).
	for _, c := range []struct {
		ts   int64
		want uint64
	}{{-1 << 63, 3}, {10, 3}, {20, 3}, {21, 4}, {30, 4}, {31, 6}, {40, 6}, {41, 7}, {1<<63 - 1, 7}} {
		if got := s.SequenceAtTime(c.ts); got != c.want {
			t.Errorf("SequenceAtTime(%d) = %d, want %d", c.ts, got, c.want)
		}
	}
}
