package core

import (
	"bytes"
	"strconv"
	"testing"
)

// batchFixture returns a store of 20,000 actors (a tree three levels
// deep) and a batch that splits and merges nodes: inserts of consecutive
// new ids, deletes of a run of existing ones, updates and compare-and-
// swaps, and one key inserted, updated, deleted and inserted again.
func batchFixture(t *testing.T) (*Store, []Op) {
	s := newStore(t, Options{ReplayBufferSize: 64})
	var load []Op
	for i := 0; i < 20_000; i++ {
		load = append(load, Op{Kind: KindInsert, Type: "user", ID: "u" + strconv.Itoa(100_000+i), Value: val(i%90, byte(i))})
		if len(load) == 1000 {
			_, err := s.Batch(load, 1)
			ok(t, err)
			load = load[:0]
		}
	}
	var ops []Op
	for i := 0; i < 300; i++ {
		id := "u" + strconv.Itoa(100_000+5_000+i)
		switch i % 6 {
		case 0, 1:
			ops = append(ops, Op{Kind: KindInsert, Type: "user", ID: id + "x", Value: val(i%40, 2)})
		case 2:
			ops = append(ops, Op{Kind: KindDelete, Type: "user", ID: "u" + strconv.Itoa(100_000+9_000+i)})
		case 3:
			ops = append(ops, Op{Kind: KindUpdate, Type: "user", ID: id, Value: val(i%200, 3)})
		case 4:
			ops = append(ops, Op{Kind: KindUpdateVersioned, Type: "user", ID: "u" + strconv.Itoa(100_000+12_000+i), Value: val(7, 4)})
		case 5:
			ops = append(ops, Op{Kind: KindDelete, Type: "user", ID: "u" + strconv.Itoa(100_000+9_000+i-1)})
		}
	}
	again := []Op{
		{Kind: KindInsert, Type: "team", ID: "t", Value: val(3, 5)},
		{Kind: KindUpdate, Type: "team", ID: "t", Value: val(30, 6)},
		{Kind: KindDelete, Type: "team", ID: "t"},
		{Kind: KindInsert, Type: "team", ID: "t", Value: val(300, 7)},
	}
	ops = append(ops[:150], append(again, ops[150:]...)...)
	return s, ops
}

// failing returns an operation that fails whatever the batch did before
// it, of a kind chosen by i.
func failing(i int) (Op, Code) {
	untouched := "u" + strconv.Itoa(100_000+15_000+i%100)
	switch i % 4 {
	case 0:
		return Op{Kind: KindInsert, Type: "user", ID: untouched, Value: val(1, 1)}, AlreadyExists
	case 1:
		return Op{Kind: KindUpdate, Type: "user", ID: "absent" + strconv.Itoa(i), Value: val(1, 1)}, NotFound
	case 2:
		return Op{Kind: KindUpdateVersioned, Type: "user", ID: untouched, Value: val(1, 1), Expected: 99}, VersionMismatch
	default:
		return Op{Kind: KindUpdate, Type: "user", ID: untouched, Value: []byte{0xff}}, InvalidValue
	}
}

// TestBatchRollbackEveryPosition: a batch failing at any position leaves
// the store exactly as it was (its snapshot is the same bytes), with its
// memory reused rather than grown, and the store then applies the whole
// batch as single operations would.
func TestBatchRollbackEveryPosition(t *testing.T) {
	s, ops := batchFixture(t)
	before := streamSnapshot(s, 1<<20)
	chunks := len(s.arena.chunks)
	for p := range ops {
		batch := append([]Op(nil), ops...)
		bad, code := failing(p)
		batch[p] = bad
		_, err := s.Batch(batch, 2)
		wantCode(t, err, code, p)
		if after := streamSnapshot(s, 1<<20); !bytes.Equal(after, before) {
			t.Fatalf("failure at operation %d changed the store", p)
		}
	}
	if n := len(s.arena.chunks); n > chunks+1 {
		t.Fatalf("failed batches grew the arena from %d to %d chunks", chunks, n)
	}
	checkBatchApplies(t, s, ops)
}

