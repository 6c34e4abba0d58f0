package core

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// history runs operations decoded from in on a store with small limits
// (so eviction and StoreFull happen) and returns it with the record of
// every mutation that made events, as a write-ahead log would hold them.
func history(t testing.TB, in *fuzzBytes, n int) (*Store, Options, [][]byte) {
	o := Options{ReplayBufferSize: 1 + int(in.next()%16), ReplayBufferBytes: 200 + 8*int64(in.next()),
		MaxValueBytes: 400, MaxDataBytes: 4000 + 40*int64(in.next())}
	s := newStore(t, o)
	var log [][]byte
	ts := int64(1e9)
	for i := 0; i < n && len(in.b) > 0; i++ {
		ts += int64(in.next()) - 64
		before := s.Stats().CurrentSequence
		var ops []Op
		if in.next()%4 == 0 {
			ops = make([]Op, 1+in.next()%4)
			for j := range ops {
				ops[j] = in.op()
			}
			if _, err := s.Batch(ops, ts); err != nil {
				continue
			}
		} else {
			ops = []Op{in.op()}
			if _, err := s.Apply(&ops[0], ts); err != nil {
				continue
			}
		}
		if s.Stats().CurrentSequence != before {
			log = append(log, AppendRecord(nil, before+1, ts, ops))
		}
	}
	return s, o, log
}

// streamSnapshot reads a whole snapshot in pieces of about chunk bytes.
func streamSnapshot(s *Store, chunk int) []byte {
	sn := s.Snapshot()
	defer sn.Close()
	var out []byte
	for {
		n := len(out)
		out = sn.Next(out, chunk)
		if len(out) == n {
			return out
		}
	}
}

// restoreBytes restores b written in pieces of split bytes.
func restoreBytes(o Options, b []byte, split int) (*Store, *Error) {
	r, err := NewRestorer(o)
	if err != nil {
		return nil, err
	}
	for len(b) > 0 {
		n := min(split, len(b))
		if err := r.Write(b[:n]); err != nil {
			return nil, err
		}
		b = b[n:]
	}
	return r.Finish()
}

func checkSame(t testing.TB, got, want *Store, what string) {
	t.Helper()
	types := validFuzzTypes()
	if g, w := snapshot(got, types...), snapshot(want, types...); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: state differs:\n got %+v\nwant %+v", what, g, w)
	}
}

var persistSeeds = [][]byte{
	{3, 10, 50, 1, 1, 0, 0, 1, 2, 1, 0, 0, 3, 1, 2, 1, 0, 1, 2, 4, 0, 0, 1, 1, 3, 0},
	[]byte("\x05\xff\x20" + string(bytes.Repeat([]byte("\x01\x41\x01\x00\x00\x03\x07\x00\x02\x01\x00\x04\x41\x04\x00\x01\x03\x02\x02\x01\x00\x00\x03"), 12))),
	[]byte("\x0f\x00\xff" + string(bytes.Repeat([]byte("\x40\x01\x03\x01\x06\x04\x00\x02\x01\x03\x02\x04\x01\x00\x00\x02\x03\x01\x02\x05\x03"), 20))),
}

