package core

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// keyedOnce applies op under key, then retries it, checking that the
// retry is repeated, returns the same answer and changes nothing.
func keyedOnce(t *testing.T, s *Store, key string, op Op, ts int64) (Result, *Error) {
	t.Helper()
	r, repeated, err := s.ApplyKeyed(key, &op, ts)
	if repeated {
		t.Fatalf("first write with key %q repeated", key)
	}
	before := snapshot(s, "t")
	r2, repeated, err2 := s.ApplyKeyed(key, &op, ts+1)
	if !repeated {
		t.Fatalf("retry with key %q not repeated", key)
	}
	if !reflect.DeepEqual(err, err2) || !reflect.DeepEqual(r, r2) {
		t.Fatalf("retry with key %q: %+v, %+v; first %+v, %+v", key, r2, err2, r, err)
	}
	sameState(t, s, before)
	return r, err
}

func TestKeyedWritesApplyOnce(t *testing.T) {
	s := newStore(t, Options{})
	r, err := keyedOnce(t, s, "k1", Op{Kind: KindInsert, Type: "t", ID: "a", Value: val(1, 1)}, 10)
	ok(t, err)
	if r.Sequence != 1 || r.Actor.Version != 0 || !r.Found || r.Actor.Type != "t" || r.Actor.ID != "a" {
		t.Fatalf("insert %+v", r)
	}
	r, err = keyedOnce(t, s, "k2", Op{Kind: KindUpdate, Type: "t", ID: "a", Value: val(2, 2)}, 20)
	ok(t, err)
	if r.Sequence != 2 || r.Actor.Version != 1 || !bytes.Equal(r.Actor.Value, val(2, 2)) {
		t.Fatalf("update %+v", r)
	}
	r, err = keyedOnce(t, s, "k3", Op{Kind: KindUpdateVersioned, Type: "t", ID: "a", Value: val(3, 3), Expected: 1}, 30)
	ok(t, err)
	if r.Sequence != 3 || r.Actor.Version != 2 {
		t.Fatalf("updateVersioned %+v", r)
	}
	r, err = keyedOnce(t, s, "k4", Op{Kind: KindDelete, Type: "t", ID: "a"}, 40)
	ok(t, err)
	if r.Sequence != 4 || r.Actor.Version != 2 || !bytes.Equal(r.Actor.Value, val(3, 3)) {
		t.Fatalf("delete %+v", r)
	}
	r, err = keyedOnce(t, s, "k5", Op{Kind: KindDelete, Type: "t", ID: "a"}, 50)
	ok(t, err)
	if r.Found || r.Sequence != 0 {
		t.Fatalf("delete of an absent actor %+v", r)
	}

	// The answer is the first one even after the state moved on: the
	// delete's removed value, an insert's version.
	_, err = s.Insert("t", "a", val(9, 9), 60)
	ok(t, err)
	del := Op{Kind: KindDelete, Type: "t", ID: "a"}
	r, repeated, err := s.ApplyKeyed("k4", &del, 61)
	ok(t, err)
	if !repeated || r.Sequence != 4 || !bytes.Equal(r.Actor.Value, val(3, 3)) {
		t.Fatalf("delete retried after a new insert: %+v, repeated %v", r, repeated)
	}
	if a, found := s.Get("t", "a"); !found || !bytes.Equal(a.Value, val(9, 9)) {
		t.Fatalf("the retried delete removed the new actor: %+v %v", a, found)
	}
	if st := s.Stats(); st.IdempotencyKeys != 5 || st.CurrentSequence != 5 || st.IdempotencyBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKeyedRefusalsAreRemembered(t *testing.T) {
	s := newStore(t, Options{})
	_, err := s.Insert("t", "a", val(1, 1), 1)
	ok(t, err)
	cas := Op{Kind: KindUpdateVersioned, Type: "t", ID: "a", Value: val(1, 2), Expected: 1}
	_, err = keyedOnce(t, s, "cas", cas, 2)
	wantCode(t, err, VersionMismatch, -1)
	if err.Expected != 1 || err.Actual != 0 || err.Msg != "version mismatch on t/a: expected 1, actual 0" {
		t.Fatalf("mismatch %+v", err)
	}
	_, err = s.Update("t", "a", val(1, 3), 3) // now at version 1: the CAS would succeed
	ok(t, err)
	_, repeated, err := s.ApplyKeyed("cas", &cas, 4)
	wantCode(t, err, VersionMismatch, -1)
	if !repeated || err.Actual != 0 {
		t.Fatalf("retried CAS: %+v, repeated %v", err, repeated)
	}

	upd := Op{Kind: KindUpdate, Type: "t", ID: "b", Value: val(1, 1)}
	_, err = keyedOnce(t, s, "upd", upd, 5)
	wantCode(t, err, NotFound, -1)
	_, err = s.Insert("t", "b", val(1, 1), 6)
	ok(t, err)
	_, repeated, err = s.ApplyKeyed("upd", &upd, 7)
	wantCode(t, err, NotFound, -1)
	if !repeated {
		t.Fatal("retried update not repeated")
	}
	_, err = keyedOnce(t, s, "ins", Op{Kind: KindInsert, Type: "t", ID: "b", Value: val(1, 1)}, 8)
	wantCode(t, err, AlreadyExists, -1)

	// Refusals of the request itself are not remembered: the key stays
	// free for a corrected request.
	bad := Op{Kind: KindInsert, Type: "t", ID: "c", Value: []byte{0x82, 0x01}}
	_, _, err = s.ApplyKeyed("fix", &bad, 9)
	wantCode(t, err, InvalidValue, -1)
	if _, repeated, err = s.ApplyKeyed("fix", &bad, 9); repeated || err == nil || err.Code != InvalidValue {
		t.Fatalf("the invalid request again: repeated %v, %v", repeated, err)
	}
	bad.Value = val(1, 1)
	r, repeated, err := s.ApplyKeyed("fix", &bad, 10)
	ok(t, err)
	if repeated || !r.Found || r.Sequence != s.Stats().CurrentSequence {
		t.Fatalf("corrected request: %+v, repeated %v", r, repeated)
	}
	for _, op := range []Op{{Kind: 9, Type: "t", ID: "x"}, {Kind: KindDelete, Type: "", ID: "x"}} {
		_, _, err = s.ApplyKeyed("invalid", &op, 11)
		if err == nil || rememberedCode(err.Code) {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	if st := s.Stats(); st.IdempotencyKeys != 4 {
		t.Fatalf("%d keys remembered, want 4 (cas, upd, ins, fix)", st.IdempotencyKeys)
	}
}

func TestKeyedStoreFullIsRemembered(t *testing.T) {
	cost := actorCost(t, "t", "a", val(10, 1))
	s := newStore(t, Options{MaxDataBytes: cost})
	_, err := s.Insert("t", "a", val(10, 1), 1)
	ok(t, err)
	ins := Op{Kind: KindInsert, Type: "t", ID: "b", Value: val(10, 1)}
	_, err = keyedOnce(t, s, "full", ins, 2)
	wantCode(t, err, StoreFull, -1)
	_, err = s.Delete("t", "a", 3)
	ok(t, err)
	_, repeated, err := s.ApplyKeyed("full", &ins, 4)
	wantCode(t, err, StoreFull, -1)
	if !repeated {
		t.Fatal("not repeated")
	}
}

func TestKeyReusedForADifferentWrite(t *testing.T) {
	s := newStore(t, Options{})
	_, err := s.Insert("t", "a", val(1, 1), 1)
	ok(t, err)
	first := Op{Kind: KindUpdateVersioned, Type: "t", ID: "a", Value: val(1, 2), Expected: 0}
	_, _, err = s.ApplyKeyed("k", &first, 2)
	ok(t, err)
	before := snapshot(s, "t", "u")
	for _, op := range []Op{
		{Kind: KindUpdateVersioned, Type: "u", ID: "a", Value: val(1, 2), Expected: 0},
		{Kind: KindUpdateVersioned, Type: "t", ID: "b", Value: val(1, 2), Expected: 0},
		{Kind: KindUpdate, Type: "t", ID: "a", Value: val(1, 2)},
		{Kind: KindUpdateVersioned, Type: "t", ID: "a", Value: val(1, 3), Expected: 0},
		{Kind: KindUpdateVersioned, Type: "t", ID: "a", Value: val(1, 2), Expected: 1},
		{Kind: KindDelete, Type: "t", ID: "a"},
	} {
		_, repeated, err := s.ApplyKeyed("k", &op, 3)
		wantCode(t, err, InvalidArgument, -1)
		if repeated || err.Msg != "invalid argument: idempotency key reused for a different write" {
			t.Fatalf("%+v: %+v, repeated %v", op, err, repeated)
		}
		sameState(t, s, before)
	}
	// A batch of the same one operation is a different write too.
	_, _, err = s.BatchKeyed("k", []Op{first}, 3)
	wantCode(t, err, InvalidArgument, -1)
	// What a delete does not use is not part of it.
	del := Op{Kind: KindDelete, Type: "t", ID: "zz"}
	_, _, err = s.ApplyKeyed("d", &del, 4)
	ok(t, err)
	del.Value, del.Expected = val(1, 1), 7
	_, repeated, err := s.ApplyKeyed("d", &del, 5)
	if err != nil || !repeated {
		t.Fatalf("delete with unused fields set: %v, repeated %v", err, repeated)
	}
}

func TestKeyedBatch(t *testing.T) {
	s := newStore(t, Options{})
	_, err := s.Insert("t", "x", val(4, 4), 1)
	ok(t, err)
	ops := []Op{
		{Kind: KindInsert, Type: "t", ID: "a", Value: val(1, 1)},
		{Kind: KindDelete, Type: "t", ID: "absent"},
		{Kind: KindUpdate, Type: "t", ID: "a", Value: val(1, 2)},
		{Kind: KindDelete, Type: "t", ID: "x"},
	}
	rs, repeated, err := s.BatchKeyed("b", ops, 2)
	ok(t, err)
	if repeated || len(rs) != 4 {
		t.Fatalf("batch %+v, repeated %v", rs, repeated)
	}
	before := snapshot(s, "t")
	rs2, repeated, err := s.BatchKeyed("b", ops, 3)
	ok(t, err)
	if !repeated || !reflect.DeepEqual(rs, rs2) {
		t.Fatalf("retried batch %+v, first %+v", rs2, rs)
	}
	if rs2[3].Sequence != 4 || !bytes.Equal(rs2[3].Actor.Value, val(4, 4)) || rs2[1].Found || rs2[2].Sequence != 3 {
		t.Fatalf("retried batch results %+v", rs2)
	}
	sameState(t, s, before)

	// A failing batch's error, index and message included, is remembered.
	bad := []Op{{Kind: KindInsert, Type: "t", ID: "c", Value: val(1, 1)}, {Kind: KindUpdate, Type: "t", ID: "nope", Value: val(1, 1)}}
	_, _, err1 := s.BatchKeyed("bad", bad, 4)
	wantCode(t, err1, NotFound, 1)
	_, err = s.Insert("t", "nope", val(1, 1), 5)
	ok(t, err)
	_, repeated, err2 := s.BatchKeyed("bad", bad, 6)
	if !repeated || !reflect.DeepEqual(err1, err2) || err2.Msg != "batch operation 1: not found: t/nope" {
		t.Fatalf("retried failing batch: %+v, first %+v", err2, err1)
	}
	// An empty batch is a write too.
	rs, _, err = s.BatchKeyed("empty", nil, 7)
	ok(t, err)
	rs2, repeated, err = s.BatchKeyed("empty", []Op{}, 8)
	if err != nil || !repeated || len(rs) != 0 || len(rs2) != 0 {
		t.Fatalf("empty batch retried: %v %v %v", rs2, repeated, err)
	}
}

func TestIdempotencyKeyLimits(t *testing.T) {
	s := newStore(t, Options{})
	op := Op{Kind: KindInsert, Type: "t", ID: "a", Value: val(1, 1)}
	_, _, err := s.ApplyKeyed(strings.Repeat("k", MaxIdempotencyKeyBytes+1), &op, 1)
	wantCode(t, err, InvalidArgument, -1)
	if s.Stats().CurrentSequence != 0 {
		t.Fatal("a write with a key too long was applied")
	}
	_, repeated, err := s.ApplyKeyed(strings.Repeat("k", MaxIdempotencyKeyBytes), &op, 1)
	ok(t, err)
	op.ID = "b"
	r, repeated2, err := s.ApplyKeyed("", &op, 2) // no key
	ok(t, err)
	if repeated || repeated2 || r.Sequence != 2 || s.Stats().IdempotencyKeys != 1 {
		t.Fatalf("%v %v %+v %+v", repeated, repeated2, r, s.Stats())
	}
	_, _, err = s.BatchKeyed("k", make([]Op, MaxBatchOps+1), 3)
	wantCode(t, err, InvalidArgument, -1)
}

// update under key at ts and report whether it was applied (not repeated).
func keyedUpdate(t *testing.T, s *Store, key string, ts int64) bool {
	t.Helper()
	op := Op{Kind: KindUpdate, Type: "t", ID: "a", Value: val(1, 1)}
	_, repeated, err := s.ApplyKeyed(key, &op, ts)
	ok(t, err)
	return !repeated
}

func TestIdempotencyKeysEvictedByCount(t *testing.T) {
	s := newStore(t, Options{IdempotencyKeys: 3})
	_, err := s.Insert("t", "a", val(1, 1), 0)
	ok(t, err)
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		if !keyedUpdate(t, s, k, 1) {
			t.Fatalf("%s repeated", k)
		}
	}
	if n := s.Stats().IdempotencyKeys; n != 3 {
		t.Fatalf("%d keys, want 3", n)
	}
	for _, k := range []string{"k3", "k4", "k5"} {
		if keyedUpdate(t, s, k, 2) {
			t.Fatalf("%s was forgotten", k)
		}
	}
	if !keyedUpdate(t, s, "k1", 2) { // forgotten, so applied again; it evicts k3
		t.Fatal("k1 was remembered")
	}
	if !keyedUpdate(t, s, "k3", 3) {
		t.Fatal("k3 was remembered after k1 came back")
	}
	if got := keysOf(s); !reflect.DeepEqual(got, []string{"k5", "k1", "k3"}) {
		t.Fatalf("table %v", got)
	}
}

func keysOf(s *Store) []string {
	var out []string
	for _, e := range s.idem.list() {
		out = append(out, e.key)
	}
	return out
}

func TestIdempotencyKeysExpire(t *testing.T) {
	s := newStore(t, Options{IdempotencyTTL: 100})
	_, err := s.Insert("t", "a", val(1, 1), 0)
	ok(t, err)
	keyedUpdate(t, s, "old", 1000)
	keyedUpdate(t, s, "new", 1050)
	if keyedUpdate(t, s, "old", 1099) {
		t.Fatal("old forgotten before its time")
	}
	if keyedUpdate(t, s, "old", 900) { // timestamps need not be monotonic
		t.Fatal("old forgotten at an earlier time")
	}
	if !keyedUpdate(t, s, "old", 1100) { // expired: applied again, and re-remembered
		t.Fatal("old remembered past its time")
	}
	if got := keysOf(s); !reflect.DeepEqual(got, []string{"new", "old"}) {
		t.Fatalf("table %v", got)
	}
	keyedUpdate(t, s, "later", 1150) // new (1050) expired at 1150: forgotten from the oldest
	if got := keysOf(s); !reflect.DeepEqual(got, []string{"old", "later"}) {
		t.Fatalf("table %v", got)
	}
	// Extreme timestamps do not overflow.
	keyedUpdate(t, s, "min", -1<<63)
	if !keyedUpdate(t, s, "min", 1<<63-1) {
		t.Fatal("a key at the smallest time was remembered at the largest")
	}
}

func TestIdempotencyKeysEvictedByBytes(t *testing.T) {
	s := newStore(t, Options{IdempotencyBytes: 2 * (idemEntryOverhead + idemOutcomeBytes + 2)})
	_, err := s.Insert("t", "a", val(1, 1), 0)
	ok(t, err)
	_, err = s.Insert("t", "b", val(1000, 1), 0)
	ok(t, err)
	keyedUpdate(t, s, "k1", 1)
	keyedUpdate(t, s, "k2", 2)
	if got := keysOf(s); !reflect.DeepEqual(got, []string{"k1", "k2"}) {
		t.Fatalf("table %v", got)
	}
	keyedUpdate(t, s, "k3", 3)
	if got := keysOf(s); !reflect.DeepEqual(got, []string{"k2", "k3"}) {
		t.Fatalf("table %v", got)
	}
	// A delete remembers the removed value: alone over the bound, it is
	// kept, alone, until the next key.
	del := Op{Kind: KindDelete, Type: "t", ID: "b"}
	_, _, err = s.ApplyKeyed("big", &del, 4)
	ok(t, err)
	st := s.Stats()
	if got := keysOf(s); !reflect.DeepEqual(got, []string{"big"}) || st.IdempotencyBytes < 1000 {
		t.Fatalf("table %v, %+v", got, st)
	}
	r, repeated, err := s.ApplyKeyed("big", &del, 5)
	if err != nil || !repeated || !bytes.Equal(r.Actor.Value, val(1000, 1)) {
		t.Fatalf("big retried: %+v %v %v", r, repeated, err)
	}
	keyedUpdate(t, s, "k4", 7)
	if got := keysOf(s); !reflect.DeepEqual(got, []string{"k4"}) || s.Stats().IdempotencyBytes != uint64(idemEntryOverhead+idemOutcomeBytes+2) {
		t.Fatalf("table %v, %+v", got, s.Stats())
	}
}

// keyedScript runs the same keyed writes on a store: used to check that
// two stores given the same writes have the same table.
func keyedScript(t testing.TB, o Options) (*Store, [][]byte) {
	s := newStore(t, o)
	var log [][]byte
	for i := 0; i < 300; i++ {
		key := "k" + string(rune('a'+i%37))
		ts := int64(i * 7 % 101)
		var ops []Op
		batch := i%5 == 0
		if batch {
			ops = []Op{{Kind: KindInsert, Type: "t", ID: string(rune('a' + i%11)), Value: val(i%30, byte(i))},
				{Kind: KindDelete, Type: "t", ID: string(rune('a' + i%13))}}
		} else {
			ops = []Op{{Kind: Kind(1 + i%4), Type: "t", ID: string(rune('a' + i%7)), Value: val(i%50, byte(i)), Expected: uint64(i % 3)}}
		}
		before := s.Stats().CurrentSequence
		var repeated bool
		var err *Error
		if batch {
			_, repeated, err = s.BatchKeyed(key, ops, ts)
		} else {
			_, repeated, err = s.ApplyKeyed(key, &ops[0], ts)
		}
		if err == nil && !repeated && s.Stats().CurrentSequence != before {
			log = append(log, AppendKeyedRecord(nil, before+1, ts, key, batch, ops))
		}
	}
	return s, log
}

func TestIdempotencyTableIsDeterministic(t *testing.T) {
	o := Options{IdempotencyKeys: 20, IdempotencyTTL: 60, IdempotencyBytes: 20 << 10}
	a, _ := keyedScript(t, o)
	b, _ := keyedScript(t, o)
	sa, sb := streamSnapshot(a, 1<<20), streamSnapshot(b, 1<<20)
	if !bytes.Equal(sa, sb) {
		t.Fatal("the same writes made different snapshots")
	}
	if a.Stats().IdempotencyKeys == 0 || a.Stats().IdempotencyKeys > 20 {
		t.Fatalf("stats %+v", a.Stats())
	}
}

// retryAll retries every remembered write of from on to at ts, checking
// that to answers each one as from does, and returns how many it did.
func retryAll(t *testing.T, from, to *Store, ts int64) int {
	t.Helper()
	n := 0
	for _, e := range from.idem.list() {
		if expired(e, ts, from.opts.IdempotencyTTL) {
			continue
		}
		g := to.idem.find(e.key, ts, to.opts.IdempotencyTTL)
		if g == nil {
			t.Fatalf("key %q not remembered", e.key)
		}
		if g.fp != e.fp || g.first != e.first || !reflect.DeepEqual(g.out, e.out) || !reflect.DeepEqual(g.err, e.err) || g.ts != e.ts || g.size != e.size {
			t.Fatalf("key %q: %+v, want %+v", e.key, g, e)
		}
		n++
	}
	return n
}

func TestSnapshotCarriesIdempotencyKeys(t *testing.T) {
	o := Options{IdempotencyKeys: 30, IdempotencyTTL: 1000}
	s, _ := keyedScript(t, o)
	snap := streamSnapshot(s, 100)
	if v := snap[8]; v != snapshotVersionKeys {
		t.Fatalf("snapshot version %d, want %d", v, snapshotVersionKeys)
	}
	for _, split := range []int{1, 7, 1 << 20} {
		r, err := restoreBytes(o, snap, split)
		ok(t, err)
		sameState(t, r, snapshot(s, "t"))
		if n := retryAll(t, s, r, 100); n != 30 {
			t.Fatalf("%d keys compared, want 30", n)
		}
		if again := streamSnapshot(r, 1<<20); !bytes.Equal(again, snap) {
			t.Fatal("a restored store's snapshot differs")
		}
	}
	// Restored with smaller bounds, the oldest are forgotten.
	r, err := restoreBytes(Options{IdempotencyKeys: 5}, snap, 1<<20)
	ok(t, err)
	if got, want := keysOf(r), keysOf(s)[25:]; !reflect.DeepEqual(got, want) {
		t.Fatalf("restored %v, want %v", got, want)
	}
	// A store without keys still writes version 1.
	plain := newStore(t, Options{})
	_, err = plain.Insert("t", "a", val(1, 1), 1)
	ok(t, err)
	if v := streamSnapshot(plain, 1<<20)[8]; v != snapshotVersion {
		t.Fatalf("version %d", v)
	}
}

// TestSnapshotKeysSpanFrames: a batch that deleted more than a frame's
// worth of values is remembered whole, its results split across frames.
func TestSnapshotKeysSpanFrames(t *testing.T) {
	s := newStore(t, Options{})
	var ops []Op
	for i := 0; i < 40; i++ {
		id := string(rune(0x100 + i))
		_, err := s.Insert("t", id, val(10_000, byte(i)), 1)
		ok(t, err)
		ops = append(ops, Op{Kind: KindDelete, Type: "t", ID: id})
	}
	rs, _, err := s.BatchKeyed("big", ops, 2)
	ok(t, err)
	snap := streamSnapshot(s, 1)
	r, err := restoreBytes(Options{}, snap, 999)
	ok(t, err)
	rs2, repeated, err := r.BatchKeyed("big", ops, 3)
	if err != nil || !repeated || !reflect.DeepEqual(rs, rs2) {
		t.Fatalf("retried on the restored store: %v %v", repeated, err)
	}
}

func TestRestoreRefusesDamagedKeys(t *testing.T) {
	o := Options{IdempotencyKeys: 5}
	s, _ := keyedScript(t, o)
	snap := streamSnapshot(s, 1<<20)
	for n := 0; n < len(snap); n++ {
		if _, err := restoreBytes(o, snap[:n], 1<<20); err == nil {
			t.Fatalf("truncated at %d of %d: restored", n, len(snap))
		}
	}
	for i := range snap {
		b := bytes.Clone(snap)
		b[i] ^= 0x10
		if _, err := restoreBytes(o, b, 1<<20); err == nil {
			t.Fatalf("byte %d flipped: restored", i)
		}
	}
	// Keys frames in a version-1 stream are refused.
	b := bytes.Clone(snap)
	b[8] = snapshotVersion
	if _, err := restoreBytes(o, b, 1<<20); err == nil || !strings.Contains(err.Msg, "frame kind 5") {
		t.Fatalf("version 1 with keys: %v", err)
	}
}

func TestReplayRebuildsIdempotencyKeys(t *testing.T) {
	o := Options{IdempotencyKeys: 1000, IdempotencyTTL: 1 << 40}
	s, log := keyedScript(t, o)
	r := newStore(t, o)
	for i, rec := range log {
		if _, _, err := r.Replay(bytes.Clone(rec)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	sameActorsAndEvents(t, r, s)
	// Every remembered write that made events is remembered after replay,
	// with the same answer.
	n := 0
	for _, e := range s.idem.list() {
		if e.err != nil || e.first == 0 {
			continue
		}
		g := r.idem.find(e.key, 0, o.IdempotencyTTL)
		if g == nil || g.fp != e.fp || g.first != e.first || !reflect.DeepEqual(g.out, e.out) {
			t.Fatalf("key %q after replay: %+v, want %+v", e.key, g, e)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d keys compared", n)
	}
	// A record that makes no event is refused and leaves the table alone.
	before := r.Stats()
	rec := AppendKeyedRecord(nil, before.CurrentSequence+1, 5, "none", false, []Op{{Kind: KindDelete, Type: "t", ID: "never"}})
	_, _, err := r.Replay(rec)
	wantCode(t, err, InvalidArgument, -1)
	if r.Stats() != before {
		t.Fatalf("stats %+v, want %+v", r.Stats(), before)
	}
}

// TestReplayReplacesALiveKey: a record is the truth about its key, even
// when the table holds an entry of it (one a refused write made, which the
// log does not hold).
func TestReplayReplacesALiveKey(t *testing.T) {
	s := newStore(t, Options{})
	upd := Op{Kind: KindUpdate, Type: "t", ID: "a", Value: val(1, 1)}
	_, _, err := s.ApplyKeyed("k", &upd, 1)
	wantCode(t, err, NotFound, -1)
	ins := Op{Kind: KindInsert, Type: "t", ID: "a", Value: val(1, 1)}
	_, _, err = s.Replay(AppendKeyedRecord(nil, 1, 2, "k", false, []Op{ins}))
	ok(t, err)
	r, repeated, err := s.ApplyKeyed("k", &ins, 3)
	if err != nil || !repeated || r.Sequence != 1 || s.Stats().IdempotencyKeys != 1 {
		t.Fatalf("%+v %v %v", r, repeated, err)
	}
}

func TestKeyedRecordLayout(t *testing.T) {
	got := AppendKeyedRecord(nil, 300, -2, "ky", true, []Op{{Kind: KindDelete, Type: "t", ID: "c"}})
	want := []byte{2, 0xac, 0x02, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 'k', 'y', 1, 1,
		4, 1, 't', 1, 'c'}
	if !bytes.Equal(got, want) {
		t.Fatalf("record\n got %x\nwant %x", got, want)
	}
	rec, err := DecodeRecord(want)
	ok(t, err)
	if rec.Key != "ky" || !rec.Batch || rec.FirstSeq != 300 || len(rec.Ops) != 1 {
		t.Fatalf("%+v", rec)
	}
	if seq, ok := RecordSequence(want); !ok || seq != 300 {
		t.Fatalf("RecordSequence %d %v", seq, ok)
	}
	for n := range want {
		if _, err := DecodeRecord(want[:n]); err == nil {
			t.Fatalf("a record cut at %d decoded", n)
		}
	}
	if !bytes.Equal(AppendKeyedRecord(nil, 300, -2, "", true, []Op{{Kind: KindDelete, Type: "t", ID: "c"}}),
		AppendRecord(nil, 300, -2, []Op{{Kind: KindDelete, Type: "t", ID: "c"}})) {
		t.Fatal("a record without a key is not format 1")
	}
	for _, b := range [][]byte{
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 1, 't', 1, 'c'},                                      // empty key
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 2, 1, 4, 1, 't', 1, 'c'},                                 // batch flag 2
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 2, 4, 1, 't', 1, 'c', 4, 1, 't', 1, 'd'},              // two ops, not a batch
		append([]byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xa0, 0x02}, make([]byte, 257)...),                  // key too long
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 1, 4, 1, 't', 1, 'c', 0},                              // trailing byte
		{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 1, 4, 1, 't', 1, 'c'},                                 // sequence 0
		{3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 1, 4, 1, 't', 1, 'c'},                                 // format 3
		[]byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 1, 4, 1, 't', 1, 'c'}[:11],                      // cut in the key
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 1, 9, 1, 't', 1, 'c'},                                 // unknown kind
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 0},                                                    // no ops
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0, 1, 1, 1, 't', 1, 'c', 5, 0xf6},                        // value past the end
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0x80, 1, 4, 1, 't', 1, 'c'},                              // flag 0x80
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, // bad varint
	} {
		if rec, err := DecodeRecord(b); err == nil || err.Code != InvalidArgument {
			t.Fatalf("%x decoded: %+v, %v", b, rec, err)
		}
	}
}