// checkBatchApplies applies ops as a batch to s, and one by one to a
// store restored from s's snapshot, and compares the two.
func checkBatchApplies(t *testing.T, s *Store, ops []Op) {
	t.Helper()
	single, err := restoreBytes(s.Options(), streamSnapshot(s, 1<<20), 1<<20)
	ok(t, err)
	rs, err := s.Batch(ops, 3)
	ok(t, err)
	for i := range ops {
		r, err := single.Apply(&ops[i], 3)
		ok(t, err)
		if !sameResult(&r, &rs[i]) {
			t.Fatalf("operation %d: batch result %+v, single %+v", i, rs[i], r)
		}
	}
	if a, b := streamSnapshot(s, 1<<20), streamSnapshot(single, 1<<20); !bytes.Equal(a, b) {
		t.Fatal("the batch and the same operations one by one give different states")
	}
	// Writes after it reuse the memory of what the batches replaced.
	for i := 0; i < 2000; i++ {
		op := Op{Kind: KindUpdate, Type: "user", ID: "u" + strconv.Itoa(100_000+(i*7919)%20_000), Value: val(i%150, byte(i))}
		_, err1 := s.Apply(&op, 4)
		_, err2 := single.Apply(&op, 4)
		if !sameError(err1, err2) {
			t.Fatalf("update %d: %v, single %v", i, err1, err2)
		}
	}
	if a, b := streamSnapshot(s, 1<<20), streamSnapshot(single, 1<<20); !bytes.Equal(a, b) {
		t.Fatal("writes after the batch give different states")
	}
}

