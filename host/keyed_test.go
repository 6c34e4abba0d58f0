package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
)

// stepClock returns a clock that advances by step at each reading.
func stepClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := time.Unix(1_700_000_000, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

func keyed(key string) context.Context {
	return WithIdempotencyKey(context.Background(), key)
}

func seqOf(t *testing.T, s *Store) uint64 {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.CurrentSequence
}

func TestKeyedWrites(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		s := mustOpen(t, e, Options{})
		ctx := context.Background()
		a, err := s.Insert(keyed("i"), "t", "a", 1)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			again, err := s.Insert(keyed("i"), "t", "a", 1)
			if err != nil || !reflect.DeepEqual(again, a) {
				t.Fatalf("retried insert: %+v %v, first %+v", again, err, a)
			}
		}
		// Without the key, the same insert is refused: it was applied once.
		if _, err := s.Insert(ctx, "t", "a", 1); !errors.Is(err, ErrAlreadyExists) {
			t.Fatalf("insert without the key: %v", err)
		}
		u, err := s.Update(keyed("u"), "t", "a", 2)
		if err != nil || u.Version != 1 {
			t.Fatal(u, err)
		}
		if u2, err := s.Update(keyed("u"), "t", "a", 2); err != nil || !reflect.DeepEqual(u2, u) {
			t.Fatalf("retried update: %+v %v", u2, err)
		}
		cas, err := s.UpdateVersioned(keyed("cas"), "t", "a", 3, 1)
		if err != nil || cas.Version != 2 {
			t.Fatal(cas, err)
		}
		if c2, err := s.UpdateVersioned(keyed("cas"), "t", "a", 3, 1); err != nil || !reflect.DeepEqual(c2, cas) {
			t.Fatalf("retried CAS: %+v %v", c2, err)
		}
		d, ok, err := s.Delete(keyed("d"), "t", "a")
		if err != nil || !ok || d.Version != 2 {
			t.Fatal(d, ok, err)
		}
		if _, err := s.Insert(ctx, "t", "a", 9); err != nil {
			t.Fatal(err)
		}
		if d2, ok2, err := s.Delete(keyed("d"), "t", "a"); err != nil || !ok2 || !reflect.DeepEqual(d2, d) {
			t.Fatalf("retried delete: %+v %v %v, first %+v", d2, ok2, err, d)
		}
		if got, ok, _ := s.Get(ctx, "t", "a"); !ok || got.Version != 0 {
			t.Fatalf("the retried delete removed the new actor: %+v %v", got, ok)
		}
		if _, ok, err := s.Delete(keyed("absent"), "t", "zz"); ok || err != nil {
			t.Fatal(ok, err)
		}
		if _, ok, err := s.Delete(keyed("absent"), "t", "zz"); ok || err != nil {
			t.Fatal(ok, err)
		}
		if seq := seqOf(t, s); seq != 5 {
			t.Fatalf("sequence %d, want 5: a retry was applied", seq)
		}
		// An empty key is no key.
		if _, err := s.Insert(keyed(""), "t", "e", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Insert(keyed(""), "t", "e", 1); !errors.Is(err, ErrAlreadyExists) {
			t.Fatalf("empty key: %v", err)
		}
		st, err := s.Stats(ctx)
		if err != nil || st.IdempotencyKeys != 5 || st.IdempotencyBytes == 0 {
			t.Fatalf("stats %+v %v", st, err)
		}
	})
}