// sameActorsAndEvents is checkSame without the idempotency keys, which a
// log replays only in part.
func sameActorsAndEvents(t *testing.T, got, want *Store) {
	t.Helper()
	types := append(validFuzzTypes(), "t")
	g, w := snapshot(got, types...), snapshot(want, types...)
	g.Stats.IdempotencyKeys, g.Stats.IdempotencyBytes = 0, 0
	w.Stats.IdempotencyKeys, w.Stats.IdempotencyBytes = 0, 0
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("state differs:\n got %+v\nwant %+v", g, w)
	}
}

// refKey is the model's remembered write: the request and its first
// answer (the store's error message too, which the model does not make).
type refKey struct {
	key   string
	ts    int64
	batch bool
	ops   []Op
	rs    []Result
	err   *Error
	msg   string
}

// keyedCase runs one FuzzKeyedOps input: a store, the model of its
// actors (refStore) and of its table, and the log of its records.
type keyedCase struct {
	t     *testing.T
	s     *Store
	ref   *refStore
	keys  []refKey // oldest first
	in    *fuzzBytes
	ts    int64
	maxTS int64
	log   [][]byte
}

var fuzzKeys = []string{"", "k1", "k2", "k3", "k4", "k5", "k6", strings.Repeat("x", MaxIdempotencyKeyBytes+1)}

