package host

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// Benchmarks run every operation on both engines in one process, so that
// ./build.sh bench can print WASM/native ratios from a single run. Each
// engine gets a store preloaded with benchActors actors of ~100 bytes.

const (
	benchActors = 100_000
	benchType   = "user"
)

var engines = []Engine{EngineNative, EngineWASM}

// benchValue is a ~100-byte CBOR map: name, email, age, three tags.
func benchValue(i int) cbor.RawMessage {
	v, err := encMode.Marshal(map[string]any{
		"name": fmt.Sprintf("user %08d", i), "email": fmt.Sprintf("user%08d@example.com", i),
		"age": i % 90, "tags": []string{"alpha", "beta", fmt.Sprintf("t%05d", i%100000)},
	})
	if err != nil {
		panic(err)
	}
	return v
}

// benchIDs is the number of distinct ids benchID makes: "u00000000" to
// "u00999999", one backing array for all (a million strings would be a
// million objects for this process's collector to mark, stalling
// whichever benchmark's call it lands in).
const benchIDs = 1_000_000

var benchIDBytes = func() []byte {
	b := make([]byte, 0, 9*benchIDs)
	for i := range benchIDs {
		b = fmt.Appendf(b, "u%08d", i)
	}
	return b
}()

func benchID(i int) string {
	i %= benchIDs
	return unsafe.String(&benchIDBytes[9*i], 9)
}

type benchStore struct {
	s        *Store
	versions []uint64 // of the preloaded actors
	next     int      // next fresh id for inserts
	values   []cbor.RawMessage
}

var (
	benchMu     sync.Mutex
	benchStores = map[Engine]*benchStore{}
)

