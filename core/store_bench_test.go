package core

import (
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"testing"
)

// Benchmarks of the core alone, without a host: what one operation costs
// the store of 100,000 actors of ~100 bytes. GOOS=wasip1 GOARCH=wasm runs
// them inside a wasm runtime too.

const coreBenchActors = 100_000

func coreBenchID(i int) string { return "u" + strconv.Itoa(10_000_000+i) }

func coreBenchStore(b *testing.B) (*Store, [][]byte) {
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	values := make([][]byte, 256)
	for i := range values {
		values[i] = val(96, byte(i))
	}
	ops := make([]Op, 0, 1000)
	for i := 0; i < coreBenchActors; i++ {
		ops = append(ops, Op{Kind: KindInsert, Type: "user", ID: coreBenchID(i), Value: values[i%256]})
		if len(ops) == cap(ops) {
			if _, err := s.Batch(ops, 0); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	return s, values
}

// randomBenchIDs returns 4,096 ids of the store's actors drawn at random
// (seeded).
func randomBenchIDs(seed1, seed2 uint64) []string {
	r := rand.New(rand.NewPCG(seed1, seed2))
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = coreBenchID(r.IntN(coreBenchActors))
	}
	return ids
}

func BenchmarkCoreGet(b *testing.B) {
	s, _ := coreBenchStore(b)
	ids := randomBenchIDs(1, 2)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := s.Get("user", ids[i%len(ids)]); !ok {
			b.Fatal("absent")
		}
	}
}

func BenchmarkCoreUpdate(b *testing.B) {
	s, values := coreBenchStore(b)
	ids := randomBenchIDs(3, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Update("user", ids[i%len(ids)], values[i%256], 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCoreInsertRandom(b *testing.B) {
	s, values := coreBenchStore(b)
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "r" + strconv.FormatUint((uint64(i)*0x9E3779B97F4A7C15)&(1<<48-1), 16)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Insert("rnd", ids[i], values[i%256], 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoreBatch100 applies batches of 100 updates; ns/op is per
// update.
func BenchmarkCoreBatch100(b *testing.B) {
	s, values := coreBenchStore(b)
	r := rand.New(rand.NewPCG(5, 6))
	batches := make([][]Op, 64)
	for i := range batches {
		batches[i] = make([]Op, 100)
		for j := range batches[i] {
			batches[i][j] = Op{Kind: KindUpdate, Type: "user", ID: coreBenchID(r.IntN(coreBenchActors)), Value: values[j]}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		if _, err := s.Batch(batches[i/100%len(batches)], 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoreRestore restores a snapshot of 100,000 actors of ~100
// bytes; ns/op is per actor.
func BenchmarkCoreRestore(b *testing.B) {
	s, _ := coreBenchStore(b)
	snap := streamSnapshot(s, 1<<30)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += coreBenchActors {
		if _, err := restoreBytes(s.Options(), snap, 256<<10); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCoreCRC(b *testing.B) {
	p := make([]byte, 64<<10)
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		crc32.Checksum(p, castagnoli)
	}
}

// BenchmarkCoreDelete deletes actors inserted for it, in id order.
func BenchmarkCoreDelete(b *testing.B) {
	s, values := coreBenchStore(b)
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = coreBenchID(i)
	}
	ops := make([]Op, 0, 1000)
	for i := 0; i < b.N; i++ {
		ops = append(ops, Op{Kind: KindInsert, Type: "doomed", ID: ids[i], Value: values[i%256]})
		if len(ops) == cap(ops) || i == b.N-1 {
			if _, err := s.Batch(ops, 0); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r, err := s.Delete("doomed", ids[i], 0); err != nil || !r.Found {
			b.Fatal(err)
		}
	}
}

// mapValue is a ~100-byte CBOR map like the hosts' benchmark values:
// name, email, age and three tags.
func mapValue() []byte {
	text := func(s string) []byte { return append([]byte{0x60 | byte(len(s))}, s...) }
	if len("user00000001@example.com") >= 24 {
		text = func(s string) []byte {
			if len(s) < 24 {
				return append([]byte{0x60 | byte(len(s))}, s...)
			}
			return append([]byte{0x78, byte(len(s))}, s...)
		}
	}
	b := []byte{0xa4}
	b = append(append(b, text("name")...), text("user 00000001")...)
	b = append(append(b, text("email")...), text("user00000001@example.com")...)
	b = append(append(b, text("age")...), 0x18, 42)
	b = append(append(b, text("tags")...), 0x83)
	for _, s := range []string{"alpha", "beta", "t00001"} {
		b = append(b, text(s)...)
	}
	return b
}

func BenchmarkCoreCheckValue(b *testing.B) {
	v := mapValue()
	if err := CheckValue(v); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(v)))
	for i := 0; i < b.N; i++ {
		CheckValue(v)
	}
}
