package core

import (
	"runtime"
	"strconv"
	"testing"
)

// TestClassOf: every record size gets the smallest class that holds it,
// classes grow, and the largest is maxSlot.
func TestClassOf(t *testing.T) {
	prev := 0
	for n := 1; n <= maxSlot; n++ {
		c, size := classOf(n)
		if size < n || c < 0 || c >= numClasses || size != classSize(c) {
			t.Fatalf("classOf(%d) = %d, %d bytes", n, c, size)
		}
		if c > 0 && classSize(c-1) >= n {
			t.Fatalf("classOf(%d) = %d, but class %d (%d bytes) holds it", n, c, c-1, classSize(c-1))
		}
		if size < prev || size%8 != 0 {
			t.Fatalf("classOf(%d): %d bytes after %d", n, size, prev)
		}
		prev = size
	}
	if c, size := classOf(maxSlot); c != numClasses-1 || size != maxSlot {
		t.Fatalf("classOf(maxSlot) = %d, %d; want %d, %d", c, size, numClasses-1, maxSlot)
	}
}

// TestArenaRecords: records of every size class, and larger ones, read
// back as written, and their slots are reused once freed.
func TestArenaRecords(t *testing.T) {
	var a arena
	type rec struct {
		ref  uint32
		id   string
		size int
	}
	var recs []rec
	for n := 0; n < 3*maxSlot; n += 1 + n/7 {
		id := strconv.Itoa(n)
		recs = append(recs, rec{a.put("t", id, val(n, byte(n)), uint64(n)), id, n})
	}
	check := func() {
		t.Helper()
		var x Actor
		for _, r := range recs {
			a.actor(r.ref, &x)
			if x.Type != "t" || x.ID != r.id || x.Version != uint64(r.size) || string(x.Value) != string(val(r.size, byte(r.size))) {
				t.Fatalf("record %s: %q/%q v%d, %d bytes", r.id, x.Type, x.ID, x.Version, len(x.Value))
			}
		}
	}
	check()
	chunks := len(a.chunks)
	for round := 0; round < 20; round++ {
		for i := range recs {
			r := &recs[i]
			a.free(r.ref)
			r.ref = a.put("t", r.id, val(r.size, byte(r.size)), uint64(r.size))
		}
		check()
	}
	if len(a.chunks) != chunks {
		t.Fatalf("rewriting every record 20 times grew the arena from %d to %d chunks", chunks, len(a.chunks))
	}
}

// TestHeapPerActor guards the heap's shape: 100,000 actors of 100-byte
// values must be a few hundred objects for the collector to mark (the
// arena's chunks and the tree's nodes), not several per actor, and take
// at most 200 bytes each: a record of 128, a tree slot of ~25, and spread
// over them the replay buffer's ring of 10,000 events and the rest of the
// last chunk (the store of before the arena took 2 objects and 230 bytes
// per actor).
func TestHeapPerActor(t *testing.T) {
	const n = 100_000
	value := val(98, 7) // 100 bytes
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "u" + strconv.Itoa(10_000_000+i)
	}
	s := newStore(t, Options{})
	ops := make([]Op, 0, 1000)
	for i := 0; i < n; i++ {
		ops = append(ops, Op{Kind: KindInsert, Type: "user", ID: ids[i], Value: value})
		if len(ops) == cap(ops) {
			_, err := s.Batch(ops, 0)
			ok(t, err)
			ops = ops[:0]
		}
	}
	// The store's share of the heap: with it, then without it.
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(s)
	s = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	runtime.KeepAlive(ids)
	objects := (float64(with.HeapObjects) - float64(without.HeapObjects)) / n
	bytes := (float64(with.HeapAlloc) - float64(without.HeapAlloc)) / n
	t.Logf("%d actors: %.4f heap objects and %.0f heap bytes per actor", n, objects, bytes)
	if objects > 0.02 {
		t.Errorf("%.4f heap objects per actor, want at most 0.02", objects)
	}
	if bytes > 200 {
		t.Errorf("%.0f heap bytes per actor, want at most 200", bytes)
	}
}
