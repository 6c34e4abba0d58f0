package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fxamacker/cbor/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

// The benchmarks run each operation through loopback HTTP/1.1 with
// keep-alive and on the embedded store in the same run, so that the
// figures compare: ops/s, and latency percentiles (p50-µs, p99-µs) per
// operation.
//
//	go test ./server -run XXX -bench . -benchtime 2000x

// value100 is a 100-byte JSON value, and its CBOR.
var value100 = []byte(`{"name":"actor","n":12345,"tags":["a","b","c"],"note":"` + strings.Repeat("x", 43) + `"}`)

var value100CBOR = func() []byte {
	b, err := cborjson.FromJSON(value100)
	if err != nil {
		panic(err)
	}
	return b
}()

func init() {
	if len(value100) != 100 {
		panic(fmt.Sprintf("value100 is %d bytes", len(value100)))
	}
}

// benchOp is one operation by client c, its i-th.
type benchOp func(c, i int) error

// runClients runs b.N operations spread over clients goroutines and
// reports throughput and latency percentiles; it returns the throughput.
func runClients(b *testing.B, clients int, op benchOp) float64 {
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := op(c, i); err != nil {
					errs <- err
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return 0
	}
	opsPerSec := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(opsPerSec, "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	return opsPerSec
}

// ratios collects throughputs of one benchmark's runs and logs, for each
// pair, the first's over the second's (the last run of each name wins).
type ratios map[string]float64

func (r ratios) log(b *testing.B, what string, pairs [][2]string) {
	for _, p := range pairs {
		x, y := r[p[0]], r[p[1]]
		if x > 0 && y > 0 {
			// Printed, not logged: a parent benchmark's log shows only with -v.
			fmt.Printf("%s: %-22s %8.0f ops/s vs %-22s %8.0f ops/s: %.2fx\n", what, p[0], x, p[1], y, x/y)
		}
	}
}

// benchTarget is a store served over loopback HTTP, and the same store.
type benchTarget struct {
	store  *host.Store
	url    string
	client *http.Client
}

func newBenchTarget(b *testing.B, so host.Options, clients int) *benchTarget {
	ctx := context.Background()
	st, err := host.Open(ctx, so)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close(ctx) })
	s := New(st, Options{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	url := newLoopback(b, s)
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &benchTarget{store: st, url: url, client: &http.Client{Transport: tr}}
}

// do sends one request and checks its status, reading the body to its
// end so that the connection is reused.
func (t *benchTarget) do(method, path string, body []byte, want int, headers ...string) error {
	req, err := http.NewRequest(method, t.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, path, resp.StatusCode, want)
	}
	return err
}

const benchActors = 1000

func populate(b *testing.B, st *host.Store) {
	for i := range benchActors {
		if _, err := st.Insert(context.Background(), "bench", fmt.Sprint(i), cbor.RawMessage(value100CBOR)); err != nil {
			b.Fatal(err)
		}
	}
}

var benchClients = []int{1, 16, 64}

