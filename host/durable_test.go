package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var policies = []SyncPolicy{SyncAlways, SyncInterval, SyncNever}

func openDir(t testing.TB, e Engine, dir string, o Options) *Store {
	t.Helper()
	o.Engine, o.Dir = e, dir
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func closeStore(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestDurableReopen: every engine and policy gives back, after Close and
// Open, the same actors, sequence numbers and replay buffer, and goes on
// from there.
func TestDurableReopen(t *testing.T) {
	for _, e := range engines {
		for _, p := range policies {
			t.Run(e.String()+"/"+p.String(), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "store")
				o := Options{Sync: p, ReplayBufferSize: 300}
				s := openDir(t, e, dir, o)
				fillMixed(t, s, 500)
				want := viewOf(t, s)
				closeStore(t, s)

				s = openDir(t, e, dir, o)
				defer closeStore(t, s)
				if got := viewOf(t, s); !reflect.DeepEqual(got, want) {
					t.Fatalf("reopened state differs: %+v, want %+v", got.Stats, want.Stats)
				}
				if r := s.Recovered(); r.Records == 0 || r.Snapshot != "" || r.TornFile != "" {
					t.Fatalf("recovery %+v", r)
				}
				a, err := s.Insert(context.Background(), "user", "after", 1)
				if err != nil || a.Version != 0 {
					t.Fatal(a, err)
				}
				if st, _ := s.Stats(context.Background()); st.CurrentSequence != want.Stats.CurrentSequence+1 {
					t.Fatalf("sequence went on at %d, want %d", st.CurrentSequence, want.Stats.CurrentSequence+1)
				}
			})
		}
	}
}

// TestDurableCheckpoints: a small log threshold makes snapshots as writes
// go on; old log segments and snapshots are pruned, and Open restores the
// newest snapshot plus the log after it.
func TestDurableCheckpoints(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		dir := t.TempDir()
		o := Options{SnapshotLogBytes: 20 << 10, ReplayBufferSize: 50}
		s := openDir(t, e, dir, o)
		fillMixed(t, s, 2000)
		if err := s.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		fillMixed2(t, s)
		want := viewOf(t, s)
		closeStore(t, s)
		snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
		logs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
		if len(snaps) != 2 || len(logs) > 4 {
			t.Fatalf("files not pruned: %v %v", snaps, logs)
		}
		s = openDir(t, e, dir, o)
		defer closeStore(t, s)
		if got := viewOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("reopened state differs: %+v, want %+v", got.Stats, want.Stats)
		}
		if r := s.Recovered(); r.Snapshot == "" || r.Records == 0 {
			t.Fatalf("recovery did not use a snapshot and the log: %+v", r)
		}

		// A damaged newest snapshot: the older one and the log make up.
		closeStore(t, s)
		damage(t, snaps[len(snaps)-1], 100)
		s = openDir(t, e, dir, o)
		if got := viewOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("after falling back, state differs")
		}
		if r := s.Recovered(); len(r.SkippedSnapshots) != 1 || r.Snapshot != snaps[0] {
			t.Fatalf("recovery %+v", r)
		}
	})
}

func fillMixed2(t testing.TB, s *Store) {
	t.Helper()
	for i := 0; i < 30; i++ {
		if _, err := s.Update(context.Background(), "order", "o3", i); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
}

func damage(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestDurableLocked: a second Open of the same directory is refused.
func TestDurableLocked(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, EngineNative, dir, Options{})
	defer closeStore(t, s)
	_, err := Open(context.Background(), Options{Dir: dir})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open: %v", err)
	}
}

// TestDurableForeignDir: a directory holding other things is refused.
func TestDurableForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "thesis.tex") {
		t.Fatalf("Open of a foreign directory: %v", err)
	}
}

// TestDurableBadChecksum: a flipped byte inside the log is an error that
// names the file and the offset of the damaged record.
func TestDurableBadChecksum(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, EngineNative, dir, Options{})
	fillMixed(t, s, 100)
	closeStore(t, s)
	logs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	damage(t, logs[0], 200)
	_, err := Open(context.Background(), Options{Dir: dir, Engine: EngineNative})
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.File != logs[0] || ce.Offset <= 0 || ce.Offset > 200 ||
		!strings.HasPrefix(err.Error(), fmt.Sprintf("actorstore: corrupt log %s at offset %d: ", ce.File, ce.Offset)) {
		t.Fatalf("Open of a damaged log: %v", err)
	}
	t.Log(err)
}