func TestKeyedRefusals(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		s := mustOpen(t, e, Options{})
		ctx := context.Background()
		if _, err := s.Insert(ctx, "t", "a", 1); err != nil {
			t.Fatal(err)
		}
		_, err := s.UpdateVersioned(keyed("cas"), "t", "a", 2, 5)
		var vm *VersionMismatchError
		if !errors.As(err, &vm) || vm.Expected != 5 || vm.Actual != 0 {
			t.Fatalf("CAS: %v", err)
		}
		for range 4 { // the actor moves on; the retry still gets the first answer
			if _, err := s.Update(ctx, "t", "a", 3); err != nil {
				t.Fatal(err)
			}
		}
		_, err2 := s.UpdateVersioned(keyed("cas"), "t", "a", 2, 5)
		var vm2 *VersionMismatchError
		if !errors.As(err2, &vm2) || *vm2 != *vm || err2.Error() != err.Error() {
			t.Fatalf("retried CAS: %v, first %v", err2, err)
		}
		// Another request under the same key.
		for _, f := range []func() error{
			func() error { _, err := s.UpdateVersioned(keyed("cas"), "t", "a", 2, 4); return err },
			func() error { _, err := s.UpdateVersioned(keyed("cas"), "t", "b", 2, 5); return err },
			func() error { _, err := s.Update(keyed("cas"), "t", "a", 2); return err },
			func() error { _, _, err := s.Delete(keyed("cas"), "t", "a"); return err },
			func() error { _, err := s.Batch(keyed("cas"), UpdateVersionedOp("t", "a", 2, 5)); return err },
		} {
			if err := f(); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "idempotency key reused for a different write") {
				t.Fatalf("reused key: %v", err)
			}
		}
		// A request refused for itself is not remembered.
		if _, err := s.Insert(keyed("fix"), "t", "b", cbor.RawMessage{0x82, 0x01}); !errors.Is(err, ErrInvalidValue) {
			t.Fatal(err)
		}
		if _, err := s.Insert(keyed("fix"), "t", "b", 1); err != nil {
			t.Fatalf("corrected request: %v", err)
		}
		if _, err := s.Insert(keyed(strings.Repeat("k", 257)), "t", "c", 1); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("a key of 257 bytes: %v", err)
		}
	})
}

func TestKeyedBatch(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		s := mustOpen(t, e, Options{})
		ctx := context.Background()
		if _, err := s.Insert(ctx, "t", "x", "old"); err != nil {
			t.Fatal(err)
		}
		ops := []BatchOp{InsertOp("t", "a", 1), UpdateOp("t", "a", 2), DeleteOp("t", "x"), DeleteOp("t", "nope")}
		rs, err := s.Batch(keyed("b"), ops...)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			rs2, err := s.Batch(keyed("b"), ops...)
			if err != nil || !reflect.DeepEqual(rs2, rs) {
				t.Fatalf("retried batch: %+v %v, first %+v", rs2, err, rs)
			}
		}
		var old string
		if err := rs[2].Actor.Decode(&old); err != nil || old != "old" || rs[3].Found {
			t.Fatalf("results %+v", rs)
		}
		// A failing batch: its error, index included, is remembered.
		bad := []BatchOp{InsertOp("t", "c", 1), UpdateOp("t", "missing", 1)}
		_, err = s.Batch(keyed("bad"), bad...)
		var be *BatchError
		if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ErrNotFound) {
			t.Fatalf("failing batch: %v", err)
		}
		if _, err := s.Insert(ctx, "t", "missing", 1); err != nil {
			t.Fatal(err)
		}
		_, err2 := s.Batch(keyed("bad"), bad...)
		if !errors.As(err2, &be) || be.Index != 1 || err2.Error() != err.Error() {
			t.Fatalf("retried failing batch: %v", err2)
		}
		if seq := seqOf(t, s); seq != 5 {
			t.Fatalf("sequence %d, want 5", seq)
		}
	})
}

