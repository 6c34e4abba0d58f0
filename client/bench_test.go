package client

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// BenchmarkVsEmbedded runs each operation through the client (loopback
// HTTP/1.1, keep-alive, CBOR) and on the embedded store it talks to, in
// the same run, and reports both latencies and their ratio; with 16
// goroutines it reports throughput. The store is native and in memory,
// so the figures are the network path's cost.
//
//	go test ./client -run '^$' -bench VsEmbedded -benchtime 5000x
func BenchmarkVsEmbedded(b *testing.B) {
	ctx := context.Background()
	st, err := host.Open(ctx, host.Options{Engine: host.EngineNative})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(ctx)
	h := server.New(st, server.Options{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	c, err := New(srv.URL, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	value := cbor.RawMessage(append([]byte{0x58, 98}, make([]byte, 98)...)) // 100 bytes
	for i := range 1000 {
		if _, err := st.Insert(ctx, "b", fmt.Sprint(i), value); err != nil {
			b.Fatal(err)
		}
	}
	var seq int
	ops := []struct {
		name string
		op   func(s host.API, i int) error
	}{
		{"get", func(s host.API, i int) error { _, _, err := s.Get(ctx, "b", fmt.Sprint(i%1000)); return err }},
		{"insert", func(s host.API, i int) error {
			seq++
			_, err := s.Insert(ctx, "new", fmt.Sprint(seq), value)
			return err
		}},
		{"update", func(s host.API, i int) error { _, err := s.Update(ctx, "b", fmt.Sprint(i%1000), value); return err }},
		{"batch10", func(s host.API, i int) error {
			ops := make([]host.BatchOp, 10)
			for j := range ops {
				ops[j] = host.UpdateOp("b", fmt.Sprint((i*10+j)%1000), value)
			}
			_, err := s.Batch(ctx, ops...)
			return err
		}},
	}
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			var d [2]time.Duration
			for k, s := range []host.API{c, st} {
				start := time.Now()
				for i := range b.N {
					if err := o.op(s, i); err != nil {
						b.Fatal(err)
					}
				}
				d[k] = time.Since(start)
			}
			b.ReportMetric(float64(d[0].Microseconds())/float64(b.N), "client-µs/op")
			b.ReportMetric(float64(d[1].Nanoseconds())/1e3/float64(b.N), "embedded-µs/op")
			b.ReportMetric(float64(d[0])/float64(d[1]), "client/embedded")
		})
	}
	b.Run("get-16-goroutines", func(b *testing.B) {
		var wg sync.WaitGroup
		start := time.Now()
		per := b.N/16 + 1
		for g := range 16 {
			wg.Go(func() {
				for i := range per {
					if _, _, err := c.Get(ctx, "b", fmt.Sprint((g*per+i)%1000)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(16*per)/time.Since(start).Seconds(), "client-ops/s")
	})
}
