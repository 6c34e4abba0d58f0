package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWrites measures inserts of 100-byte values on a 3-node
// loopback cluster with default Raft timeouts, fsync on, from 1 and 16
// concurrent clients: to the leader, and spread over every node
// (followers forward). It reports writes/s and p50/p99 latency.
func BenchmarkWrites(b *testing.B) {
	value := make([]byte, 100)
	for _, clients := range []int{1, 16} {
		for _, spread := range []bool{false, true} {
			name := fmt.Sprintf("clients=%d/leader", clients)
			if spread {
				name = fmt.Sprintf("clients=%d/spread", clients)
			}
			b.Run(name, func(b *testing.B) {
				c := newBenchCluster(b)
				l := c.leader()
				var next atomic.Int64
				var mu sync.Mutex
				var lat []time.Duration
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						n := l.n()
						if spread {
							n = c.nodes[w%len(c.nodes)].n()
						}
						var mine []time.Duration
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								break
							}
							start := time.Now()
							if _, err := n.Insert(context.Background(), "bench", fmt.Sprint(i), value); err != nil {
								b.Error(err)
								return
							}
							mine = append(mine, time.Since(start))
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					}()
				}
				wg.Wait()
				b.StopTimer()
				slices.Sort(lat)
				if len(lat) > 0 {
					b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "writes/s")
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				}
			})
		}
	}
}

// newBenchCluster is a 3-node cluster with raft's default timeouts.
func newBenchCluster(b *testing.B) *testCluster {
	return newClusterTB(b, 3, func(o *Options) {
		o.HeartbeatTimeout, o.ElectionTimeout, o.LeaderLeaseTimeout, o.CommitTimeout = 0, 0, 0, 0
	})
}
