package wal

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppendWait appends 100-byte records and waits for each, from 1
// and 16 goroutines, under every sync policy; it reports records per second
// and fsyncs per record.
func BenchmarkAppendWait(b *testing.B) {
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/%d", p, writers), func(b *testing.B) {
				d := mustOpen(b)
				var syncs atomic.Int64
				d.wrap = func(f segFile) segFile { return &countingFile{segFile: f, syncs: &syncs} }
				l := mustOpenLog(b, d, 1, Options{Sync: p})
				payload := make([]byte, 100)
				var left atomic.Int64
				left.Store(int64(b.N))
				var wg sync.WaitGroup
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for left.Add(-1) >= 0 {
							if err := l.Wait(l.Append(payload)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
				b.ReportMetric(float64(syncs.Load())/float64(b.N), "fsyncs/record")
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

type countingFile struct {
	segFile
	syncs *atomic.Int64
}

func (f *countingFile) Sync() error {
	f.syncs.Add(1)
	return f.segFile.Sync()
}
