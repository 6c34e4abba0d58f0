package host

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// BenchmarkFanout: 100 subscriptions follow one writer. An op is one
// insert, counted done when every subscriber has read its event; the
// writer goes as fast as the store lets it. Reported per engine, with the
// shared tail (how the store runs) and without it (every subscription
// reading the engine itself under the store's lock, as before the tail):
// events/s and deliveries/s (events times subscribers).
func BenchmarkFanout(b *testing.B) {
	const subscribers = 100
	value := cbor.RawMessage(append([]byte{0x78, 98}, make([]byte, 98)...))
	rate := map[string]float64{} // deliveries/s by engine and tail
	defer func() {
		for _, e := range engines {
			with, without := rate[e.String()+"/true"], rate[e.String()+"/false"]
			if with > 0 && without > 0 {
				// Printed, not logged: a parent benchmark's log shows only with -v.
				fmt.Printf("fanout %s: with the shared tail %.0f deliveries/s, without %.0f: %.2fx\n", e, with, without, with/without)
			}
		}
	}()
	for _, e := range engines {
		for _, shared := range []bool{true, false} {
			name := fmt.Sprintf("%v/tail=%v", e, shared)
			b.Run(name, func(b *testing.B) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				s := mustOpen(b, e, Options{ReplayBufferSize: 1 << 20, ReplayBufferBytes: 1 << 30, MaxDataBytes: 1 << 30})
				s.noTail = !shared
				var wg sync.WaitGroup
				errs := make(chan error, subscribers)
				for range subscribers {
					sub, err := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
					if err != nil {
						b.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer sub.Close()
						for want := uint64(1); want <= uint64(b.N); want++ {
							ev, err := sub.Next(ctx)
							if err != nil || ev.Sequence != want {
								errs <- fmt.Errorf("event %d, %v; want %d", ev.Sequence, err, want)
								return
							}
						}
					}()
				}
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					if _, err := s.Insert(ctx, "f", fmt.Sprint(i), value); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
				d := time.Since(start)
				b.StopTimer()
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
				b.ReportMetric(float64(b.N)/d.Seconds(), "events/s")
				b.ReportMetric(float64(b.N*subscribers)/d.Seconds(), "deliveries/s")
				rate[fmt.Sprintf("%v/%v", e, shared)] = float64(b.N*subscribers) / d.Seconds()
			})
		}
	}
}
