//go:build unix

package host

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Persistence benchmarks (issue 4). ./build.sh bench prints them through
// internal/benchratio as a second table, beside the in-memory figures:
//
//   - BenchmarkDurableInsert: insert throughput of a durable store under
//     each sync policy, against an in-memory store, from 1 and 16 writers.
//     It runs with the default -bench filter.
//   - BenchmarkPersist1M: recovery time and peak memory (of a child
//     process) for 1M actors of ~100 bytes, and the longest write stall
//     while a checkpoint of 1M actors is taken. It builds a 1M-actor
//     directory first (tens of seconds), so it runs only when
//     ACTORSTORE_BENCH_1M=1 or when -bench names it (contains "1M");
//     run it with -benchtime=1x.

// persistPolicies are the store setups BenchmarkDurableInsert compares:
// "memory" is the in-memory store, the others are durable under that
// sync policy.
var persistPolicies = []struct {
	name    string
	durable bool
	sync    SyncPolicy
}{
	{"memory", false, 0}, {"always", true, SyncAlways}, {"interval", true, SyncInterval}, {"never", true, SyncNever},
}

// BenchmarkDurableInsert inserts fresh ~100-byte actors from 1 and 16
// goroutines into a store in a fresh directory, per engine and policy,
// and reports writes/s. Automatic snapshots stay on (the default
// SnapshotLogBytes), as in production.
func BenchmarkDurableInsert(b *testing.B) {
	values := persistValues()
	types := make([]string, 256)
	for i := range types {
		types[i] = "p" + strconv.Itoa(i)
	}
	for _, e := range []Engine{EngineWASM, EngineNative} {
		for _, p := range persistPolicies {
			for _, writers := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/%s/w%d", e, p.name, writers), func(b *testing.B) {
					ctx := context.Background()
					o := Options{Engine: e}
					if p.durable {
						o.Dir, o.Sync = b.TempDir(), p.sync
					}
					s, err := Open(ctx, o)
					if err != nil {
						b.Fatal(err)
					}
					var next atomic.Int64
					var wg sync.WaitGroup
					b.ReportAllocs()
					b.ResetTimer()
					start := time.Now()
					for range writers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								i := int(next.Add(1)) - 1
								if i >= b.N {
									return
								}
								if _, err := s.Insert(ctx, types[i/benchIDs%len(types)], benchID(i), values[i%len(values)]); err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
					wg.Wait()
					elapsed := time.Since(start)
					b.StopTimer()
					b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
					if err := s.Close(ctx); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

const (
	persist1MActors = 1_000_000
	persist1MLog    = 200_000 // writes left in the log for recover-log200k
	persistChildEnv = "ACTORSTORE_PERSIST_CHILD"
)

// BenchmarkPersist1M builds a durable wasm store of 1M actors of ~100
// bytes (batches of 1,000 inserts, SyncAlways), then measures:
//
//   - checkpoint-stall: one goroutine updates random actors without pause
//     (SyncAlways); its write latencies (p99, max) for 2s without a
//     checkpoint, then during a Checkpoint of the 1M actors; the
//     checkpoint's duration; and when, from the checkpoint's start, the
//     longest write began (max-at-ms).
//   - snapshot-stall: the same during Snapshot to io.Discard: the engine
//     and the store's lock only, no snapshot file, no log rotation.
//   - recover-snapshot/{wasm,native}: Open of the directory (the newest
//     snapshot holds everything, the log after it is empty) in a child
//     process: Open time (wasm: compiling the module included), recovery
//     time, and the child's peak RSS beside that of a child opening an
//     empty directory (the test binary's own footprint).
//   - recover-log200k/{wasm,native}: the same with the last 200,000
//     single-actor updates left in the log after the snapshot.
func BenchmarkPersist1M(b *testing.B) {
	if !persist1MEnabled() {
		b.Skip("set ACTORSTORE_BENCH_1M=1 or name it in -bench (e.g. -bench Persist1M -benchtime=1x)")
	}
	ctx := context.Background()
	values := persistValues()
	dir := filepath.Join(b.TempDir(), "store")
	o := Options{Dir: dir, SnapshotLogBytes: -1}
	s, err := Open(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	ops := make([]BatchOp, 0, 1000)
	for i := range persist1MActors {
		ops = append(ops, InsertOp(benchType, benchID(i), values[i%len(values)]))
		if len(ops) == cap(ops) {
			if _, err := s.Batch(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	build := time.Since(start)
	start = time.Now()
	if err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	idleCheckpoint := time.Since(start)
	b.Logf("1M actors inserted in %v, checkpoint without writers %v", build, idleCheckpoint)

	b.Run("checkpoint-stall", func(b *testing.B) {
		for range b.N {
			writeStall(b, s, s.Checkpoint)
		}
		b.ReportMetric(idleCheckpoint.Seconds()*1e3, "idle-ckpt-ms")
		b.ReportMetric(build.Seconds(), "build-s")
	})
	b.Run("snapshot-stall", func(b *testing.B) {
		for range b.N {
			writeStall(b, s, func(ctx context.Context) error { return s.Snapshot(ctx, io.Discard) })
		}
	})
	// A second checkpoint drops the insert log, as in a store that has
	// taken snapshots for a while: recovery reads the newest snapshot and
	// scans (skipping) the log after the older one.
	if err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("recover-snapshot", func(b *testing.B) { recoverChild(b, dir) })

	o.Sync = SyncNever // building only: Close fsyncs
	if s, err = Open(ctx, o); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for i := range persist1MLog {
		if _, err := s.Update(ctx, benchType, benchID(r.IntN(persist1MActors)), values[i%len(values)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("recover-log200k", func(b *testing.B) { recoverChild(b, dir) })
}

// writeStall measures one writer's latencies for 2s, then while snap runs.
func writeStall(b *testing.B, s *Store, snap func(context.Context) error) {
	ctx := context.Background()
	values := persistValues()
	type sample struct {
		at time.Time
		d  time.Duration
	}
	var (
		phase    atomic.Int32 // 0 baseline, 1 snap running, 2 stop
		lat      [2][]sample
		snapFrom time.Time // set before phase 1
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(9, 10))
		for i := 0; ; i++ {
			ph := phase.Load()
			if ph == 2 {
				return
			}
			t0 := time.Now()
			if _, err := s.Update(ctx, benchType, benchID(r.IntN(persist1MActors)), values[i%len(values)]); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(t0)
			// A write that began in the baseline and ended during the
			// snapshot counts for the snapshot.
			if phase.Load() >= 1 {
				ph = 1
			}
			lat[ph] = append(lat[ph], sample{t0, d})
		}
	}()
	time.Sleep(2 * time.Second)
	snapFrom = time.Now()
	phase.Store(1)
	err := snap(ctx)
	took := time.Since(snapFrom)
	phase.Store(2)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	for i, name := range []string{"base", "ckpt"} {
		l := lat[i]
		if len(l) == 0 {
			b.Fatalf("no write completed in phase %s", name)
		}
		slices.SortFunc(l, func(x, y sample) int { return int(x.d - y.d) })
		b.ReportMetric(float64(l[len(l)*99/100].d)/1e6, name+"-p99-ms")
		b.ReportMetric(float64(l[len(l)-1].d)/1e6, name+"-max-ms")
		if i == 1 {
			b.ReportMetric(float64(l[len(l)-1].at.Sub(snapFrom))/1e6, "max-at-ms")
		}
	}
	b.ReportMetric(took.Seconds()*1e3, "ckpt-ms")
	b.ReportMetric(float64(len(lat[1]))/took.Seconds(), "ckpt-writes/s")
	b.ReportMetric(float64(len(lat[0]))/2, "base-writes/s")
}

// recoverChild opens dir in a child process, per engine, b.N times, and
// reports the mean Open and recovery times and the largest peak RSS,
// beside the peak RSS of a child opening an empty directory.
func recoverChild(b *testing.B, dir string) {
	size, _ := dirSize(dir)
	for _, e := range []Engine{EngineWASM, EngineNative} {
		b.Run(e.String(), func(b *testing.B) {
			base, _ := runPersistChild(b, e, filepath.Join(b.TempDir(), "empty"))
			var open, rec time.Duration
			var rss int64
			for range b.N {
				r, res := runPersistChild(b, e, dir)
				rss = max(rss, r)
				open += res.open
				rec += res.recovery
				if res.actors != persist1MActors {
					b.Fatalf("recovered %d actors, want %d", res.actors, persist1MActors)
				}
			}
			n := float64(b.N)
			b.ReportMetric(open.Seconds()*1e3/n, "open-ms")
			b.ReportMetric(rec.Seconds()*1e3/n, "recovery-ms")
			b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
			b.ReportMetric(float64(base)/(1<<20), "empty-rss-MiB")
			b.ReportMetric(float64(size)/(1<<20), "dir-MiB")
		})
	}
}

type childResult struct {
	open, recovery time.Duration
	actors         uint64
}

// runPersistChild runs TestPersistRecoverChild on dir in a child process
// and returns its peak RSS in bytes and what it reported.
//
// The peak RSS is the child's own VmHWM where /proc has it (Linux): the
// rusage of a child (ProcessState.SysUsage, Maxrss) is no good here,
// because Linux carries the parent's high-water RSS over into the child's
// maxrss at exec (os/exec forks with CLONE_VM): a child of this
// benchmark, which holds 1M actors itself, would report the parent's peak.
func runPersistChild(b *testing.B, e Engine, dir string) (int64, childResult) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPersistRecoverChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), persistChildEnv+"="+dir, persistChildEnv+"_ENGINE="+e.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	var res childResult
	var hwm int64
	found := false
	for _, l := range strings.Split(string(out), "\n") {
		var o, r int64
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "persist-child open_ns=%d recovery_ns=%d actors=%d hwm_kib=%d", &o, &r, &res.actors, &hwm); err == nil {
			res.open, res.recovery, found = time.Duration(o), time.Duration(r), true
		}
	}
	if !found {
		b.Fatalf("child reported nothing:\n%s", out)
	}
	if hwm > 0 {
		return hwm << 10, res
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, res
	}
	rss := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" { // KiB on Linux and the BSDs, bytes on macOS
		rss <<= 10
	}
	return rss, res
}

// TestPersistRecoverChild is BenchmarkPersist1M's child process: it opens
// the durable store in $ACTORSTORE_PERSIST_CHILD and reports how long
// that took and its peak RSS. Without the variable it does nothing.
func TestPersistRecoverChild(t *testing.T) {
	dir := os.Getenv(persistChildEnv)
	if dir == "" {
		t.Skip("child process of BenchmarkPersist1M")
	}
	o := Options{Dir: dir}
	if os.Getenv(persistChildEnv+"_ENGINE") == "native" {
		o.Engine = EngineNative
	}
	ctx := context.Background()
	start := time.Now()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	open := time.Since(start)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("persist-child open_ns=%d recovery_ns=%d actors=%d hwm_kib=%d\n",
		open.Nanoseconds(), s.Recovered().Duration.Nanoseconds(), st.Actors, vmHWM())
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// vmHWM returns this process's peak RSS in KiB from /proc/self/status,
// 0 where there is none.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
