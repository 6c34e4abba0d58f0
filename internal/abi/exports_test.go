package abi

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/le"
)

// done fails the test unless r read everything without error.
func done(t *testing.T, what string, r *Reader) {
	t.Helper()
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("%s: err %v, %d bytes left", what, r.Err(), r.Len())
	}
}

// u64At and u32At read the field at a named offset.
func u64At(b []byte, off int) uint64 { return le.Uint64(b[off:]) }
func u32At(b []byte, off int) uint32 { return le.Uint32(b[off:]) }

// TestOffsets checks every named offset against what the encoders write:
// each field gets a distinct value and is read back at its offset.
func TestOffsets(t *testing.T) {
	e := AppendError(nil, &core.Error{Code: core.Compacted, Expected: 11, Actual: 12, Requested: 13, Oldest: 14,
		Index: 15, Msg: "m"})
	if e[ErrorCode] != byte(core.Compacted) || u64At(e, ErrorExpected) != 11 || u64At(e, ErrorActual) != 12 ||
		u64At(e, ErrorRequested) != 13 || u64At(e, ErrorOldest) != 14 || u32At(e, ErrorIndex) != 15 ||
		u32At(e, ErrorMsgLen) != 1 || string(e[ErrorHeader:]) != "m" {
		t.Errorf("error layout %x", e)
	}

	w := AppendWrite(nil, &core.Result{Actor: core.Actor{Version: 21}, Sequence: 22})
	if len(w) != WriteSize || u64At(w, WriteVersion) != 21 || u64At(w, WriteSequence) != 22 {
		t.Errorf("write layout %x", w)
	}

	g := AppendGet(nil, &core.Actor{Version: 31, Value: []byte("vv")}, true)
	if g[GetFound] != 1 || u64At(g, GetVersion) != 31 || u32At(g, GetValueLen) != 2 || string(g[GetHeader:]) != "vv" {
		t.Errorf("get layout %x", g)
	}
	if g := AppendGet(nil, &core.Actor{Version: 31}, false); len(g) != GetFound+1 || g[GetFound] != 0 {
		t.Errorf("get layout, absent %x", g)
	}

	rs := AppendResult(nil, &core.Result{Actor: core.Actor{Version: 41, Value: []byte("abc")}, Found: true, Sequence: 42}, true)
	if rs[ResultFound] != 1 || u64At(rs, ResultVersion) != 41 || u64At(rs, ResultSequence) != 42 ||
		u32At(rs, ResultValueLen) != 3 || string(rs[ResultHeader:]) != "abc" {
		t.Errorf("result layout %x", rs)
	}

	ops := []core.Op{{Kind: core.KindDelete, Type: "t", ID: "x"}}
	bt := AppendBatch(nil, ops, []core.Result{{Actor: core.Actor{Version: 51, Value: []byte("z")}, Found: true, Sequence: 52}})
	if u32At(bt, BatchCount) != 1 || u64At(bt[BatchHeader:], ResultSequence) != 52 || string(bt[BatchHeader+ResultHeader:]) != "z" {
		t.Errorf("batch layout %x", bt)
	}

	op := AppendOp(nil, &core.Op{Kind: core.KindUpdateVersioned, Type: "ty", ID: "idd", Value: []byte("vvvv"), Expected: 61})
	if op[OpKind] != byte(core.KindUpdateVersioned) || u32At(op, OpTypeLen) != 2 || u32At(op, OpIDLen) != 3 ||
		u32At(op, OpValueLen) != 4 || u64At(op, OpExpected) != 61 || string(op[OpHeader:]) != "tyiddvvvv" {
		t.Errorf("op layout %x", op)
	}

	s := newStore(t, core.Options{})
	mustInsert(t, s, "t", "a", []byte{0x01}, 1)
	mustInsert(t, s, "t", "b", []byte{0x02}, 2)
	ga, err := AppendGetAll(nil, s, "t", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if ga[GetAllMore] != 1 || u32At(ga, GetAllCount) != 1 || u64At(ga[GetAllHeader:], ActorVersion) != 0 ||
		u32At(ga[GetAllHeader:], ActorIDLen) != 1 || u32At(ga[GetAllHeader:], ActorValueLen) != 1 ||
		string(ga[GetAllHeader+ActorHeader:]) != "a\x01" {
		t.Errorf("get_all layout %x", ga)
	}

	ch, err := AppendChanges(nil, s, 0, core.Filter{}, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if u64At(ch, ChangesNext) != 1 || u32At(ch, ChangesCount) != 1 {
		t.Errorf("changes layout %x", ch)
	}
	ev := AppendEvent(nil, &core.Event{Sequence: 71, Op: core.EventUpdate, Type: "t", ID: "id", Prev: []byte("p"),
		New: []byte("nn"), PrevVersion: 72, NewVersion: 73, HasPrev: true, HasNew: true, Timestamp: -74})
	if u64At(ev, EventSequence) != 71 || ev[EventOp] != byte(core.EventUpdate) || ev[EventFlags] != FlagPrev|FlagNew ||
		int64(u64At(ev, EventTimestamp)) != -74 || u64At(ev, EventPrevVersion) != 72 || u64At(ev, EventNewVersion) != 73 ||
		u32At(ev, EventTypeLen) != 1 || u32At(ev, EventIDLen) != 2 || u32At(ev, EventPrevLen) != 1 ||
		u32At(ev, EventNewLen) != 2 || string(ev[EventHeader:]) != "tidpnn" {
		t.Errorf("event layout %x", ev)
	}

	st := AppendStats(nil, &core.Stats{TotalEvents: 81, CurrentSequence: 82, OldestSequence: 83, ReplayEvents: 84,
		ReplayBytes: 85, EventsDropped: 86, Actors: 87, DataBytes: 88, IdempotencyKeys: 89, IdempotencyBytes: 90})
	if len(st) != StatsSize {
		t.Errorf("stats layout of %d bytes, want %d", len(st), StatsSize)
	}
	for off, want := range map[int]uint64{StatsTotalEvents: 81, StatsCurrentSequence: 82, StatsOldestSequence: 83,
		StatsReplayEvents: 84, StatsReplayBytes: 85, StatsEventsDropped: 86, StatsActors: 87, StatsDataBytes: 88,
		StatsIdempotencyKeys: 89, StatsIdempotencyBytes: 90} {
		if u64At(st, off) != want {
			t.Errorf("stats field at %d = %d, want %d", off, u64At(st, off), want)
		}
	}

	rp := AppendReplay(nil, 91, 92)
	if len(rp) != ReplaySize || u64At(rp, ReplayFirst) != 91 || u64At(rp, ReplayLast) != 92 {
		t.Errorf("replay layout %x", rp)
	}
	sb := AppendSnapshotBegin(nil, &core.SnapshotInfo{Sequence: 93, Actors: 94, Events: 95})
	if len(sb) != SnapshotSize || u64At(sb, SnapshotSequence) != 93 || u64At(sb, SnapshotActors) != 94 ||
		u64At(sb, SnapshotEvents) != 95 {
		t.Errorf("snapshot_begin layout %x", sb)
	}
	re := AppendRestoreEnd(nil, &core.Stats{CurrentSequence: 96, Actors: 97, DataBytes: 98})
	if len(re) != RestoreSize || u64At(re, RestoreSequence) != 96 || u64At(re, RestoreActors) != 97 {
		t.Errorf("restore_end layout %x", re)
	}
}

// TestPageAccountingIsTheEncoding checks that the bytes core.Store.ScanPage
// accounts for a page are the bytes of the get_all result encoding it.
func TestPageAccountingIsTheEncoding(t *testing.T) {
	if core.PageHeaderBytes != StatusSize+GetAllHeader || core.PageActorBytes != ActorHeader {
		t.Fatalf("core accounts %d per page and %d per actor; a get_all result has %d and %d",
			core.PageHeaderBytes, core.PageActorBytes, StatusSize+GetAllHeader, ActorHeader)
	}
}

func newStore(t *testing.T, o core.Options) *core.Store {
	t.Helper()
	s, err := core.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustInsert(t *testing.T, s *core.Store, typ, id string, v []byte, ts int64) {
	t.Helper()
	if _, err := s.Insert(typ, id, v, ts); err != nil {
		t.Fatal(err)
	}
}

func TestConfigureRoundTrip(t *testing.T) {
	for _, o := range []core.Options{{}, {ReplayBufferSize: 1, ReplayBufferBytes: 2, MaxValueBytes: 3, MaxDataBytes: 4},
		{ReplayBufferSize: -1, ReplayBufferBytes: math.MinInt64, MaxValueBytes: math.MaxInt, MaxDataBytes: math.MaxInt64}} {
		p := ConfigureParams(o)
		if len(p) != 4 {
			t.Fatalf("%d parameters", len(p))
		}
		if got := ConfigureOptions(int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3])); got != o {
			t.Errorf("ConfigureOptions(ConfigureParams(%+v)) = %+v", o, got)
		}
	}
}

func TestKeyRequestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		typ, id string
		v       []byte
	}{{"", "", nil}, {"t", "", nil}, {"", "i", []byte{1}}, {"type", "ü", []byte{0xa0, 1}}} {
		n := KeyRequestLen(c.typ, c.id, c.v)
		buf := make([]byte, n+3) // the input buffer is larger than the request
		PutKeyRequest(buf, c.typ, c.id, c.v)
		typ, id, v, err := ReadKeyRequest(buf, uint32(len(c.typ)), uint32(len(c.id)), uint32(len(c.v)))
		if err != nil || typ != c.typ || id != c.id || !bytes.Equal(v, c.v) || cap(v) != len(v) {
			t.Errorf("%q %q %x: read %q %q %x (cap %d), %v", c.typ, c.id, c.v, typ, id, v, cap(v), err)
		}
		if _, _, _, err := ReadKeyRequest(buf, uint32(len(c.typ)), uint32(len(c.id)), uint32(len(c.v))+4); err == nil ||
			err.Code != core.InvalidArgument || err.Index != -1 {
			t.Errorf("a request past the buffer: %v", err)
		}
		if p, err := ReadRequest(buf, uint32(n)); err != nil || !bytes.Equal(p, buf[:n]) {
			t.Errorf("ReadRequest: %x, %v", p, err)
		}
	}
	// Lengths whose sum overflows 32 bits.
	if _, _, _, err := ReadKeyRequest(make([]byte, 8), math.MaxUint32, math.MaxUint32, 2); err == nil {
		t.Error("overflowing lengths accepted")
	}
}