// loaded returns the engine's shared preloaded store.
func loaded(b *testing.B, e Engine) *benchStore {
	benchMu.Lock()
	defer benchMu.Unlock()
	if bs := benchStores[e]; bs != nil {
		return bs
	}
	ctx := context.Background()
	s, err := Open(ctx, Options{Engine: e})
	if err != nil {
		b.Fatal(err)
	}
	bs := &benchStore{s: s, versions: make([]uint64, benchActors), next: benchActors}
	for i := 0; i < 256; i++ {
		bs.values = append(bs.values, benchValue(i))
	}
	ops := make([]BatchOp, 0, 1000)
	for i := 0; i < benchActors; i++ {
		ops = append(ops, InsertOp(benchType, benchID(i), bs.values[i%256]))
		if len(ops) == cap(ops) {
			if _, err := s.Batch(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	benchStores[e] = bs
	return bs
}

// untimedCPU is the CPU time spent in untimed since perEngine started fn.
var untimedCPU time.Duration

// untimed runs f with the benchmark's timer stopped, and its CPU time
// left out of cpu-ns/op.
func untimed(b *testing.B, f func()) {
	b.StopTimer()
	cpu := processCPU()
	f()
	untimedCPU += processCPU() - cpu
	b.StartTimer()
}

// perEngine runs fn as a sub-benchmark on each engine. Beside ns/op it
// reports cpu-ns/op, the process's CPU time per operation, which other
// processes on a busy machine do not inflate (internal/benchratio takes
// its ratios from it).
func perEngine(b *testing.B, fn func(b *testing.B, bs *benchStore)) {
	for _, e := range engines {
		b.Run(e.String(), func(b *testing.B) {
			bs := loaded(b, e)
			b.ReportAllocs()
			b.ResetTimer()
			untimedCPU = 0
			cpu := processCPU()
			fn(b, bs)
			if cpu > 0 {
				b.ReportMetric(float64(processCPU()-cpu-untimedCPU)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx, r := context.Background(), rand.New(rand.NewPCG(1, 2))
		for i := 0; i < b.N; i++ {
			if _, ok, err := bs.s.Get(ctx, benchType, benchID(r.IntN(benchActors))); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

func BenchmarkInsert(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx := context.Background()
		var types, ids []string
		untimed(b, func() {
			types, ids = make([]string, b.N), make([]string, b.N)
			for i := range ids {
				bs.next++
				types[i], ids[i] = fmt.Sprint("fresh", bs.next/benchIDs), benchID(bs.next)
			}
		})
		for i := 0; i < b.N; i++ {
			if _, err := bs.s.Insert(ctx, types[i], ids[i], bs.values[i%256]); err != nil {
				b.Fatal(err)
			}
		}
		untimed(b, func() { deleteAll(b, bs.s, types, ids) })
	})
}

// deleteAll deletes the actors a benchmark inserted, so that the shared
// store stays at benchActors for the next benchmark (and far from
// MaxDataBytes).
func deleteAll(b *testing.B, s *Store, types, ids []string) {
	ctx := context.Background()
	ops := make([]BatchOp, 0, 1000)
	for i := range ids {
		ops = append(ops, DeleteOp(types[i], ids[i]))
		if len(ops) == cap(ops) || i == len(ids)-1 {
			if _, err := s.Batch(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx, r := context.Background(), rand.New(rand.NewPCG(3, 4))
		for i := 0; i < b.N; i++ {
			k := r.IntN(benchActors)
			if _, err := bs.s.Update(ctx, benchType, benchID(k), bs.values[i%256]); err != nil {
				b.Fatal(err)
			}
			bs.versions[k]++
		}
	})
}

func BenchmarkUpdateVersioned(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx, r := context.Background(), rand.New(rand.NewPCG(5, 6))
		for i := 0; i < b.N; i++ {
			k := r.IntN(benchActors)
			if _, err := bs.s.UpdateVersioned(ctx, benchType, benchID(k), bs.values[i%256], bs.versions[k]); err != nil {
				b.Fatal(err)
			}
			bs.versions[k]++
		}
	})
}

// doomedType is the type of BenchmarkDelete's i-th actor: ids repeat
// every benchIDs actors, types do not.
func doomedType(i int) string { return "doomed" + strconv.Itoa(i/benchIDs) }

func BenchmarkDelete(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx := context.Background()
		untimed(b, func() {
			ops := make([]BatchOp, 0, 1000)
			for i := 0; i < b.N; i++ {
				ops = append(ops, InsertOp(doomedType(i), benchID(i), bs.values[i%256]))
				if len(ops) == cap(ops) || i == b.N-1 {
					if _, err := bs.s.Batch(ctx, ops...); err != nil {
						b.Fatal(err)
					}
					ops = ops[:0]
				}
			}
		})
		for i := 0; i < b.N; i++ {
			if _, ok, err := bs.s.Delete(ctx, doomedType(i), benchID(i)); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkBatch100 applies batches of 100 updates; ns/op is per update.
func BenchmarkBatch100(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx, r := context.Background(), rand.New(rand.NewPCG(7, 8))
		ops := make([]BatchOp, 100)
		for i := 0; i < b.N; i += len(ops) {
			for j := range ops {
				ops[j] = UpdateOp(benchType, benchID(r.IntN(benchActors)), bs.values[(i+j)%256])
			}
			if _, err := bs.s.Batch(ctx, ops...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChanges1000 reads pages of 1,000 events; ns/op is per event.
func BenchmarkChanges1000(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx := context.Background()
		var st Stats
		untimed(b, func() {
			for i := 0; i < 1000; i++ { // make sure 1,000 update events are retained
				if _, err := bs.s.Update(ctx, benchType, benchID(i), bs.values[i%256]); err != nil {
					b.Fatal(err)
				}
				bs.versions[i]++
			}
			st, _ = bs.s.Stats(ctx)
		})
		for i := 0; i < b.N; i += 1000 {
			p, err := bs.s.Changes(ctx, st.CurrentSequence-1000, Filter{}, 1000)
			if err != nil || len(p.Events) != 1000 {
				b.Fatal(len(p.Events), err)
			}
		}
	})
}

// BenchmarkGetAll10k lists a type of 10,000 actors; ns/op is per actor.
func BenchmarkGetAll10k(b *testing.B) {
	perEngine(b, func(b *testing.B, bs *benchStore) {
		ctx := context.Background()
		untimed(b, func() {
			if all, _ := bs.s.GetAll(ctx, "team"); len(all) == 0 {
				ops := make([]BatchOp, 0, 10_000)
				for i := 0; i < 10_000; i++ {
					ops = append(ops, InsertOp("team", benchID(i), bs.values[i%256]))
				}
				if _, err := bs.s.Batch(ctx, ops...); err != nil {
					b.Fatal(err)
				}
			}
		})
		for i := 0; i < b.N; i += 10_000 {
			all, err := bs.s.GetAll(ctx, "team")
			if err != nil || len(all) != 10_000 {
				b.Fatal(len(all), err)
			}
		}
	})
}

// BenchmarkOpen measures Open: "process" reuses the module compiled by an
// earlier Open in this process, "cachedir" compiles in a fresh runtime
// with a warm on-disk compilation cache, "newprocess" does that in a new
// process (TestOpenChild), "cold" compiles from scratch.
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	open := func(b *testing.B, fresh bool, cacheDir string) {
		for i := 0; i < b.N; i++ {
			if fresh {
				compiledByDir.Delete(cacheDir)
			}
			s, err := Open(ctx, Options{CacheDir: cacheDir})
			if err != nil {
				b.Fatal(err)
			}
			s.Close(ctx)
		}
	}
	b.Run("native", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s, _ := Open(ctx, Options{Engine: EngineNative})
			s.Close(ctx)
		}
	})
	b.Run("wasm-process", func(b *testing.B) { open(b, false, "") })
	b.Run("wasm-cold", func(b *testing.B) { open(b, true, "") })
	b.Run("wasm-cachedir", func(b *testing.B) {
		open(b, true, dir) // warm the cache
		b.ResetTimer()
		open(b, true, dir)
	})
	b.Run("wasm-newprocess", func(b *testing.B) { benchOpenNewProcess(b, b.TempDir()) })
}

// persistValues are ~100-byte CBOR values (benchValue).
var persistValues = sync.OnceValue(func() []cbor.RawMessage {
	vs := make([]cbor.RawMessage, 256)
	for i := range vs {
		vs[i] = benchValue(i)
	}
	return vs
})

// persist1MEnabled says whether the 1M benchmarks run: they take tens of
// seconds, so only on request.
func persist1MEnabled() bool {
	if os.Getenv("ACTORSTORE_BENCH_1M") == "1" {
		return true
	}
	f := flag.Lookup("test.bench")
	return f != nil && strings.Contains(f.Value.String(), "1M")
}
