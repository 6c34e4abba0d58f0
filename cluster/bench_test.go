package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// The benchmarks run 3-node clusters on loopback in this process, with
// the default Raft timeouts, fsync on (host.SyncAlways), 100-byte values,
// and report operations per second and p50/p99 latency. "leader" sends
// every request to the leader, "spread" to the nodes in turn (followers
// forward writes and ask the leader for the read index).

var benchValue = make([]byte, 100)

// newBenchCluster is a cluster of size nodes with the defaults of
// Options (no fault injection).
func newBenchCluster(b *testing.B, size int) *testCluster {
	c := newClusterTB(b, size, func(o *Options) {
		o.HeartbeatTimeout, o.ElectionTimeout, o.LeaderLeaseTimeout, o.CommitTimeout = 0, 0, 0, 0
		o.RequestTimeout = 0
		o.Faults = nil
	})
	return c
}

// load runs b.N calls of op from clients goroutines (op gets the
// client's number and the call's) and reports ops/s, p50 and p99.
func load(b *testing.B, clients int, unit string, op func(client int, i int64) error) {
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			var mine []time.Duration
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					break
				}
				start := time.Now()
				if err := op(w, i); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), unit+"/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWrites: inserts from 1, 16 and 256 clients, each with an
// idempotency key, as the HTTP client sends them (a node then retries a
// write by itself when leadership changes under it).
func BenchmarkWrites(b *testing.B) {
	for _, clients := range []int{1, 16, 256} {
		for _, spread := range []bool{false, true} {
			name := fmt.Sprintf("clients=%d/leader", clients)
			if spread {
				name = fmt.Sprintf("clients=%d/spread", clients)
			}
			b.Run(name, func(b *testing.B) {
				c := newBenchCluster(b, 3)
				l := c.leader()
				ctx := context.Background()
				load(b, clients, "writes", func(w int, i int64) error {
					n := l.n()
					if spread {
						n = c.nodes[w%3].n()
					}
					id := fmt.Sprint(i)
					_, err := n.Insert(host.WithIdempotencyKey(ctx, id), "bench", id, benchValue)
					return err
				})
			})
		}
	}
}

// BenchmarkReads: gets of 1,000 actors from 256 clients, linearizable
// (each read confirms leadership with a quorum) and local.
// preload inserts the actors bench/0 .. bench/999 through tn, in one batch.
func preload(b *testing.B, tn *testNode) {
	ops := make([]host.BatchOp, 1000)
	for i := range ops {
		ops[i] = host.InsertOp("bench", fmt.Sprint(i), benchValue)
	}
	if _, err := tn.n().Batch(context.Background(), ops...); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkReads(b *testing.B) {
	for _, cons := range []server.Consistency{server.Linearizable, server.Leader, server.Local} {
		for _, spread := range []bool{false, true} {
			where := "leader"
			if spread {
				where = "spread"
			}
			b.Run(fmt.Sprintf("%s/clients=256/%s", cons, where), func(b *testing.B) {
				c := newBenchCluster(b, 3)
				l := c.leader()
				ctx := context.Background()
				preload(b, l)
				c.converge()
				rctx := server.WithConsistency(ctx, cons)
				load(b, 256, "reads", func(w int, i int64) error {
					n := l.n()
					if spread {
						n = c.nodes[w%3].n()
					}
					_, ok, err := n.Get(rctx, "bench", fmt.Sprint(i%1000))
					if err == nil && !ok {
						err = fmt.Errorf("bench/%d missing", i%1000)
					}
					return err
				})
			})
		}
	}
}

// BenchmarkCAS: 16 clients each read a random one of 1,000 actors (from
// the leader's state) and compare-and-swap it at the version read; a
// conflict reads again. It counts successful swaps.
func BenchmarkCAS(b *testing.B) {
	c := newBenchCluster(b, 3)
	l := c.leader()
	ctx := context.Background()
	preload(b, l)
	rctx := server.WithConsistency(ctx, server.Leader)
	var conflicts atomic.Int64
	load(b, 16, "cas", func(w int, i int64) error {
		id := fmt.Sprint(rand.IntN(1000))
		for {
			a, _, err := l.n().Get(rctx, "bench", id)
			if err != nil {
				return err
			}
			_, err = l.n().UpdateVersioned(ctx, "bench", id, benchValue, a.Version)
			if err == nil {
				return nil
			}
			if _, ok := err.(*host.VersionMismatchError); !ok {
				return err
			}
			conflicts.Add(1)
		}
	})
	b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
}

// BenchmarkFailover kills the leader of a 3-node cluster while a client
// writes through a follower, and reports the time from the kill to the
// next acknowledged write, at the default timeouts.
func BenchmarkFailover(b *testing.B) {
	var total, worst time.Duration
	for range b.N {
		b.StopTimer()
		c := newBenchCluster(b, 3)
		f := c.followers()[0]
		ctx := context.Background()
		var acked atomic.Int64 // Unix nanoseconds of the latest acknowledgement
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprint(i)
				wctx, cancel := context.WithTimeout(host.WithIdempotencyKey(ctx, key), 10*time.Second)
				if _, err := f.n().Insert(wctx, "bench", key, benchValue); err == nil {
					acked.Store(time.Now().UnixNano())
				}
				cancel()
			}
		}()
		time.Sleep(200 * time.Millisecond)
		b.StartTimer()
		killed := time.Now()
		c.stop(c.leader(), false)
		for acked.Load() < killed.UnixNano() && time.Since(killed) < 20*time.Second {
			time.Sleep(100 * time.Microsecond)
		}
		d := time.Unix(0, acked.Load()).Sub(killed)
		b.StopTimer()
		close(stop)
		<-done
		total += d
		worst = max(worst, d)
		for _, tn := range c.nodes {
			c.stop(tn, false)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "failover-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkOneMember compares a one-member cluster with the plain
// durable store (host.Open with a directory, fsync on) it replaces in
// actorstore serve: inserts from 1 and 16 clients.
func BenchmarkOneMember(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d/durable-store", clients), func(b *testing.B) {
			ctx := context.Background()
			s, err := host.Open(ctx, host.Options{Dir: b.TempDir(), Engine: host.EngineNative})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(ctx)
			load(b, clients, "writes", func(_ int, i int64) error {
				_, err := s.Insert(ctx, "bench", fmt.Sprint(i), benchValue)
				return err
			})
		})
		b.Run(fmt.Sprintf("clients=%d/one-member-cluster", clients), func(b *testing.B) {
			c := newBenchCluster(b, 1)
			n := c.leader().n()
			ctx := context.Background()
			load(b, clients, "writes", func(_ int, i int64) error {
				_, err := n.Insert(ctx, "bench", fmt.Sprint(i), benchValue)
				return err
			})
		})
	}
}