func TestIdempotencyOptions(t *testing.T) {
	for _, o := range []Options{{IdempotencyKeys: -1}, {IdempotencyTTL: -time.Second}, {IdempotencyBytes: 2 << 30},
		{IdempotencyKeys: 10_000_001}} {
		if _, err := Open(context.Background(), o); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidArgument", o, err)
		}
	}
	eachEngine(t, func(t *testing.T, e Engine) {
		s := mustOpen(t, e, Options{})
		if o := s.Options(); o.IdempotencyKeys != 100_000 || o.IdempotencyTTL != 24*time.Hour || o.IdempotencyBytes != 64<<20 {
			t.Fatalf("defaults %+v", o)
		}
		// Bounds reach the engine: two keys, a minute.
		s = mustOpen(t, e, Options{IdempotencyKeys: 2, IdempotencyTTL: time.Minute, Clock: stepClock(time.Second)})
		ctx := context.Background()
		if _, err := s.Insert(ctx, "t", "a", 0); err != nil {
			t.Fatal(err)
		}
		update := func(key string) uint64 {
			a, err := s.Update(keyed(key), "t", "a", 1)
			if err != nil {
				t.Fatal(err)
			}
			return a.Version
		}
		v1 := update("k1")
		update("k2")
		update("k3") // k1 forgotten
		if v := update("k1"); v == v1 {
			t.Fatal("k1 was remembered past IdempotencyKeys")
		}
		v3 := update("k3")
		for i := range 70 { // a minute of clock readings
			if _, err := s.Insert(ctx, "u", fmt.Sprint(i), 0); err != nil {
				t.Fatal(err)
			}
		}
		if v := update("k3"); v == v3 {
			t.Fatal("k3 was remembered past IdempotencyTTL")
		}
		// k1, older than a minute, was forgotten when k3 came back.
		if st, _ := s.Stats(ctx); st.IdempotencyKeys != 1 {
			t.Fatalf("%d keys, want 1", st.IdempotencyKeys)
		}
	})
}

// copyDir copies a durable store's directory while it is open: what a
// process killed at that moment leaves behind (every acknowledged record
// is written).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyedWritesSurviveRestarts: a durable store remembers the keys of
// its writes across Close and Open, a crash, and a checkpoint; a retry
// gets the first answer and is not applied twice.
func TestKeyedWritesSurviveRestarts(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		dir := filepath.Join(t.TempDir(), "store")
		s := openDir(t, e, dir, Options{})
		if _, err := s.Insert(ctx, "t", "x", "removed"); err != nil {
			t.Fatal(err)
		}
		a, err := s.Insert(keyed("ins"), "t", "a", 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := s.Delete(keyed("del"), "t", "x")
		if err != nil {
			t.Fatal(err)
		}
		rs, err := s.Batch(keyed("batch"), InsertOp("t", "b", 1), UpdateOp("t", "a", 2))
		if err != nil {
			t.Fatal(err)
		}
		_, refused := s.Update(keyed("refused"), "t", "nope", 1)
		if !errors.Is(refused, ErrNotFound) {
			t.Fatal(refused)
		}
		retry := func(t *testing.T, s *Store, wantSeq uint64) {
			t.Helper()
			if a2, err := s.Insert(keyed("ins"), "t", "a", 1); err != nil || !reflect.DeepEqual(a2, a) {
				t.Fatalf("insert: %+v %v, want %+v", a2, err, a)
			}
			if d2, ok, err := s.Delete(keyed("del"), "t", "x"); err != nil || !ok || !reflect.DeepEqual(d2, d) {
				t.Fatalf("delete: %+v %v %v, want %+v", d2, ok, err, d)
			}
			if rs2, err := s.Batch(keyed("batch"), InsertOp("t", "b", 1), UpdateOp("t", "a", 2)); err != nil || !reflect.DeepEqual(rs2, rs) {
				t.Fatalf("batch: %+v %v, want %+v", rs2, err, rs)
			}
			if seq := seqOf(t, s); seq != wantSeq {
				t.Fatalf("sequence %d, want %d: a retry was applied", seq, wantSeq)
			}
		}
		retry(t, s, 5)

		// A crash: the directory as a killed process leaves it.
		crashed := filepath.Join(t.TempDir(), "crashed")
		copyDir(t, dir, crashed)
		c := openDir(t, e, crashed, Options{})
		retry(t, c, 5)
		// A refused write leaves no record: after a restart its key is
		// free (remembered, another request under it would be refused).
		if _, err := c.Update(keyed("refused"), "t", "b", 5); err != nil {
			t.Fatalf("the refused write's key after a crash: %v", err)
		}
		closeStore(t, c)

		closeStore(t, s)
		s = openDir(t, e, dir, Options{})
		retry(t, s, 5)
		st, _ := s.Stats(ctx)
		if st.IdempotencyKeys != 3 {
			t.Fatalf("%d keys after reopening, want 3 (the refused write's is not logged)", st.IdempotencyKeys)
		}
		// A checkpoint: the snapshot carries the keys, the refused one too.
		if _, err := s.Update(keyed("refused2"), "t", "nope", 1); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		closeStore(t, s)
		s = openDir(t, e, dir, Options{})
		defer closeStore(t, s)
		if r := s.Recovered(); r.Snapshot == "" || r.Records != 0 {
			t.Fatalf("recovery %+v", r)
		}
		retry(t, s, 5)
		if _, err := s.Insert(ctx, "t", "nope", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(keyed("refused2"), "t", "nope", 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the snapshot's refusal: %v", err)
		}
	})
}

