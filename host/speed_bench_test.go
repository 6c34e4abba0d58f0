package host

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Speed benchmarks beside bench_test.go's per-operation ones, both engines
// in one run; ./build.sh bench prints them through internal/benchratio:
//
//   - BenchmarkInsertRandom: inserts of fresh ids in random order into the
//     100k-actor store (BenchmarkInsert's ids are sequential: every insert
//     lands in the same leaf).
//   - BenchmarkLongestWrite: a store of speedActors() actors of ~100
//     bytes, loaded in batches of 1,000, then twice as many updates of
//     random actors, each timed: the longest, p99.9 and mean.
//   - BenchmarkMemory: speedActors() actors of 100-byte values: the wasm
//     guest's linear memory, and the native heap (bytes and objects) that
//     the store holds, per actor.
//   - BenchmarkRestore: Restore of a snapshot of speedActors() actors.
//   - BenchmarkOpen/wasm-newprocess: Open in a new process with a warm
//     CacheDir (a child process; its start-up is not counted).
//
// speedActors() is 200,000, or 1,000,000 with ACTORSTORE_BENCH_1M=1 or
// when -bench names a 1M benchmark.

func speedActors() int {
	if persist1MEnabled() {
		return 1_000_000
	}
	return 200_000
}

// randomID returns the k-th id of a sequence in random order without
// repeats: k times an odd constant is a bijection modulo 2^48.
func randomID(k uint64) string {
	return fmt.Sprintf("r%012x", (k*0x9E3779B97F4A7C15)&(1<<48-1))
}

var randomNext uint64 // next k for randomID, shared by the engines' runs

func BenchmarkInsertRandom(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx := context.Background()
		var ids []string
		untimed(b, func() {
			ids = make([]string, b.N)
			for i := range ids {
				randomNext++
				ids[i] = randomID(randomNext)
			}
		})
		for i, id := range ids {
			if _, err := bs.s.Insert(ctx, "rnd", id, bs.values[i%256]); err != nil {
				b.Fatal(err)
			}
		}
		untimed(b, func() {
			types := make([]string, len(ids))
			for i := range types {
				types[i] = "rnd"
			}
			deleteAll(b, bs.s, types, ids)
		})
	})
}