func TestWriteGetResultRoundTrip(t *testing.T) {
	in := core.Result{Actor: core.Actor{Version: math.MaxUint64}, Found: true, Sequence: 7}
	r := NewReader(AppendWrite(nil, &in))
	if got := r.ReadWrite(); !reflect.DeepEqual(got, in) {
		t.Errorf("ReadWrite = %+v, want %+v", got, in)
	}
	done(t, "write", r)

	for _, c := range []struct {
		a     core.Actor
		found bool
	}{{core.Actor{}, false}, {core.Actor{Version: 3, Value: []byte{}}, true}, {core.Actor{Version: 4, Value: []byte{1, 2}}, true}} {
		r := NewReader(AppendGet(nil, &c.a, c.found))
		a, found := r.ReadGet()
		if found != c.found || !reflect.DeepEqual(a, c.a) {
			t.Errorf("ReadGet = %+v %v, want %+v %v", a, found, c.a, c.found)
		}
		done(t, "get", r)
	}

	for _, withValue := range []bool{false, true} {
		for _, in := range []core.Result{{}, {Actor: core.Actor{Version: 9, Value: []byte{0xf6}}, Found: true, Sequence: 10}} {
			r := NewReader(AppendResult(nil, &in, withValue))
			got := r.ReadResult(withValue)
			want := in
			if !withValue || !in.Found {
				want.Actor.Value = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("withValue %v: ReadResult = %+v, want %+v", withValue, got, want)
			}
			done(t, "result", r)
		}
	}
}