// TestBatchRollbackDuringSnapshot: batches that fail, batches that
// succeed and single writes between the chunks of a snapshot leave it
// showing the state it was taken in.
func TestBatchRollbackDuringSnapshot(t *testing.T) {
	s, ops := batchFixture(t)
	want := streamSnapshot(s, 1<<20)
	sn := s.Snapshot()
	var got []byte
	p := 0
	for ; ; p++ {
		n := len(got)
		got = sn.Next(got, 4096)
		if len(got) == n {
			break
		}
		// Snapshot frames are 64 KiB: 32 failing batches between two, then
		// the whole batch, then single writes.
		const per = 32
		for q := p * per; q < (p+1)*per && q < len(ops); q++ {
			batch := append([]Op(nil), ops...)
			batch[q], _ = failing(q)
			if _, err := s.Batch(batch, 2); err == nil || err.Index != q {
				t.Fatalf("batch failing at %d: %v", q, err)
			}
		}
		if p == (len(ops)+per-1)/per {
			_, err := s.Batch(ops, 3)
			ok(t, err)
		}
		if p > (len(ops)+per-1)/per {
			for q := 0; q < 50; q++ {
				_, err := s.Update("user", "u"+strconv.Itoa(100_000+p*50+q), val(p%100, 9), 4)
				ok(t, err)
				_, err = s.Delete("user", "u"+strconv.Itoa(100_000+15_000+p*50+q), 5)
				ok(t, err)
			}
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the snapshot does not show the state it was taken in")
	}
	if p < (len(ops)+31)/32+5 {
		t.Fatalf("the snapshot took %d chunks, too few for the writes between them", p)
	}
	sn.Close()
	r, err := restoreBytes(s.Options(), streamSnapshot(s, 1<<20), 1<<20)
	ok(t, err)
	checkSame(t, r, s, "after the snapshot")
}

// TestRecordsReusedAfterEviction: a record replaced is reused once no
// retained event shows it, and not while a snapshot is open.
func TestRecordsReusedAfterEviction(t *testing.T) {
	s := newStore(t, Options{ReplayBufferSize: 4})
	_, err := s.Insert("t", "a", val(100, 0), 0)
	ok(t, err)
	for i := 0; i < 100_000; i++ {
		_, err := s.Update("t", "a", val(100, byte(i)), 0)
		ok(t, err)
	}
	if n := len(s.arena.chunks); n != 1 {
		t.Fatalf("100,000 updates of one actor filled %d chunks", n)
	}
	sn := s.Snapshot()
	for i := 0; i < 10_000; i++ {
		_, err := s.Update("t", "a", val(100, byte(i)), 0)
		ok(t, err)
	}
	held := len(s.arena.chunks)
	if held < 4 {
		t.Fatalf("10,000 updates during a snapshot fit in %d chunks: records were reused", held)
	}
	sn.Close()
	for i := 0; i < 100_000; i++ {
		_, err := s.Update("t", "a", val(100, byte(i)), 0)
		ok(t, err)
	}
	if n := len(s.arena.chunks); n != held {
		t.Fatalf("after the snapshot closed, updates grew the arena from %d to %d chunks", held, n)
	}
}

// TestRetainedEventsKeepTheirValues: the values retained events show stay
// as they were while the records behind them are replaced, and their
// memory reused.
func TestRetainedEventsKeepTheirValues(t *testing.T) {
	s := newStore(t, Options{ReplayBufferSize: 100})
	actors := map[string][]byte{}
	var events [][2][]byte // previous and new value, by sequence - 1
	for i := 0; i < 20_000; i++ {
		id, v := strconv.Itoa(i%37), val(10+i%50, byte(i))
		cur, found := actors[id]
		var err *Error
		switch {
		case !found:
			_, err = s.Insert("t", id, v, 0)
			actors[id] = v
			events = append(events, [2][]byte{nil, v})
		case i%11 == 0:
			_, err = s.Delete("t", id, 0)
			delete(actors, id)
			events = append(events, [2][]byte{cur, nil})
		default:
			_, err = s.Update("t", id, v, 0)
			actors[id] = v
			events = append(events, [2][]byte{cur, v})
		}
		ok(t, err)
	}
	p, err := s.Changes(s.Stats().OldestSequence-1, Filter{}, 1000, 1<<30)
	ok(t, err)
	if len(p.Events) != 100 {
		t.Fatalf("%d events retained", len(p.Events))
	}
	for _, e := range p.Events {
		want := events[e.Sequence-1]
		if !bytes.Equal(e.Prev, want[0]) || !bytes.Equal(e.New, want[1]) {
			t.Fatalf("event %d shows %x → %x, want %x → %x", e.Sequence, e.Prev, e.New, want[0], want[1])
		}
	}
}

// TestValuesOfEverySize: values of every size class, and larger ones
// that get an allocation of their own, are stored, replaced by values of
// other sizes, deleted and restored from a snapshot as they were written.
func TestValuesOfEverySize(t *testing.T) {
	s := newStore(t, Options{ReplayBufferSize: 16})
	want := map[string][]byte{}
	var sizes []int
	for n := 0; n < 40_000; n += 1 + n/5 {
		sizes = append(sizes, n)
	}
	for i, n := range sizes {
		id := strconv.Itoa(i)
		_, err := s.Insert("t", id, val(n, byte(i)), 0)
		ok(t, err)
		want[id] = val(n, byte(i))
	}
	for round := 1; round <= 3; round++ {
		for i := range sizes {
			id := strconv.Itoa(i)
			if (i+round)%7 == 0 {
				_, err := s.Delete("t", id, 0)
				ok(t, err)
				delete(want, id)
				continue
			}
			v := val(sizes[(i*round*13)%len(sizes)], byte(i+round))
			var err *Error
			if _, found := want[id]; found {
				_, err = s.Update("t", id, v, 0)
			} else {
				_, err = s.Insert("t", id, v, 0)
			}
			ok(t, err)
			want[id] = v
		}
	}
	check := func(s *Store, what string) {
		t.Helper()
		all := s.GetAll("t")
		if len(all) != len(want) {
			t.Fatalf("%s: %d actors, want %d", what, len(all), len(want))
		}
		for _, a := range all {
			if !bytes.Equal(a.Value, want[a.ID]) {
				t.Fatalf("%s: actor %s has %d bytes, want %d", what, a.ID, len(a.Value), len(want[a.ID]))
			}
		}
	}
	check(s, "store")
	r, err := restoreBytes(s.Options(), streamSnapshot(s, 1<<20), 5000)
	ok(t, err)
	check(r, "restored")
}