// TestDurableBadSnapshot: a damaged snapshot that the log cannot make up
// for (the log before it was dropped) is an error naming the snapshot.
func TestDurableBadSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, EngineNative, dir, Options{SnapshotLogBytes: -1})
	for _, fill := range []func(testing.TB, *Store){func(t testing.TB, s *Store) { fillMixed(t, s, 100) }, fillMixed2} {
		fill(t, s)
		if err := s.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	closeStore(t, s)
	snaps := mustGlob(t, filepath.Join(dir, "snap-*.snap"))
	for _, f := range snaps {
		damage(t, f, 100)
	}
	_, err := Open(context.Background(), Options{Dir: dir, Engine: EngineNative})
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.File != snaps[len(snaps)-1] ||
		!strings.HasPrefix(err.Error(), "actorstore: corrupt snapshot "+ce.File) {
		t.Fatalf("Open with damaged snapshots: %v", err)
	}
	t.Log(err)
}

// TestDurableTrapHeals: after the guest traps, a durable store replaces
// it with a new one rebuilt from the directory at its next call: every
// acknowledged write is there, writes go on, and the directory reopens.
func TestDurableTrapHeals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, EngineWASM, dir, Options{SnapshotLogBytes: 16 << 10})
	fillMixed(t, s, 300)
	sub, err := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
	if err != nil {
		t.Fatal(err)
	}
	want := viewOf(t, s)
	w := s.eng.(*wasmEngine)
	if _, err := w.call(w.mod.ExportedFunction("_initialize")); err == nil {
		t.Fatal("a second _initialize did not trap")
	}
	if got := viewOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("state after the trap differs: %+v, want %+v", got.Stats, want.Stats)
	}
	if r := s.Recovered(); r.Heals != 1 || r.Records == 0 {
		t.Fatalf("recovery %+v", r)
	}
	if _, err := s.Insert(ctx, "user", "after-trap", 1); err != nil {
		t.Fatal(err)
	}
	if ev, err := sub.Next(ctx); err != nil || ev.ActorID != "after-trap" || ev.Sequence != want.Stats.CurrentSequence+1 {
		t.Fatalf("the subscription across the trap: %+v %v", ev, err)
	}
	want = viewOf(t, s)
	closeStore(t, s)
	s = openDir(t, EngineWASM, dir, Options{})
	defer closeStore(t, s)
	if got := viewOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("reopened state differs")
	}
}

// TestDurableRestore: a restore replaces a durable store's history, on
// disk too: reopening finds the restored state and what was written after.
func TestDurableRestore(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		snap := mixedSnapshot(t, e, 100)

		dir := t.TempDir()
		s := openDir(t, e, dir, Options{})
		fillMixed(t, s, 700) // a longer history, with higher sequences
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		fillMixed2(t, s)
		if err := s.Restore(ctx, bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Insert(ctx, "user", "after-restore", 1); err != nil {
			t.Fatal(err)
		}
		want := viewOf(t, s)
		closeStore(t, s)
		s = openDir(t, e, dir, Options{})
		defer closeStore(t, s)
		if got := viewOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("reopened after restore: %+v, want %+v", got.Stats, want.Stats)
		}
		if r := s.Recovered(); r.Records != 1 || !strings.Contains(r.Snapshot, "snap-") {
			t.Fatalf("recovery %+v", r)
		}
	})
}