// loadActors opens a store and inserts n actors of values, in batches of
// 1,000 in id order.
func loadActors(b *testing.B, e Engine, n int, values []cbor.RawMessage) *Store {
	ctx := context.Background()
	s, err := Open(ctx, Options{Engine: e})
	if err != nil {
		b.Fatal(err)
	}
	ops := make([]BatchOp, 0, 1000)
	for i := range n {
		ops = append(ops, InsertOp(benchType, benchID(i), values[i%len(values)]))
		if len(ops) == cap(ops) || i == n-1 {
			if _, err := s.Batch(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	return s
}

// BenchmarkLongestWrite reports the longest single update (max-ms), the
// p99.9 (p999-ms) and the mean (us/update) over 2n updates of random
// actors of a store of n; and the same in CPU time of the writing thread
// (cpu-max-ms, cpu-p999-ms, cpu-us/update), which a busy machine's other
// processes do not inflate. The wasm guest's garbage collector runs in
// the call that triggers it, on that thread.
func BenchmarkLongestWrite(b *testing.B) {
	n := speedActors()
	for _, e := range engines {
		b.Run(e.String(), func(b *testing.B) {
			ctx := context.Background()
			values := persistValues()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for range b.N {
				s := loadActors(b, e, n, values)
				wall, cpu := make([]time.Duration, 2*n), make([]time.Duration, 2*n)
				r := rand.New(rand.NewPCG(13, 14))
				start, startCPU := time.Now(), threadCPU()
				for i := range wall {
					id := benchID(r.IntN(n))
					t0, c0 := time.Now(), threadCPU()
					if _, err := s.Update(ctx, benchType, id, values[i%len(values)]); err != nil {
						b.Fatal(err)
					}
					cpu[i], wall[i] = threadCPU()-c0, time.Since(t0)
				}
				total, totalCPU := time.Since(start), threadCPU()-startCPU
				s.Close(ctx)
				for _, m := range []struct {
					prefix string
					lat    []time.Duration
					total  time.Duration
				}{{"", wall, total}, {"cpu-", cpu, totalCPU}} {
					slices.Sort(m.lat)
					b.ReportMetric(float64(m.lat[len(m.lat)-1])/1e6, m.prefix+"max-ms")
					b.ReportMetric(float64(m.lat[len(m.lat)*999/1000])/1e6, m.prefix+"p999-ms")
					b.ReportMetric(float64(m.total)/float64(len(m.lat))/1e3, m.prefix+"us/update")
				}
				b.ReportMetric(float64(n), "actors")
			}
		})
	}
}

// BenchmarkMemory loads n actors of 100-byte values (a CBOR byte string)
// and reports what they take: for wasm the guest's linear memory, for
// native the growth of the Go heap after a collection, in bytes and
// objects per actor.
func BenchmarkMemory(b *testing.B) {
	n := speedActors()
	value := make(cbor.RawMessage, 100)
	value[0], value[1] = 0x58, 98 // byte string, one-byte length
	values := []cbor.RawMessage{value}
	payload := float64(n * (len(benchType) + len(benchID(0)) + len(value)))
	for _, e := range engines {
		b.Run(e.String(), func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				start := time.Now()
				s := loadActors(b, e, n, values)
				load := time.Since(start)
				st, err := s.Stats(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if e == EngineWASM {
					mem := float64(s.eng.(*wasmEngine).mem.Size())
					b.ReportMetric(mem/(1<<20), "guest-MiB")
					b.ReportMetric(mem/float64(n), "B/actor")
				} else {
					runtime.GC()
					runtime.ReadMemStats(&after)
					heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
					b.ReportMetric(heap/(1<<20), "heap-MiB")
					b.ReportMetric(heap/float64(n), "B/actor")
					b.ReportMetric((float64(after.HeapObjects)-float64(before.HeapObjects))/float64(n), "objects/actor")
				}
				b.ReportMetric(payload/(1<<20), "payload-MiB")
				b.ReportMetric(float64(st.DataBytes)/(1<<20), "accounted-MiB")
				b.ReportMetric(load.Seconds(), "load-s")
				b.ReportMetric(float64(n), "actors")
				runtime.KeepAlive(s)
				s.Close(ctx)
			}
		})
	}
}

// BenchmarkRestore restores a snapshot of n actors of ~100 bytes into a
// fresh store of each engine.
func BenchmarkRestore(b *testing.B) {
	n := speedActors()
	ctx := context.Background()
	src := loadActors(b, EngineNative, n, persistValues())
	var snap bytes.Buffer
	if err := src.Snapshot(ctx, &snap); err != nil {
		b.Fatal(err)
	}
	src.Close(ctx)
	for _, e := range engines {
		b.Run(e.String(), func(b *testing.B) {
			var took, cpu time.Duration
			for range b.N {
				s, err := Open(ctx, Options{Engine: e})
				if err != nil {
					b.Fatal(err)
				}
				start, startCPU := time.Now(), processCPU()
				if err := s.Restore(ctx, bytes.NewReader(snap.Bytes())); err != nil {
					b.Fatal(err)
				}
				took, cpu = took+time.Since(start), cpu+processCPU()-startCPU
				if st, _ := s.Stats(ctx); st.Actors != uint64(n) {
					b.Fatalf("restored %d actors, want %d", st.Actors, n)
				}
				s.Close(ctx)
			}
			b.ReportMetric(took.Seconds()*1e3/float64(b.N), "restore-ms")
			if cpu > 0 {
				b.ReportMetric(cpu.Seconds()*1e3/float64(b.N), "restore-cpu-ms")
			}
			b.ReportMetric(float64(took)/float64(b.N)/float64(n)/1e3, "us/actor")
			b.ReportMetric(float64(n), "actors")
		})
	}
}

const openChildEnv = "ACTORSTORE_OPEN_CHILD"

// benchOpenNewProcess runs TestOpenChild in a child process b.N times,
// with dir as a compilation cache warmed first, and reports the mean time
// of Open measured in the child.
func benchOpenNewProcess(b *testing.B, dir string) {
	ctx := context.Background()
	compiledByDir.Delete(dir)
	s, err := Open(ctx, Options{CacheDir: dir}) // warm the cache
	if err != nil {
		b.Fatal(err)
	}
	s.Close(ctx)
	b.ResetTimer()
	var total, totalCPU time.Duration
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOpenChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), openChildEnv+"="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		var ns, cpu int64
		found := false
		for _, l := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(strings.TrimSpace(l), "open-child open_ns=%d cpu_ns=%d", &ns, &cpu); err == nil {
				total += time.Duration(ns)
				totalCPU += time.Duration(cpu)
				found = true
			}
		}
		if !found {
			b.Fatalf("child reported nothing:\n%s", out)
		}
	}
	b.ReportMetric(float64(total)/float64(b.N)/1e6, "open-ms")
	if totalCPU > 0 {
		b.ReportMetric(float64(totalCPU)/float64(b.N)/1e6, "open-cpu-ms")
	}
}

// TestOpenChild is BenchmarkOpen's child process: it opens a wasm store
// with the compilation cache in $ACTORSTORE_OPEN_CHILD and reports how
// long Open took. Without the variable it does nothing.
func TestOpenChild(t *testing.T) {
	dir := os.Getenv(openChildEnv)
	if dir == "" {
		t.Skip("child process of BenchmarkOpen")
	}
	ctx := context.Background()
	start, startCPU := time.Now(), processCPU()
	s, err := Open(ctx, Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	took, cpu := time.Since(start), processCPU()-startCPU
	if _, err := s.Insert(ctx, "t", "i", 1); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("open-child open_ns=%d cpu_ns=%d\n", took.Nanoseconds(), cpu.Nanoseconds())
	s.Close(ctx)
}