func sameOps(a, b []Op) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Kind != y.Kind || x.Type != y.Type || x.ID != y.ID ||
			x.Kind != KindDelete && !bytes.Equal(x.Value, y.Value) || x.Kind == KindUpdateVersioned && x.Expected != y.Expected {
			return false
		}
	}
	return true
}

func (c *keyedCase) expired(k *refKey, ts int64) bool {
	return ts > k.ts && uint64(ts)-uint64(k.ts) >= uint64(c.s.opts.IdempotencyTTL)
}

// want is the model's answer to a keyed write.
func (c *keyedCase) want(key string, batch bool, ops []Op, ts int64) (rs []Result, repeated bool, err *Error, remember func(msg string)) {
	apply := func() ([]Result, *Error) {
		if batch {
			return c.ref.batch(ops, ts)
		}
		r, err := c.ref.apply(&ops[0], ts)
		if err != nil {
			return nil, err
		}
		return []Result{r}, nil
	}
	if key == "" {
		rs, err = apply()
		return rs, false, err, nil
	}
	if len(key) > MaxIdempotencyKeyBytes {
		return nil, false, &Error{Code: InvalidArgument, Index: -1}, nil
	}
	for i := range c.keys {
		if k := &c.keys[i]; k.key == key && !c.expired(k, ts) {
			if k.batch != batch || !sameOps(k.ops, ops) {
				return nil, false, &Error{Code: InvalidArgument, Index: -1}, nil
			}
			return k.rs, true, k.err, nil
		}
	}
	rs, err = apply()
	if err != nil && !rememberedCode(err.Code) {
		return nil, false, err, nil
	}
	return rs, false, err, func(msg string) {
		c.keys = slices.DeleteFunc(c.keys, func(k refKey) bool { return k.key == key })
		for len(c.keys) > 0 && c.expired(&c.keys[0], ts) {
			c.keys = c.keys[1:]
		}
		c.keys = append(c.keys, refKey{key: key, ts: ts, batch: batch, ops: ops, rs: rs, err: err, msg: msg})
		if len(c.keys) > c.s.opts.IdempotencyKeys {
			c.keys = c.keys[len(c.keys)-c.s.opts.IdempotencyKeys:]
		}
	}
}

