package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"
)

// fillMixed makes a history of inserts, updates, deletes and batches.
func fillMixed(t testing.TB, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("a%04d", i%(n/2+1))
		var err error
		switch i % 5 {
		case 0, 1:
			_, err = s.Insert(ctx, "user", id, map[string]any{"n": i, "tags": []string{"x", "y"}})
			if errors.Is(err, ErrAlreadyExists) {
				_, err = s.Update(ctx, "user", id, i)
			}
		case 2:
			_, _, err = s.Delete(ctx, "user", fmt.Sprintf("a%04d", i/3))
		case 3:
			_, err = s.Batch(ctx, InsertOp("order", fmt.Sprintf("o%d", i), []byte("bytes")), DeleteOp("user", id))
		default:
			_, err = s.Update(ctx, "user", id, "text")
			if errors.Is(err, ErrNotFound) {
				err = nil
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// view is what a store shows: actors of the test types, stats and events.
type view struct {
	Actors [][]Actor
	Stats  Stats
	Events []ChangeEvent
}

func viewOf(t testing.TB, s *Store) view {
	t.Helper()
	ctx := context.Background()
	var v view
	for _, typ := range []string{"user", "order"} {
		all, err := s.GetAll(ctx, typ)
		if err != nil {
			t.Fatal(err)
		}
		v.Actors = append(v.Actors, all)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.ActiveSubscriptions = 0
	v.Stats = st
	p, err := s.Changes(ctx, st.OldestSequence-1, Filter{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	v.Events = p.Events
	return v
}

// mixedSnapshot is the snapshot of a store on engine e after
// fillMixed(n).
func mixedSnapshot(t testing.TB, e Engine, n int) []byte {
	t.Helper()
	src := mustOpen(t, e, Options{})
	fillMixed(t, src, n)
	return snapshotBytes(t, src)
}

func snapshotBytes(t testing.TB, s *Store) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.Snapshot(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSnapshotAcrossEngines: both engines write the same bytes for the
// same history, and each restores the other's snapshot to the same state.
func TestSnapshotAcrossEngines(t *testing.T) {
	o := Options{ReplayBufferSize: 100, Clock: fixedClock()}
	w, n := mustOpen(t, EngineWASM, o), mustOpen(t, EngineNative, Options{ReplayBufferSize: 100, Clock: fixedClock()})
	fillMixed(t, w, 600)
	fillMixed(t, n, 600)
	sw, sn := snapshotBytes(t, w), snapshotBytes(t, n)
	if !bytes.Equal(sw, sn) {
		t.Fatalf("engines wrote different snapshots: %d and %d bytes", len(sw), len(sn))
	}
	want := viewOf(t, w)
	for _, e := range engines {
		r := mustOpen(t, e, Options{ReplayBufferSize: 100})
		if _, err := r.Insert(context.Background(), "user", "gone", 1); err != nil {
			t.Fatal(err)
		}
		if err := r.Restore(context.Background(), bytes.NewReader(sw)); err != nil {
			t.Fatal(err)
		}
		if got := viewOf(t, r); !reflect.DeepEqual(got, want) {
			t.Fatalf("%v: restored state differs:\n got %+v\nwant %+v", e, got.Stats, want.Stats)
		}
		if again := snapshotBytes(t, r); !bytes.Equal(again, sw) {
			t.Fatalf("%v: a restored store snapshots differently", e)
		}
		a, err := r.Insert(context.Background(), "user", "new", 1)
		if err != nil || a.Version != 0 {
			t.Fatalf("insert after restore: %+v %v", a, err)
		}
		if st, _ := r.Stats(context.Background()); st.CurrentSequence != want.Stats.CurrentSequence+1 {
			t.Fatalf("sequence after restore: %d, want %d", st.CurrentSequence, want.Stats.CurrentSequence+1)
		}
	}
}

// TestSnapshotWhileWriting: writers go on during a snapshot, which holds
// exactly the state at its start.
func TestSnapshotWhileWriting(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		for i := 0; i < 3000; i++ {
			if _, err := s.Insert(ctx, "user", fmt.Sprintf("u%05d", i), bytes.Repeat([]byte{'x'}, 200)); err != nil {
				t.Fatal(err)
			}
		}
		want := viewOf(t, s)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- s.Snapshot(ctx, pw); pw.Close() }()
		var got bytes.Buffer
		buf := make([]byte, 4096)
		writes := 0
		for {
			n, err := pr.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update(ctx, "user", fmt.Sprintf("u%05d", writes%3000), writes); err != nil {
				t.Fatal(err)
			}
			writes++
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if writes < 10 {
			t.Fatalf("only %d writes ran during the snapshot", writes)
		}
		r := mustOpen(t, e, Options{})
		if err := r.Restore(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if v := viewOf(t, r); !reflect.DeepEqual(v, want) {
			t.Fatalf("the snapshot is not the state at its start: %+v, want %+v", v.Stats, want.Stats)
		}
	})
}

type failingReader struct{ r io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p[:min(len(p), 100)])
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

// TestRestoreBadInputChangesNothing: garbage, truncation and read errors
// are errors, and the store is as it was.
func TestRestoreBadInputChangesNothing(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		snap := mixedSnapshot(t, e, 200)
		s := mustOpen(t, e, Options{})
		fillMixed(t, s, 50)
		want := viewOf(t, s)
		flipped := bytes.Clone(snap)
		flipped[len(flipped)/2] ^= 4
		for name, r := range map[string]io.Reader{
			"empty":     bytes.NewReader(nil),
			"garbage":   bytes.NewReader([]byte("this is not a snapshot at all")),
			"truncated": bytes.NewReader(snap[:len(snap)-1]),
			"flipped":   bytes.NewReader(flipped),
			"trailing":  bytes.NewReader(append(bytes.Clone(snap), 0)),
			"ioerror":   failingReader{bytes.NewReader(snap)},
		} {
			err := s.Restore(ctx, r)
			if err == nil {
				t.Fatalf("%s: restored", name)
			}
			if name != "ioerror" && !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("%s: %v, want ErrInvalidArgument", name, err)
			}
			if got := viewOf(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: the store changed", name)
			}
		}
		small := mustOpen(t, e, Options{MaxDataBytes: 1000})
		if err := small.Restore(ctx, bytes.NewReader(snap)); !errors.Is(err, ErrStoreFull) {
			t.Fatalf("restore past MaxDataBytes: %v", err)
		}
	})
}

// TestRestoreEndsSubscriptions: a subscription cannot go on across a
// restore, whose history differs.
func TestRestoreEndsSubscriptions(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		fillMixed(t, s, 20)
		snap := snapshotBytes(t, s)
		sub, err := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := sub.Next(ctx); done <- err }()
		if err := s.Restore(ctx, bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrRestored) {
			t.Fatalf("Next across a restore: %v", err)
		}
	})
}

// fixedClock returns a clock that ticks one millisecond per call from a
// fixed start, so that two stores make the same timestamps.
func fixedClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Millisecond); return t }
}