func TestReadFlags(t *testing.T) {
	for _, read := range []func(r *Reader){
		func(r *Reader) { r.ReadGet() },
		func(r *Reader) { r.ReadResult(true) },
		func(r *Reader) { r.ReadGetAll("t") },
	} {
		r := NewReader(append([]byte{2}, make([]byte, 64)...))
		read(r)
		if r.Err() == nil || r.Err().Code != core.InvalidArgument {
			t.Errorf("a flag of 2: %v", r.Err())
		}
	}
}

// pagesOf reads every actor of typ through AppendGetAll/ReadGetAll pages
// of maxBytes, checking each page against ScanPage.
func pagesOf(t *testing.T, s *core.Store, typ string, maxBytes int) (all []core.Actor, pages int) {
	t.Helper()
	after := ""
	for {
		b, err := AppendGetAll([]byte{0}, s, typ, after, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(b[1:])
		got, more := r.ReadGetAll(typ)
		done(t, "get_all", r)
		var want []core.Actor
		wantMore, _ := s.ScanPage(typ, after, maxBytes, func(a *core.Actor) { want = append(want, *a) })
		if more != wantMore || len(got) != len(want) {
			t.Fatalf("page after %q: %d actors, more %v; ScanPage: %d, %v", after, len(got), more, len(want), wantMore)
		}
		for i := range got {
			if got[i].Type != want[i].Type || got[i].ID != want[i].ID || got[i].Version != want[i].Version ||
				!bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("page actor %d: %+v, want %+v", i, got[i], want[i])
			}
		}
		// The encoded page holds maxBytes, or one actor more than fits.
		if len(got) > 1 && len(b)-len(got[len(got)-1].ID)-len(got[len(got)-1].Value)-ActorHeader >= maxBytes {
			t.Fatalf("page of %d bytes (%d actors) for maxBytes %d went on past full", len(b), len(got), maxBytes)
		}
		if more && len(b) < maxBytes {
			t.Fatalf("page of %d bytes stopped short of maxBytes %d", len(b), maxBytes)
		}
		all = append(all, got...)
		pages++
		if !more {
			return all, pages
		}
		after = got[len(got)-1].ID
	}
}

