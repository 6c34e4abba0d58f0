package core

import (
	"bytes"
	"fmt"
	"testing"
)

// pageOf returns the page ScanPage picks.
func pageOf(t *testing.T, s *Store, typ, after string, maxBytes int) ([]Actor, bool) {
	t.Helper()
	var page []Actor
	more, err := s.ScanPage(typ, after, maxBytes, func(a *Actor) { page = append(page, *a) })
	ok(t, err)
	return page, more
}

func TestScanPageBoundaries(t *testing.T) {
	s := newStore(t, Options{})
	// Actors accounting 4+10+16 = 30 bytes each, ids "0000".."0009".
	for i := range 10 {
		_, err := s.Insert("t", fmt.Sprintf("%04d", i), val(9, byte(i)), 1)
		ok(t, err)
	}
	_, err := s.Insert("u", "x", val(1, 0), 1)
	ok(t, err)
	for _, c := range []struct {
		after    string
		maxBytes int
		want     int
		more     bool
	}{
		{"", 0, 1, true}, // never an empty page
		{"", PageHeaderBytes, 1, true},
		{"", PageHeaderBytes + 1, 1, true},
		{"", PageHeaderBytes + 30, 1, true}, // full once it accounts maxBytes
		{"", PageHeaderBytes + 31, 2, true},
		{"", PageHeaderBytes + 90, 3, true},
		{"", PageHeaderBytes + 300, 10, false}, // exactly all: none remain
		{"", 1 << 30, 10, false},
		{"0007", PageHeaderBytes + 31, 2, false},
		{"0008", 0, 1, false},
		{"0009", 1 << 20, 0, false},
		{"zzzz", 1 << 20, 0, false},
	} {
		page, more := pageOf(t, s, "t", c.after, c.maxBytes)
		if len(page) != c.want || more != c.more {
			t.Errorf("after %q, maxBytes %d: %d actors, more %v; want %d, %v", c.after, c.maxBytes, len(page), more, c.want, c.more)
		}
		for i, a := range page {
			if a.Type != "t" || a.ID <= c.after || i > 0 && a.ID <= page[i-1].ID {
				t.Errorf("after %q: actor %d is %s/%s", c.after, i, a.Type, a.ID)
			}
		}
	}
	for _, typ := range []string{"", string(make([]byte, MaxTypeBytes+1)), "\xff"} {
		if _, err := s.ScanPage(typ, "", 100, func(*Actor) { t.Fatal("called for an invalid type") }); err == nil || err.Code != InvalidKey {
			t.Errorf("type %q: %v", typ, err)
		}
	}
}

// TestScanPagesCoverGetAll pages through a type with many page sizes: the
// pages, in order, are GetAll.
func TestScanPagesCoverGetAll(t *testing.T) {
	s := newStore(t, Options{})
	for i := range 200 {
		_, err := s.Insert("t", fmt.Sprint(i), val(i%50, byte(i)), 1)
		ok(t, err)
	}
	want := s.GetAll("t")
	for _, maxBytes := range []int{0, 50, 64, 1000, 4096, 1 << 20} {
		var all []Actor
		after := ""
		for {
			page, more := pageOf(t, s, "t", after, maxBytes)
			all = append(all, page...)
			if !more {
				break
			}
			after = page[len(page)-1].ID
		}
		if len(all) != len(want) {
			t.Fatalf("maxBytes %d: %d actors, want %d", maxBytes, len(all), len(want))
		}
		for i := range all {
			if all[i].ID != want[i].ID || !bytes.Equal(all[i].Value, want[i].Value) {
				t.Fatalf("maxBytes %d: actor %d is %s, want %s", maxBytes, i, all[i].ID, want[i].ID)
			}
		}
	}
}

func newEngine(t *testing.T, o Options) *Engine {
	t.Helper()
	e, err := NewEngine(o)
	ok(t, err)
	return e
}

// readAll reads the rest of e's snapshot in chunks of limit.
func readAll(t *testing.T, e *Engine, limit int) []byte {
	t.Helper()
	var out []byte
	for {
		n := len(out)
		var err *Error
		out, err = e.SnapshotNext(out, limit)
		ok(t, err)
		if len(out) == n {
			return out
		}
	}
}