// BenchmarkOps: get, insert, update and compare-and-swap of 100-byte
// values, over HTTP and on the embedded store, with 1, 16 and 64
// concurrent clients.
func BenchmarkOps(b *testing.B) {
	ctx := context.Background()
	got := ratios{}
	var pairs [][2]string
	defer func() { got.log(b, "http/embedded", pairs) }()
	for _, opName := range []string{"get", "insert", "update", "cas"} {
		for _, clients := range benchClients {
			key := fmt.Sprintf("%s/clients=%d", opName, clients)
			pairs = append(pairs, [2]string{key + "/http", key + "/embedded"})
			for _, via := range []string{"http", "embedded"} {
				b.Run(fmt.Sprintf("op=%s/clients=%d/via=%s", opName, clients, via), func(b *testing.B) {
					t := newBenchTarget(b, host.Options{}, clients)
					populate(b, t.store)
					versions := make([]uint64, clients) // per client, for CAS on its own actor
					var seq atomic.Int64
					var op benchOp
					switch opName + "/" + via {
					case "get/http":
						op = func(c, i int) error {
							return t.do("GET", fmt.Sprintf("/v1/actors/bench/%d", (c*7919+i)%benchActors), nil, 200)
						}
					case "get/embedded":
						op = func(c, i int) error {
							_, _, err := t.store.Get(ctx, "bench", fmt.Sprint((c*7919+i)%benchActors))
							return err
						}
					case "insert/http":
						op = func(c, i int) error {
							return t.do("POST", fmt.Sprintf("/v1/actors/new/%d", seq.Add(1)), value100, 201)
						}
					case "insert/embedded":
						op = func(c, i int) error {
							_, err := t.store.Insert(ctx, "new", fmt.Sprint(seq.Add(1)), cbor.RawMessage(value100CBOR))
							return err
						}
					case "update/http":
						op = func(c, i int) error {
							return t.do("PUT", fmt.Sprintf("/v1/actors/bench/%d", (c*7919+i)%benchActors), value100, 200)
						}
					case "update/embedded":
						op = func(c, i int) error {
							_, err := t.store.Update(ctx, "bench", fmt.Sprint((c*7919+i)%benchActors), cbor.RawMessage(value100CBOR))
							return err
						}
					case "cas/http":
						op = func(c, i int) error {
							err := t.do("PUT", fmt.Sprintf("/v1/actors/bench/%d", c), value100, 200, "If-Match", etag(versions[c]))
							versions[c]++
							return err
						}
					case "cas/embedded":
						op = func(c, i int) error {
							_, err := t.store.UpdateVersioned(ctx, "bench", fmt.Sprint(c), cbor.RawMessage(value100CBOR), versions[c])
							versions[c]++
							return err
						}
					}
					got[key+"/"+via] = runClients(b, clients, op)
				})
			}
		}
	}
}

// BenchmarkDurableInsert: inserts on a durable store (SyncAlways, fsync
// before each write returns) with 1 and 64 clients: concurrent writes
// share fsyncs (group commit), over HTTP as on the embedded store.
func BenchmarkDurableInsert(b *testing.B) {
	ctx := context.Background()
	got := ratios{}
	defer func() {
		got.log(b, "group commit", [][2]string{{"clients=64/http", "clients=1/http"}, {"clients=64/embedded", "clients=1/embedded"}})
		got.log(b, "http/embedded", [][2]string{{"clients=1/http", "clients=1/embedded"}, {"clients=64/http", "clients=64/embedded"}})
	}()
	for _, clients := range []int{1, 64} {
		for _, via := range []string{"http", "embedded"} {
			b.Run(fmt.Sprintf("clients=%d/via=%s", clients, via), func(b *testing.B) {
				t := newBenchTarget(b, host.Options{Dir: b.TempDir(), Sync: host.SyncAlways}, clients)
				var seq atomic.Int64
				op := func(c, i int) error {
					return t.do("POST", fmt.Sprintf("/v1/actors/new/%d", seq.Add(1)), value100, 201)
				}
				if via == "embedded" {
					op = func(c, i int) error {
						_, err := t.store.Insert(ctx, "new", fmt.Sprint(seq.Add(1)), cbor.RawMessage(value100CBOR))
						return err
					}
				}
				got[fmt.Sprintf("clients=%d/%s", clients, via)] = runClients(b, clients, op)
			})
		}
	}
}