func (c *keyedCase) step() {
	c.ts += int64(c.in.next()) - 64
	c.maxTS = max(c.maxTS, c.ts)
	key := fuzzKeys[int(c.in.next())%len(fuzzKeys)]
	batch := c.in.next()%3 == 0
	ops := make([]Op, 1)
	if batch {
		ops = make([]Op, c.in.next()%4)
	}
	for i := range ops {
		ops[i] = c.in.op()
	}
	before := c.s.Stats().CurrentSequence
	var got []Result
	var repeated bool
	var err *Error
	if batch {
		got, repeated, err = c.s.BatchKeyed(key, ops, c.ts)
	} else {
		var r Result
		r, repeated, err = c.s.ApplyKeyed(key, &ops[0], c.ts)
		if err == nil {
			got = []Result{r}
		}
	}
	want, wrep, werr, remember := c.want(key, batch, ops, c.ts)
	if repeated != wrep || !sameError(err, werr) || len(got) != len(want) {
		c.t.Fatalf("%q %v %+v: %+v %v %+v; want %+v %v %+v", key, batch, ops, got, repeated, err, want, wrep, werr)
	}
	for i := range got {
		if !sameResult(&got[i], &want[i]) {
			c.t.Fatalf("%q %+v result %d: %+v, want %+v", key, ops, i, got[i], want[i])
		}
	}
	if repeated && werr != nil {
		for _, k := range c.keys {
			if k.key == key && k.msg != err.Msg {
				c.t.Fatalf("%q repeated %q, first %q", key, err.Msg, k.msg)
			}
		}
	}
	if remember != nil {
		msg := ""
		if err != nil {
			msg = err.Msg
		}
		remember(msg)
	}
	if err == nil && !repeated && c.s.Stats().CurrentSequence != before {
		if len(ops) != 1 {
			batch = true
		}
		c.log = append(c.log, AppendKeyedRecord(nil, before+1, c.ts, key, batch, ops))
	}
}