func TestGetAllRoundTrip(t *testing.T) {
	s := newStore(t, core.Options{})
	for i := range 50 {
		n := i % 20 // a CBOR byte string of n bytes
		mustInsert(t, s, "t", fmt.Sprintf("id%03d", i), append([]byte{0x40 + byte(n)}, bytes.Repeat([]byte{7}, n)...), int64(i))
	}
	mustInsert(t, s, "u", "other", []byte{0xf6}, 99)
	want := s.GetAll("t")
	for _, maxBytes := range []int{0, 1, core.PageHeaderBytes, 30, 31, 32, 100, 1 << 20} {
		all, pages := pagesOf(t, s, "t", maxBytes)
		if len(all) != len(want) {
			t.Fatalf("maxBytes %d: %d actors, want %d", maxBytes, len(all), len(want))
		}
		for i := range all {
			if all[i].ID != want[i].ID || !bytes.Equal(all[i].Value, want[i].Value) {
				t.Fatalf("maxBytes %d: actor %d = %+v, want %+v", maxBytes, i, all[i], want[i])
			}
		}
		if maxBytes <= core.PageHeaderBytes && pages != len(want) {
			t.Errorf("maxBytes %d: %d pages, want one per actor", maxBytes, pages)
		}
	}
	if _, err := AppendGetAll(nil, s, "", "", 10); err == nil || err.Code != core.InvalidKey {
		t.Errorf("empty type: %v", err)
	}
	if b, err := AppendGetAll(nil, s, "none", "", 10); err != nil || !bytes.Equal(b, make([]byte, GetAllHeader)) {
		t.Errorf("no actors: %x, %v", b, err)
	}
}