// BenchmarkHandler: the handler alone (no network: an in-memory request
// and recorder), to split a request's time between the HTTP stack and
// the handler.
func BenchmarkHandler(b *testing.B) {
	st, err := host.Open(context.Background(), host.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(context.Background())
	populate(b, st)
	s := New(st, Options{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, c := range []struct {
		name, method string
		body         []byte
		ct, accept   string
		want         int
	}{
		{"get/json", "GET", nil, "", "", 200},
		{"get/cbor", "GET", nil, "", "application/cbor", 200},
		{"update/json", "PUT", value100, "", "", 200},
		{"update/cbor", "PUT", value100CBOR, "application/cbor", "application/cbor", 200},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				req := httptest.NewRequest(c.method, fmt.Sprintf("/v1/actors/bench/%d", i%benchActors), bytes.NewReader(c.body))
				if c.ct != "" {
					req.Header.Set("Content-Type", c.ct)
				}
				if c.accept != "" {
					req.Header.Set("Accept", c.accept)
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != c.want {
					b.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
				}
			}
		})
	}
}

// BenchmarkCodec: converting a 100-byte value each way, and encoding an
// actor and an event for a response.
func BenchmarkCodec(b *testing.B) {
	b.Run("value/json-to-cbor", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := cborjson.FromJSON(value100); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("value/cbor-to-json", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for range b.N {
			if _, err := cborjson.AppendJSON(buf[:0], value100CBOR); err != nil {
				b.Fatal(err)
			}
		}
	})
	a := host.Actor{Type: "bench", ID: "123", Version: 7, Value: value100CBOR}
	v := uint64(7)
	ev := host.ChangeEvent{Sequence: 99, Operation: host.OpUpdate, ActorType: "bench", ActorID: "123",
		PreviousValue: value100CBOR, PreviousVersion: &v, NewValue: value100CBOR, NewVersion: &v, Timestamp: time.Now()}
	for _, format := range []string{"json", "cbor"} {
		b.Run("actor/"+format, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				newEnc(format == "cbor").actor(&a)
			}
		})
		b.Run("event/"+format, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				newEnc(format == "cbor").event(&ev)
			}
		})
	}
}

// BenchmarkWatchFanout: each write reaches 100 WebSocket watchers; ns/op
// is per write, until every watcher has read it.
func BenchmarkWatchFanout(b *testing.B) {
	const watchers = 100
	for _, format := range []string{"json", "cbor"} {
		b.Run("format="+format, func(b *testing.B) {
			ctx := context.Background()
			t := newBenchTarget(b, host.Options{ReplayBufferSize: 1 << 20, ReplayBufferBytes: 1 << 30}, 1)
			ws := "ws" + strings.TrimPrefix(t.url, "http") + "/v1/watch?from=now&format=" + format
			var wg sync.WaitGroup
			errs := make(chan error, watchers)
			conns := make([]*websocket.Conn, watchers)
			for i := range conns {
				c, _, err := websocket.Dial(ctx, ws, nil)
				if err != nil {
					b.Fatal(err)
				}
				c.SetReadLimit(-1)
				conns[i] = c
				defer c.CloseNow()
			}
			for {
				st, _ := t.store.Stats(ctx)
				if st.ActiveSubscriptions >= watchers {
					break
				}
				time.Sleep(time.Millisecond)
			}
			b.ResetTimer()
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range b.N {
						if _, _, err := c.Read(ctx); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			start := time.Now()
			for i := range b.N {
				if _, err := t.store.Insert(ctx, "w", fmt.Sprint(i), cbor.RawMessage(value100CBOR)); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N*watchers)/el.Seconds(), "deliveries/s")
		})
	}
}

// watchSequences reads the sequences a CBOR watch message holds: one
// event, or with batch an array of consecutive events (the first's
// sequence and the count). It reads only the heads it needs (an event's
// first key is its sequence), so that the benchmark's own readers cost
// little beside the server; the tests check the messages whole.
func watchSequences(msg []byte, batch bool) (first uint64, n int, err error) {
	n = 1
	if batch {
		if len(msg) == 0 || msg[0]>>5 != 4 {
			return 0, 0, fmt.Errorf("not a CBOR array")
		}
		c, k, err := cborUint(msg)
		if err != nil || c == 0 {
			return 0, 0, fmt.Errorf("bad batch head")
		}
		n, msg = int(c), msg[k:]
	}
	const key = "\xa9\x68sequence"
	if !bytes.HasPrefix(msg, []byte(key)) {
		return 0, 0, fmt.Errorf("not an event")
	}
	first, _, err = cborUint(msg[len(key):])
	return first, n, err
}

// cborUint reads a CBOR head's argument (any major type) and its size.
func cborUint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("short CBOR head")
	}
	ai := b[0] & 31
	switch {
	case ai < 24:
		return uint64(ai), 1, nil
	case ai == 24 && len(b) >= 2:
		return uint64(b[1]), 2, nil
	case ai == 25 && len(b) >= 3:
		return uint64(b[1])<<8 | uint64(b[2]), 3, nil
	case ai == 26 && len(b) >= 5:
		return uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4]), 5, nil
	case ai == 27 && len(b) >= 9:
		var v uint64
		for _, x := range b[1:9] {
			v = v<<8 | uint64(x)
		}
		return v, 9, nil
	}
	return 0, 0, fmt.Errorf("bad CBOR head %#x", b[0])
}