// check compares the table with the model, then checks that a snapshot
// restores it and that a replay of the log remembers every write that
// made events, answering its retry as the first time.
func (c *keyedCase) check() {
	if got := keysOf(c.s); !slices.Equal(got, slices.Collect(func(yield func(string) bool) {
		for _, k := range c.keys {
			if !yield(k.key) {
				return
			}
		}
	})) {
		c.t.Fatalf("table %q, model %+v", got, c.keys)
	}
	o := c.s.opts
	snap := streamSnapshot(c.s, 64)
	r, err := restoreBytes(o, snap, 13)
	ok(c.t, err)
	if again := streamSnapshot(r, 1<<20); !bytes.Equal(again, snap) {
		c.t.Fatal("a restored store's snapshot differs")
	}
	retryAll(c.t, c.s, r, c.maxTS)

	replayed := newStore(c.t, o)
	for i, rec := range c.log {
		if _, _, err := replayed.Replay(bytes.Clone(rec)); err != nil {
			c.t.Fatalf("replay of record %d: %v", i, err)
		}
	}
	sameActorsAndEvents(c.t, replayed, c.s)
	for _, k := range c.keys {
		made := slices.ContainsFunc(k.rs, func(r Result) bool { return r.Found })
		if k.err != nil || !made || c.expired(&k, c.maxTS) {
			continue
		}
		var got []Result
		var repeated bool
		var err *Error
		if k.batch {
			got, repeated, err = replayed.BatchKeyed(k.key, k.ops, c.maxTS)
		} else {
			var r Result
			r, repeated, err = replayed.ApplyKeyed(k.key, &k.ops[0], c.maxTS)
			got = []Result{r}
		}
		if err != nil || !repeated || !slices.EqualFunc(got, k.rs, func(a, b Result) bool { return sameResult(&a, &b) }) {
			c.t.Fatalf("key %q after replay: %+v %v %v, want %+v", k.key, got, repeated, err, k.rs)
		}
	}
}