// FuzzSnapshotAndReplay checks the two halves of persistence against each
// other on histories decoded from the input: the snapshot stream, read in
// any chunking, restores the same state (actors, sequence, retained
// events, counters); replaying the records from an empty store rebuilds
// it; and a snapshot taken midway plus the records after it does too.
func FuzzSnapshotAndReplay(f *testing.F) {
	for _, b := range persistSeeds {
		f.Add(b, uint16(7), uint16(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, chunk, split uint16) {
		in := &fuzzBytes{b}
		s, o, log := history(t, in, 400)
		snap := streamSnapshot(s, 1+int(chunk))
		r, err := restoreBytes(o, snap, 1+int(split))
		ok(t, err)
		checkSame(t, r, s, "restored")
		if again := streamSnapshot(r, 1<<20); !bytes.Equal(again, snap) {
			t.Fatalf("a restored store's snapshot differs from the one it came from")
		}

		replayed := newStore(t, o)
		mid := len(log) / 2
		var midSnap []byte
		for i, rec := range log {
			if i == mid {
				midSnap = streamSnapshot(replayed, 100)
			}
			if _, _, err := replayed.Replay(bytes.Clone(rec)); err != nil {
				t.Fatalf("replay of record %d: %v", i, err)
			}
		}
		checkSame(t, replayed, s, "replayed")
		if midSnap != nil {
			m, err := restoreBytes(o, midSnap, 1<<20)
			ok(t, err)
			for _, rec := range log[mid:] {
				_, _, err := m.Replay(bytes.Clone(rec))
				ok(t, err)
			}
			checkSame(t, m, s, "snapshot + tail")
		}
		if len(log) > 0 { // replaying a record twice is refused, changing nothing
			before := snapshot(replayed, validFuzzTypes()...)
			_, _, err := replayed.Replay(bytes.Clone(log[len(log)-1]))
			wantCode(t, err, InvalidArgument, -1)
			sameState(t, replayed, before)
		}
	})
}

// TestSnapshotIsCopyOnWrite takes a snapshot, changes everything while
// it is being read, and restores exactly the state it was taken at.
func TestSnapshotIsCopyOnWrite(t *testing.T) {
	o := Options{ReplayBufferSize: 50}
	s := newStore(t, o)
	for i := 0; i < 2000; i++ {
		_, err := s.Insert("t", string(rune('a'+i%26))+string(rune(0x100+i)), val(i%300, byte(i)), int64(i))
		ok(t, err)
	}
	want := snapshot(s, "t")
	sn := s.Snapshot()
	var b []byte
	for i := 0; ; i++ {
		n := len(b)
		b = sn.Next(b, 1000)
		if len(b) == n {
			break
		}
		// Writes between chunks: updates, deletes, inserts, evictions.
		all := s.GetAll("t")
		a := all[(i*7)%len(all)]
		_, err := s.Update("t", a.ID, val(5, 1), 1)
		ok(t, err)
		_, err = s.Delete("t", all[(i*13)%len(all)].ID, 2)
		ok(t, err)
		_, err = s.Insert("u", string(rune(0x100+i)), val(3, 2), 3)
		ok(t, err)
	}
	r, err := restoreBytes(o, b, 4096)
	ok(t, err)
	sameState(t, r, want)
	if st := r.Stats(); st.CurrentSequence != 2000 || st.EventsDropped != 1950 || st.OldestSequence != 1951 {
		t.Fatalf("restored stats %+v", st)
	}
}

// TestRestoreRefusesDamage: every truncation and every flipped byte of a
// snapshot is an error, and the restore never hands out a store.
func TestRestoreRefusesDamage(t *testing.T) {
	s, o, _ := history(t, &fuzzBytes{persistSeeds[1]}, 400)
	snap := streamSnapshot(s, 1<<20)
	if len(snap) < 200 {
		t.Fatalf("snapshot too small to test: %d bytes", len(snap))
	}
	for n := 0; n < len(snap); n++ {
		if _, err := restoreBytes(o, snap[:n], 1<<20); err == nil || err.Code != InvalidArgument {
			t.Fatalf("truncated at %d of %d: %v", n, len(snap), err)
		}
	}
	for i := range snap {
		for _, bit := range []byte{1, 0x80} {
			b := bytes.Clone(snap)
			b[i] ^= bit
			if _, err := restoreBytes(o, b, 97); err == nil {
				t.Fatalf("byte %d flipped (^%#x): restored", i, bit)
			}
		}
	}
	if _, err := restoreBytes(o, append(bytes.Clone(snap), 0), 1<<20); err == nil {
		t.Fatal("a trailing byte was accepted")
	}
	if _, err := restoreBytes(o, []byte("PK\x03\x04 not a snapshot"), 1<<20); err == nil || err.Msg != "invalid snapshot: not an Actor Store snapshot at offset 0" {
		t.Fatalf("foreign bytes: %v", err)
	}
}

// TestRestoreChecksLimits: a snapshot whose actors need more than the
// options allow is refused with the limit's own error.
func TestRestoreChecksLimits(t *testing.T) {
	s := newStore(t, Options{})
	for i := 0; i < 10; i++ {
		_, err := s.Insert("t", string(rune('a'+i)), val(1000, 1), 0)
		ok(t, err)
	}
	snap := streamSnapshot(s, 1<<20)
	_, err := restoreBytes(Options{MaxDataBytes: 5000}, snap, 1<<20)
	wantCode(t, err, StoreFull, -1)
	_, err = restoreBytes(Options{MaxValueBytes: 500}, snap, 1<<20)
	wantCode(t, err, ValueTooLarge, -1)
	r, err := restoreBytes(Options{ReplayBufferSize: 3}, snap, 1<<20)
	ok(t, err)
	if st := r.Stats(); st.ReplayEvents != 3 || st.EventsDropped != 7 || st.CurrentSequence != 10 {
		t.Fatalf("a smaller replay buffer keeps the newest events: %+v", st)
	}
}

// FuzzRestore feeds arbitrary bytes to a restore: it never panics, and
// whatever it accepts restores again to the same state.
func FuzzRestore(f *testing.F) {
	for _, seed := range persistSeeds {
		s, _, _ := history(f, &fuzzBytes{seed}, 100)
		f.Add(streamSnapshot(s, 1<<20))
	}
	f.Add([]byte(snapshotMagic))
	keyed, _ := keyedScript(f, Options{IdempotencyKeys: 4})
	f.Add(streamSnapshot(keyed, 1<<20))
	f.Fuzz(func(t *testing.T, b []byte) {
		o := Options{ReplayBufferSize: 8}
		r, err := restoreBytes(o, b, 13)
		if err != nil {
			return
		}
		snap := streamSnapshot(r, 1<<20)
		r2, err := restoreBytes(o, snap, 1<<20)
		ok(t, err)
		if again := streamSnapshot(r2, 1<<20); !bytes.Equal(again, snap) {
			t.Fatal("restore is not stable")
		}
	})
}

// FuzzDecodeRecord: arbitrary bytes never panic the decoder, and what it
// accepts, in either format, encodes back to a record that decodes the
// same.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, 1, 5, []Op{{Kind: KindInsert, Type: "t", ID: "i", Value: []byte{0xf6}}}))
	f.Add(AppendRecord(nil, math.MaxUint64, math.MinInt64, []Op{{Kind: KindDelete, Type: "t", ID: "i"},
		{Kind: KindUpdateVersioned, Type: "t", ID: "j", Value: []byte{1}, Expected: 7}}))
	f.Add(AppendKeyedRecord(nil, 3, 9, "key", true, []Op{{Kind: KindDelete, Type: "t", ID: "i"}}))
	f.Add(AppendKeyedRecord(nil, 3, 9, "k", false, []Op{{Kind: KindInsert, Type: "t", ID: "i", Value: []byte{0xf6}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			if err.Code != InvalidArgument {
				t.Fatalf("code %v", err.Code)
			}
			return
		}
		r2, err := DecodeRecord(AppendKeyedRecord(nil, r.FirstSeq, r.TS, r.Key, r.Batch, r.Ops))
		ok(t, err)
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v != %+v", r, r2)
		}
	})
}