func TestChangesRoundTrip(t *testing.T) {
	s := newStore(t, core.Options{})
	mustInsert(t, s, "t", "a", []byte{0x01}, 1)
	if _, err := s.Update("t", "a", []byte{0x02}, 2); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, "u", "b", []byte{0x03}, 3)
	if _, err := s.Delete("t", "a", 4); err != nil {
		t.Fatal(err)
	}
	for _, f := range []core.Filter{{}, {Type: "t"}, {Type: "u", IDPrefix: "b"}, {IDPrefix: "zz"}} {
		for _, limit := range []int{1, 2, 100} {
			b, err := AppendChanges(nil, s, 0, f, limit, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			r := NewReader(b)
			got := r.ReadChanges()
			done(t, "changes", r)
			want, _ := s.Changes(0, f, limit, 1<<20)
			if got.Next != want.Next || len(got.Events) != len(want.Events) {
				t.Fatalf("%+v limit %d: next %d, %d events; want %d, %d", f, limit, got.Next, len(got.Events), want.Next, len(want.Events))
			}
			for i := range got.Events {
				if !sameEvent(&got.Events[i], &want.Events[i]) {
					t.Fatalf("event %d: %+v, want %+v", i, got.Events[i], want.Events[i])
				}
			}
		}
	}
	small := newStore(t, core.Options{ReplayBufferSize: 1})
	mustInsert(t, small, "t", "a", []byte{0x01}, 1)
	mustInsert(t, small, "t", "b", []byte{0x01}, 2)
	if _, err := AppendChanges(nil, small, 0, core.Filter{}, 10, 1<<20); err == nil || err.Code != core.Compacted {
		t.Errorf("changes from an evicted sequence: %v", err)
	}
}

func TestBatchRoundTrip(t *testing.T) {
	ops := []core.Op{
		{Kind: core.KindInsert, Type: "t", ID: "a", Value: []byte{0x01}},
		{Kind: core.KindUpdateVersioned, Type: "t", ID: "a", Value: []byte{0x02}, Expected: 0},
		{Kind: core.KindDelete, Type: "t", ID: "a"},
		{Kind: core.KindDelete, Type: "t", ID: "absent"},
	}
	req := AppendBatchRequest(nil, ops)
	r := NewReader(req)
	got := r.ReadBatchRequest(uint32(len(ops)))
	done(t, "batch request", r)
	for i := range ops {
		if !sameOp(&got[i], &ops[i]) {
			t.Errorf("op %d: %+v, want %+v", i, got[i], ops[i])
		}
	}

	s := newStore(t, core.Options{})
	want, err := s.Batch(got, 5)
	if err != nil {
		t.Fatal(err)
	}
	r = NewReader(AppendBatch(nil, ops, want))
	results := r.ReadBatch(ops)
	done(t, "batch", r)
	for i := range want {
		w := want[i]
		if !w.Found {
			w.Actor = core.Actor{} // what a delete of an absent actor removed: nothing
		}
		if g := results[i]; g.Found != w.Found || g.Sequence != w.Sequence || g.Actor.Type != w.Actor.Type ||
			g.Actor.ID != w.Actor.ID || g.Actor.Version != w.Actor.Version || !bytes.Equal(g.Actor.Value, w.Actor.Value) {
			t.Errorf("result %d: %+v, want %+v", i, g, w)
		}
	}

	r = NewReader(AppendBatch(nil, ops, want))
	if r.ReadBatch(ops[:2]); r.Err() == nil || r.Err().Code != core.Internal {
		t.Errorf("a result count other than the operations': %v", r.Err())
	}
}