// TestDurableTornTailEveryOffset cuts the log at every byte of its last
// three records, as a crash in the middle of appending them would: Open
// recovers the state after the last whole record, and writes go on.
func TestDurableTornTailEveryOffset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{Engine: EngineNative, Dir: dir}
	s := openDir(t, EngineNative, dir, o)
	fillMixed(t, s, 40)
	var views []view
	var sizes []int64
	logs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(logs) != 1 {
		t.Fatalf("logs %v", logs)
	}
	size := func() int64 {
		fi, err := os.Stat(logs[0])
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	views, sizes = append(views, viewOf(t, s)), append(sizes, size())
	for i := 0; i < 3; i++ {
		if _, err := s.Batch(ctx, InsertOp("order", "torn"+strconv.Itoa(i), i), UpdateOp("order", "torn"+strconv.Itoa(i), "x")); err != nil {
			t.Fatal(err)
		}
		views, sizes = append(views, viewOf(t, s)), append(sizes, size())
	}
	closeStore(t, s)
	full, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	for cut := sizes[0]; cut < sizes[3]; cut++ {
		if err := os.WriteFile(logs[0], full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		whole := 0
		for whole < 3 && sizes[whole+1] <= cut {
			whole++
		}
		s, err := Open(ctx, o)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if got := viewOf(t, s); !reflect.DeepEqual(got, views[whole]) {
			t.Fatalf("cut at %d: not the state after %d whole records", cut, whole)
		}
		if r := s.Recovered(); (cut != sizes[whole]) != (r.TornBytes > 0) || r.TornBytes > 0 && r.TornOffset != sizes[whole] {
			t.Fatalf("cut at %d: recovery %+v", cut, r)
		}
		if _, err := s.Insert(ctx, "user", "next", 1); err != nil {
			t.Fatal(err)
		}
		closeStore(t, s)
		// What was written after the cut is recovered too.
		s = openDir(t, EngineNative, dir, o)
		if _, ok, _ := s.Get(ctx, "user", "next"); !ok {
			t.Fatalf("cut at %d: the write after recovery was lost", cut)
		}
		closeStore(t, s)
		// Back to the full log for the next cut.
		for _, p := range mustGlob(t, filepath.Join(dir, "wal-*.log")) {
			os.Remove(p)
		}
		if err := os.WriteFile(logs[0], full, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustGlob(t testing.TB, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDurableConcurrent: writers go on through checkpoints and restores
// (run with -race); what the store shows at Close is what Open gives back.
func TestDurableConcurrent(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		snap := mixedSnapshot(t, e, 50)
		dir := t.TempDir()
		o := Options{SnapshotLogBytes: 8 << 10, Sync: SyncInterval}
		s := openDir(t, e, dir, o)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("w%d-%d", w, i%50)
					if _, err := s.Insert(ctx, "conc", id, i); errors.Is(err, ErrAlreadyExists) {
						_, err = s.Update(ctx, "conc", id, i)
						if err != nil && !errors.Is(err, ErrNotFound) {
							t.Error(err)
							return
						}
					} else if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		var err error
		for i := 0; i < 3 && err == nil; i++ {
			if err = s.Checkpoint(ctx); err == nil {
				err = s.Restore(ctx, bytes.NewReader(snap))
			}
		}
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		want := viewOf(t, s)
		conc, _ := s.GetAll(ctx, "conc")
		closeStore(t, s)
		s = openDir(t, e, dir, o)
		defer closeStore(t, s)
		got, _ := s.GetAll(ctx, "conc")
		if v := viewOf(t, s); !reflect.DeepEqual(v, want) || !reflect.DeepEqual(got, conc) {
			t.Fatalf("reopened state differs: %+v, want %+v", v.Stats, want.Stats)
		}
	})
}

// TestDurableReopenWithSmallerLimits: data that does not fit the options
// of a later Open is a limit error, not corruption, from a snapshot and
// from the log alike.
func TestDurableReopenWithSmallerLimits(t *testing.T) {
	for _, checkpoint := range []bool{false, true} {
		dir := t.TempDir()
		s := openDir(t, EngineWASM, dir, Options{})
		for i := 0; i < 20; i++ {
			if _, err := s.Insert(context.Background(), "t", strconv.Itoa(i), bytes.Repeat([]byte{'v'}, 500)); err != nil {
				t.Fatal(err)
			}
		}
		if checkpoint {
			if err := s.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		closeStore(t, s)
		_, err := Open(context.Background(), Options{Dir: dir, MaxDataBytes: 2000})
		if !errors.Is(err, ErrStoreFull) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("checkpoint %v, MaxDataBytes too small: %v", checkpoint, err)
		}
		_, err = Open(context.Background(), Options{Dir: dir, MaxValueBytes: 100})
		if !errors.Is(err, ErrValueTooLarge) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("checkpoint %v, MaxValueBytes too small: %v", checkpoint, err)
		}
		s = openDir(t, EngineWASM, dir, Options{}) // and the directory is fine
		closeStore(t, s)
	}
}

// TestDurableCheckpointFailure: a failed automatic checkpoint is reported
// by CheckpointError, the store goes on logging, and a later one succeeds.
func TestDurableCheckpointFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, EngineNative, dir, Options{SnapshotLogBytes: 4 << 10})
	defer closeStore(t, s)
	// Directories where snapshots' temporary files go make them fail.
	for seq := 0; seq < 3000; seq++ {
		if err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("snap-%020d.snap.tmp", seq)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := s.Insert(ctx, "t", fmt.Sprintf("%d-%d", n, i), bytes.Repeat([]byte{'v'}, 100)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor := func(what string, ok func() bool) {
		for i := 0; !ok(); i++ {
			if i == 500 {
				t.Fatalf("no %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write(100)
	waitFor("checkpoint failure", func() bool { return s.CheckpointError() != nil })
	t.Log(s.CheckpointError())
	if snaps := mustGlob(t, filepath.Join(dir, "snap-*.snap")); len(snaps) != 0 {
		t.Fatalf("snapshots %v", snaps)
	}
	for seq := 0; seq < 3000; seq++ {
		os.Remove(filepath.Join(dir, fmt.Sprintf("snap-%020d.snap.tmp", seq)))
	}
	for i := 0; i < 20 && s.CheckpointError() != nil; i++ {
		write(50)
		time.Sleep(20 * time.Millisecond)
	}
	waitFor("successful checkpoint", func() bool { return s.CheckpointError() == nil })
	if snaps := mustGlob(t, filepath.Join(dir, "snap-*.snap")); len(snaps) == 0 {
		t.Fatal("no snapshot after the failure cleared")
	}
}