// TestRecordLayout pins the record bytes every host writes.
func TestRecordLayout(t *testing.T) {
	got := AppendRecord(nil, 300, -2, []Op{
		{Kind: KindInsert, Type: "t", ID: "a", Value: []byte{0xf5}},
		{Kind: KindUpdateVersioned, Type: "t", ID: "b", Value: []byte{0x01}, Expected: 2},
		{Kind: KindDelete, Type: "t", ID: "c"},
	})
	want := []byte{1, 0xac, 0x02, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 3,
		1, 1, 't', 1, 'a', 1, 0xf5,
		3, 1, 't', 1, 'b', 1, 0x01, 2,
		4, 1, 't', 1, 'c'}
	if !bytes.Equal(got, want) {
		t.Fatalf("record\n got %x\nwant %x", got, want)
	}
	for n := range want {
		if _, err := DecodeRecord(want[:n]); err == nil {
			t.Fatalf("a record cut at %d decoded", n)
		}
	}
}

// TestRecordSequence reads the first sequence as DecodeRecord does.
func TestRecordSequence(t *testing.T) {
	rec := AppendRecord(nil, 1<<40, 7, []Op{{Kind: KindDelete, Type: "t", ID: "i"}})
	if seq, ok := RecordSequence(rec); !ok || seq != 1<<40 {
		t.Fatalf("RecordSequence = %d, %v", seq, ok)
	}
	for _, b := range [][]byte{nil, {1}, {3, 1}, {1, 0}, {1, 0x80}, {2, 0}} {
		if _, ok := RecordSequence(b); ok {
			t.Fatalf("RecordSequence(%x) accepted", b)
		}
	}
}