func TestEngineSnapshot(t *testing.T) {
	if _, err := NewEngine(Options{MaxValueBytes: -1}); err == nil || err.Code != InvalidArgument {
		t.Fatalf("bad options: %v", err)
	}
	e := newEngine(t, Options{})
	_, err := e.SnapshotNext(nil, 100)
	wantCode(t, err, InvalidArgument, -1)
	fillStore(t, e.Store(), 100, 10)

	info := e.SnapshotBegin()
	if info.Sequence != 100 || info.Actors != 100 || info.Events != 100 {
		t.Fatalf("info %+v", info)
	}
	want := streamSnapshot(e.Store(), 1<<20)
	// Writes after the snapshot began are not in it; a limit below 1
	// counts as 1: whole frames still come.
	_, err = e.Store().Insert("t", "later", val(1, 1), 2)
	ok(t, err)
	if got := readAll(t, e, 0); !bytes.Equal(got, want) {
		t.Fatalf("snapshot of %d bytes, want %d", len(got), len(want))
	}
	// SnapshotBegin replaces the snapshot in progress.
	want = streamSnapshot(e.Store(), 1<<20)
	for _, limit := range []int{-5, 1, 1000} {
		e.SnapshotBegin()
		if got := readAll(t, e, limit); !bytes.Equal(got, want) {
			t.Fatalf("limit %d: %d bytes, want %d", limit, len(got), len(want))
		}
	}
	// A complete snapshot stays in progress (empty) until SnapshotEnd.
	if b, err := e.SnapshotNext(nil, 100); err != nil || len(b) != 0 {
		t.Fatalf("after the end: %x, %v", b, err)
	}
	e.SnapshotEnd()
	e.SnapshotEnd()
	_, err = e.SnapshotNext(nil, 100)
	wantCode(t, err, InvalidArgument, -1)
}

func TestEngineSnapshotChunkLimit(t *testing.T) {
	e := newEngine(t, Options{MaxValueBytes: MaxValueLimit, MaxDataBytes: MaxDataLimit})
	for i := range 3 {
		_, err := e.Store().Insert("t", fmt.Sprint(i), val(10<<20, byte(i)), 1)
		ok(t, err)
	}
	e.SnapshotBegin()
	for {
		b, err := e.SnapshotNext(nil, 1<<30)
		ok(t, err)
		if len(b) == 0 {
			break
		}
		// At most MaxSnapshotChunk, plus the frame that crossed it.
		if len(b) > MaxSnapshotChunk+maxFrame+frameHeader+snapshotHeader {
			t.Fatalf("a chunk of %d bytes", len(b))
		}
	}
}

func TestEngineRestore(t *testing.T) {
	src := newStore(t, Options{})
	fillStore(t, src, 50, 20)
	stream := streamSnapshot(src, 1<<20)

	e := newEngine(t, Options{})
	_, err := e.Store().Insert("t", "old", val(1, 1), 1)
	ok(t, err)
	old := e.Store()
	wantCode(t, e.RestoreWrite(stream), InvalidArgument, -1)
	_, err = e.RestoreEnd()
	wantCode(t, err, InvalidArgument, -1)

	ok(t, e.RestoreBegin())
	if !e.Restoring() {
		t.Fatal("not restoring after RestoreBegin")
	}
	ok(t, e.RestoreWrite(stream[:len(stream)/2]))
	if e.Store() != old {
		t.Fatal("the store changed before RestoreEnd")
	}
	ok(t, e.RestoreWrite(stream[len(stream)/2:]))
	st, err := e.RestoreEnd()
	ok(t, err)
	if e.Restoring() || e.Store() == old || st != src.Stats() || st != e.Store().Stats() {
		t.Fatalf("after RestoreEnd: restoring %v, stats %+v, want %+v", e.Restoring(), st, src.Stats())
	}
	checkSame(t, e.Store(), src, "restored")

	// A bad write abandons the restore; the store stays.
	cur := e.Store()
	ok(t, e.RestoreBegin())
	wantCode(t, e.RestoreWrite([]byte("not a snapshot at all")), InvalidArgument, -1)
	if e.Restoring() {
		t.Fatal("still restoring after a failed write")
	}
	_, err = e.RestoreEnd()
	wantCode(t, err, InvalidArgument, -1)

	// A truncated stream fails at RestoreEnd, which ends the restore too.
	ok(t, e.RestoreBegin())
	ok(t, e.RestoreWrite(stream[:len(stream)-1]))
	_, err = e.RestoreEnd()
	wantCode(t, err, InvalidArgument, -1)
	if e.Restoring() || e.Store() != cur {
		t.Fatal("a failed RestoreEnd changed the engine")
	}

	// RestoreAbort drops it; RestoreBegin replaces an unfinished one.
	ok(t, e.RestoreBegin())
	ok(t, e.RestoreWrite(stream[:10]))
	e.RestoreAbort()
	if e.Restoring() {
		t.Fatal("restoring after RestoreAbort")
	}
	ok(t, e.RestoreBegin())
	ok(t, e.RestoreWrite(stream[:10]))
	ok(t, e.RestoreBegin())
	ok(t, e.RestoreWrite(stream))
	_, err = e.RestoreEnd()
	ok(t, err)
	checkSame(t, e.Store(), src, "restored after a restart")
}

// TestEngineRestoreKeepsOptions restores with the engine's options: data
// over its MaxDataBytes is StoreFull.
func TestEngineRestoreKeepsOptions(t *testing.T) {
	src := newStore(t, Options{})
	fillStore(t, src, 50, 100)
	e := newEngine(t, Options{MaxDataBytes: 2000})
	ok(t, e.RestoreBegin())
	err := e.RestoreWrite(streamSnapshot(src, 1<<20))
	if err == nil {
		_, err = e.RestoreEnd()
	}
	wantCode(t, err, StoreFull, -1)
	if e.Store().Options().MaxDataBytes != 2000 {
		t.Fatal("options changed")
	}
}
