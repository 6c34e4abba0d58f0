//go:build unix

package host

import (
	"bufio"
	"context"
	"flag"
	"fmt"
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

	"github.com/fxamacker/cbor/v2"
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

// persistValues are ~100-byte CBOR values (benchValue).
var persistValues = sync.OnceValue(func() []cbor.RawMessage {
	vs := make([]cbor.RawMessage, 256)
	for i := range vs {
		vs[i] = benchValue(i)
	}
	return vs
})

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
								if _, err := s.Insert(ctx, types[i/len(benchIDs)%len(types)], benchID(i), values[i%len(values)]); err != nil {
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

// persist1MEnabled says whether the 1M benchmarks run: they take tens of
// seconds, so only on request.
func persist1MEnabled() bool {
	if os.Getenv("ACTORSTORE_BENCH_1M") == "1" {
		return true
	}
	f := flag.Lookup("test.bench")
	return f != nil && strings.Contains(f.Value.String(), "1M")
}

// BenchmarkPersist1M builds a durable wasm store of 1M actors of ~100
// bytes (batches of 1,000 inserts), then measures:
//
//   - checkpoint-stall: one goroutine updates random actors without pause;
//     its write latencies (p99, max) for 2s without a checkpoint, then
//     during a Checkpoint of the 1M actors, and the checkpoint's duration.
//   - recover-snapshot: Open of the directory (newest snapshot holds
//     everything, the log after it is empty) in a child process: Open
//     time, recovery time and peak RSS, beside the peak RSS of a child
//     that opens an empty directory (the test binary's own footprint).
//   - recover-log200k: the same with the last 200,000 single-actor
//     updates left in the log after the snapshot.
func BenchmarkPersist1M(b *testing.B) {
	if !persist1MEnabled() {
		b.Skip("set ACTORSTORE_BENCH_1M=1 or name it in -bench (e.g. -bench Persist1M -benchtime=1x)")
	}
	ctx := context.Background()
	values := persistValues()
	dir := filepath.Join(b.TempDir(), "store")
	o := Options{Dir: dir, SnapshotLogBytes: -1} // SyncAlways: batches share few fsyncs anyway
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
	b.Logf("1M actors inserted in %v, idle checkpoint %v", build, idleCheckpoint)

	b.Run("checkpoint-stall", func(b *testing.B) {
		for range b.N {
			checkpointStall(b, s)
		}
		b.ReportMetric(idleCheckpoint.Seconds()*1e3, "idle-ckpt-ms")
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

// checkpointStall measures one writer's latencies without, then during, a
// Checkpoint of s.
func checkpointStall(b *testing.B, s *Store) {
	ctx := context.Background()
	values := persistValues()
	var (
		phase   atomic.Int32 // 0 baseline, 1 checkpoint running, 2 stop
		lat     [2][]time.Duration
		writerW sync.WaitGroup
	)
	writerW.Add(1)
	go func() {
		defer writerW.Done()
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
			// A write that started in the baseline and ended during the
			// checkpoint counts for the checkpoint.
			if phase.Load() == 1 {
				ph = 1
			}
			lat[ph] = append(lat[ph], d)
		}
	}()
	time.Sleep(2 * time.Second)
	start := time.Now()
	phase.Store(1)
	err := s.Checkpoint(ctx)
	ckpt := time.Since(start)
	phase.Store(2)
	writerW.Wait()
	if err != nil {
		b.Fatal(err)
	}
	for i, name := range []string{"base", "ckpt"} {
		l := lat[i]
		if len(l) == 0 {
			b.Fatalf("no write completed in phase %s", name)
		}
		slices.Sort(l)
		b.ReportMetric(float64(l[len(l)*99/100])/1e6, name+"-p99-ms")
		b.ReportMetric(float64(l[len(l)-1])/1e6, name+"-max-ms")
	}
	b.ReportMetric(ckpt.Seconds()*1e3, "ckpt-ms")
	b.ReportMetric(float64(len(lat[1]))/ckpt.Seconds(), "ckpt-writes/s")
	b.ReportMetric(float64(len(lat[0]))/2, "base-writes/s")
}

// recoverChild opens dir in a child process b.N times and reports the
// mean Open and recovery times and the largest peak RSS, beside the peak
// RSS of a child opening an empty directory.
func recoverChild(b *testing.B, dir string) {
	empty := filepath.Join(b.TempDir(), "empty")
	base, _ := runPersistChild(b, empty)
	var open, rec time.Duration
	var rss int64
	for range b.N {
		r, res := runPersistChild(b, dir)
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
	if fi, err := dirSize(dir); err == nil {
		b.ReportMetric(float64(fi)/(1<<20), "dir-MiB")
	}
}

type childResult struct {
	open, recovery time.Duration
	actors         uint64
}

// runPersistChild runs TestPersistRecoverChild on dir in a child process
// and returns its peak RSS in bytes and what it reported.
func runPersistChild(b *testing.B, dir string) (int64, childResult) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPersistRecoverChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), persistChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	var res childResult
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var o, r int64
		if _, err := fmt.Sscanf(strings.TrimSpace(sc.Text()), "persist-child open_ns=%d recovery_ns=%d actors=%d", &o, &r, &res.actors); err == nil {
			res.open, res.recovery, found = time.Duration(o), time.Duration(r), true
		}
	}
	if !found {
		b.Fatalf("child reported nothing:\n%s", out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Skip("no rusage on this OS")
	}
	rss := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" { // KiB on Linux and the BSDs, bytes on macOS
		rss <<= 10
	}
	return rss, res
}

// TestPersistRecoverChild is BenchmarkPersist1M's child process: it opens
// the durable store in $ACTORSTORE_PERSIST_CHILD and reports how long
// that took. Without the variable it does nothing.
func TestPersistRecoverChild(t *testing.T) {
	dir := os.Getenv(persistChildEnv)
	if dir == "" {
		t.Skip("child process of BenchmarkPersist1M")
	}
	ctx := context.Background()
	start := time.Now()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	open := time.Since(start)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("persist-child open_ns=%d recovery_ns=%d actors=%d\n", open.Nanoseconds(), s.Recovered().Duration.Nanoseconds(), st.Actors)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
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