// FuzzKeyedOps runs keyed writes — single and batches, keys from a small
// set (so retries, reuse for other writes, expiry and eviction by count
// happen), timestamps going back and forth — on a Store and on a model of
// the contract: at most once, the first answer (refusals included), the
// key's other writes refused, the oldest and the expired forgotten. Then
// the table survives a snapshot, and replaying the log remembers every
// remembered write that made events.
func FuzzKeyedOps(f *testing.F) {
	for _, b := range storeOpsSeeds {
		f.Add(b)
	}
	f.Add([]byte(strings.Repeat("\x40\x01\x01\x01\x00\x01\x05\x40\x01\x00\x01\x02\x00\x01\x02\x40\x02\x03\x03\x00\x00\x01", 10)))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &fuzzBytes{b}
		o := Options{ReplayBufferSize: 50, MaxValueBytes: 16 + 2*int(in.next()),
			IdempotencyKeys: 1 + int(in.next()%6), IdempotencyTTL: 1 + int64(in.next())*4, IdempotencyBytes: 1 << 30}
		overhead := actorCost(t, "t", "i", val(0, 0)) - 3
		o.MaxDataBytes = maxDataBytes(in.next(), overhead)
		c := &keyedCase{t: t, s: newStore(t, o), in: in, ts: 1000,
			ref: &refStore{o: o, overhead: overhead, actors: map[[2]string]Actor{}}}
		c.maxTS = c.ts
		for i := 0; i < 200 && len(c.in.b) > 0; i++ {
			c.step()
		}
		c.check()
	})
}

// A remembered delete's removed value is the store's own copy: the arena
// reuses the removed record once no retained event shows it, and the
// writes after it must not change the answer a retry gets.
func TestKeyedDeleteKeepsItsValueAfterReuse(t *testing.T) {
	s := newStore(t, Options{ReplayBufferSize: 1})
	_, err := s.Insert("t", "a", val(3, 3), 1)
	ok(t, err)
	del := Op{Kind: KindDelete, Type: "t", ID: "a"}
	_, repeated, err := s.ApplyKeyed("k", &del, 2)
	ok(t, err)
	if repeated {
		t.Fatal("first delete repeated")
	}
	for i := range 50 { // records of the same size, the one freed among them
		_, err = s.Insert("t", string(rune('b'+i)), val(3, 9), int64(3+i))
		ok(t, err)
	}
	r, repeated, err := s.ApplyKeyed("k", &del, 60)
	ok(t, err)
	if !repeated || !r.Found || r.Sequence != 2 || !bytes.Equal(r.Actor.Value, val(3, 3)) {
		t.Fatalf("delete retried after its record was reused: %+v, repeated %v", r, repeated)
	}
}