// TestKeyedRecordsOnDisk: a keyed write's log record is format 2 and
// carries its key; an unkeyed one stays format 1.
func TestKeyedRecordsOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, EngineNative, dir, Options{})
	if _, err := s.Insert(context.Background(), "t", "plain", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(keyed("the-key"), "t", "keyed", 1); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	segs := mustGlob(t, filepath.Join(dir, "wal-*.log"))
	b, err := os.ReadFile(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	// The segment: a 16-byte header, then frames of a u32 length, two
	// CRCs and the record.
	var recs []core.Record
	for off := 16; off+12 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		rec, cerr := core.DecodeRecord(b[off+12 : off+12+n])
		if cerr != nil {
			t.Fatal(cerr)
		}
		recs = append(recs, rec)
		if b[off+12] != byte(len(recs)) { // format 1, then 2
			t.Fatalf("record %d is format %d", len(recs), b[off+12])
		}
		off += 12 + n
	}
	if len(recs) != 2 || recs[0].Key != "" || recs[1].Key != "the-key" || recs[1].Batch {
		t.Fatalf("records %+v", recs)
	}
}

// TestConcurrentRetries: writers retrying one key at once get one answer;
// the write is applied and logged once.
func TestConcurrentRetries(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		dir := t.TempDir()
		s := openDir(t, e, dir, Options{})
		ctx := context.Background()
		if _, err := s.Insert(ctx, "t", "a", 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		got := make([]Actor, 16)
		errs := make([]error, 16)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.Update(keyed("once"), "t", "a", "v")
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || !reflect.DeepEqual(got[i], got[0]) || got[i].Version != 1 {
				t.Fatalf("writer %d: %+v %v; writer 0: %+v", i, got[i], errs[i], got[0])
			}
		}
		closeStore(t, s)
		s = openDir(t, e, dir, Options{})
		defer closeStore(t, s)
		if r := s.Recovered(); r.Records != 2 {
			t.Fatalf("%d records replayed, want 2", r.Records)
		}
	})
}

// TestSnapshotRestoreCarriesKeys: the portable snapshot of a store with
// keys restores them on the other engine.
func TestSnapshotRestoreCarriesKeys(t *testing.T) {
	ctx := context.Background()
	src := mustOpen(t, EngineWASM, Options{})
	a, err := src.Insert(keyed("k"), "t", "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if v := buf.Bytes()[8]; v != 2 {
		t.Fatalf("snapshot version %d", v)
	}
	dst := mustOpen(t, EngineNative, Options{})
	if err := dst.Restore(ctx, io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if a2, err := dst.Insert(keyed("k"), "t", "a", 1); err != nil || !reflect.DeepEqual(a2, a) {
		t.Fatalf("retry on the restored store: %+v %v", a2, err)
	}
	var again bytes.Buffer
	if err := dst.Snapshot(ctx, &again); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatalf("the engines' snapshots differ (%v)", err)
	}
}

// BenchmarkUpdateKeyed is BenchmarkUpdate with a new idempotency key on
// every write: the table fills to IdempotencyKeys, then evicts one key per
// write.
func BenchmarkUpdateKeyed(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		r := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < b.N; i++ {
			k := r.IntN(benchActors)
			ctx := WithIdempotencyKey(context.Background(), "bench-key-"+strconv.Itoa(i))
			if _, err := bs.s.Update(ctx, benchType, benchID(k), bs.values[i%256]); err != nil {
				b.Fatal(err)
			}
			bs.versions[k]++
		}
	})
}