// BenchmarkWatchRate: writes at a fixed rate (10,000 events/s for 3 s,
// 100 events every 10 ms) reach 100 WebSocket watchers (format=cbor),
// one event a message and batched. Reported: deliveries/s, delivered and
// lost (events a watcher had not received 2 s after the last write),
// and the p50 and p99 delivery latency (write to receipt) over every
// watcher's every event. It runs once, whatever b.N (-benchtime).
func BenchmarkWatchRate(b *testing.B) {
	const (
		watchers = 100
		rate     = 10000
		duration = 3 * time.Second
		tick     = 10 * time.Millisecond
	)
	perTick := rate * int(tick) / int(time.Second)
	total := rate * int(duration/time.Second)
	for _, batch := range []bool{false, true} {
		b.Run(fmt.Sprintf("batch=%v", batch), func(b *testing.B) {
			for range 1 {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				t := newBenchTarget(b, host.Options{ReplayBufferSize: 1 << 20, ReplayBufferBytes: 1 << 30}, 1)
				st, _ := t.store.Stats(ctx)
				base := st.CurrentSequence + 1
				ws := "ws" + strings.TrimPrefix(t.url, "http") + "/v1/watch?format=cbor&from=" + fmt.Sprint(base)
				if batch {
					ws += "&batch=1"
				}
				sent := make([]atomic.Int64, total) // unix ns the write returned, by sequence - base
				lat := make([][]time.Duration, watchers)
				got := make([]int, watchers)
				errs := make(chan error, watchers)
				var wg sync.WaitGroup
				conns := make([]*websocket.Conn, watchers)
				for w := range watchers {
					c, _, err := websocket.Dial(ctx, ws, nil)
					if err != nil {
						b.Fatal(err)
					}
					c.SetReadLimit(-1)
					defer c.CloseNow()
					conns[w] = c
					wg.Add(1)
					go func() {
						defer wg.Done()
						next := base
						for got[w] < total {
							// No deadline: a context with one costs a timer per
							// message. Closing the connection ends the read.
							_, msg, err := c.Read(context.Background())
							if err != nil {
								if ctx.Err() == nil {
									errs <- err
								}
								return
							}
							now := time.Now().UnixNano()
							first, n, err := watchSequences(msg, batch)
							if err != nil || first != next {
								errs <- fmt.Errorf("watcher %d: message from %d (%v), want %d", w, first, err, next)
								return
							}
							for i := range n {
								lat[w] = append(lat[w], time.Duration(now-sent[first-base+uint64(i)].Load()))
							}
							next += uint64(n)
							got[w] += n
						}
					}()
				}
				b.ResetTimer()
				start := time.Now()
				tk := time.NewTicker(tick)
				for i := 0; i < total; {
					<-tk.C
					for range perTick {
						// The time is stored before the write: a watcher may
						// read the event before Insert returns.
						sent[i].Store(time.Now().UnixNano())
						if _, err := t.store.Insert(ctx, "w", fmt.Sprint(i), cbor.RawMessage(value100CBOR)); err != nil {
							b.Fatal(err)
						}
						i++
					}
				}
				tk.Stop()
				writeEnd := time.Since(start)
				done := make(chan struct{})
				go func() { wg.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(2 * time.Second):
				}
				cancel()
				for _, c := range conns {
					c.CloseNow()
				}
				<-done
				el := time.Since(start)
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				delivered := 0
				for _, g := range got {
					delivered += g
				}
				all := slices.Concat(lat...)
				slices.Sort(all)
				b.ReportMetric(float64(total)/writeEnd.Seconds(), "events/s")
				b.ReportMetric(float64(delivered)/el.Seconds(), "deliveries/s")
				b.ReportMetric(float64(delivered), "delivered")
				b.ReportMetric(float64(total*watchers-delivered), "lost")
				if len(all) > 0 {
					b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
				}
			}
		})
	}
}