func TestReadBatchRequestFailures(t *testing.T) {
	op := AppendOp(nil, &core.Op{Kind: core.KindInsert, Type: "t", ID: "x", Value: []byte{1}})
	two := append(append([]byte(nil), op...), op...)
	for _, c := range []struct {
		name  string
		b     []byte
		count uint32
		index int
	}{
		{"too many", two, core.MaxBatchOps + 1, -1},
		{"count past the bytes", two, 3, -1},
		{"truncated second op", two[:len(two)-1], 2, 1},
		{"trailing bytes", append(two, 0), 2, -1},
		{"one of two", two, 1, -1},
		{"count of 2^32-1", two, math.MaxUint32, -1},
	} {
		r := NewReader(c.b)
		if ops := r.ReadBatchRequest(c.count); ops != nil || r.Err() == nil || r.Err().Code != core.InvalidArgument ||
			r.Err().Index != c.index {
			t.Errorf("%s: %v, error %+v; want InvalidArgument at index %d", c.name, ops, r.Err(), c.index)
		}
	}
	r := NewReader(nil)
	if ops := r.ReadBatchRequest(0); r.Err() != nil || len(ops) != 0 {
		t.Errorf("empty batch: %v, %v", ops, r.Err())
	}
}

func TestPersistenceResultsRoundTrip(t *testing.T) {
	r := NewReader(AppendReplay(nil, 1, math.MaxUint64))
	if f, l := r.ReadReplay(); f != 1 || l != math.MaxUint64 {
		t.Errorf("ReadReplay = %d, %d", f, l)
	}
	done(t, "replay", r)

	info := core.SnapshotInfo{Sequence: 5, Actors: 6, Events: math.MaxUint64}
	r = NewReader(AppendSnapshotBegin(nil, &info))
	if got := r.ReadSnapshotBegin(); got != info {
		t.Errorf("ReadSnapshotBegin = %+v", got)
	}
	done(t, "snapshot_begin", r)

	r = NewReader(AppendRestoreEnd(nil, &core.Stats{CurrentSequence: 8, Actors: 9, DataBytes: 10}))
	if got := r.ReadRestoreEnd(); got != (core.Stats{CurrentSequence: 8, Actors: 9}) {
		t.Errorf("ReadRestoreEnd = %+v", got)
	}
	done(t, "restore_end", r)

	// snapshot_next carries an engine's stream; reading every chunk back
	// gives Store.Snapshot's bytes.
	s := newStore(t, core.Options{})
	for i := range 100 {
		mustInsert(t, s, "t", fmt.Sprint(i), []byte{0x18, byte(i)}, int64(i))
	}
	var stream []byte
	for sn := s.Snapshot(); ; {
		chunk := sn.Next(nil, 1<<20)
		if len(chunk) == 0 {
			break
		}
		stream = append(stream, chunk...)
	}
	e, err := core.NewEngine(core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.RestoreBegin(); err != nil {
		t.Fatal(err)
	}
	if err := e.RestoreWrite(stream); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RestoreEnd(); err != nil {
		t.Fatal(err)
	}
	if _, err := AppendSnapshotNext(nil, e, 100); err == nil || err.Code != core.InvalidArgument {
		t.Errorf("snapshot_next without a snapshot: %v", err)
	}
	e.SnapshotBegin()
	var got []byte
	for {
		b, err := AppendSnapshotNext([]byte{0}, e, 100)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(b[1:])
		chunk := r.ReadSnapshotNext()
		done(t, "snapshot_next", r)
		if len(chunk) == 0 {
			break
		}
		got = append(got, chunk...)
	}
	if !bytes.Equal(got, stream) {
		t.Errorf("snapshot_next chunks make %d bytes, the snapshot is %d", len(got), len(stream))
	}
}

func TestReadStatus(t *testing.T) {
	r := NewReader([]byte{0, 9})
	if err := r.ReadStatus(); err != nil || r.Len() != 1 {
		t.Errorf("success: %v, %d left", err, r.Len())
	}
	in := &core.Error{Code: core.NotFound, Index: -1, Msg: "not found: t/x"}
	r = NewReader(AppendError(nil, in))
	if err := r.ReadStatus(); !reflect.DeepEqual(err, in) {
		t.Errorf("failure: %+v, want %+v", err, in)
	}
	r = NewReader(nil)
	if err := r.ReadStatus(); err == nil || err.Code != core.InvalidArgument {
		t.Errorf("empty result: %v", err)
	}
}
