package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
)

// fakeFeed is a watch route over a fixed feed of events 1..n that cuts
// each connection after a random number of events, sometimes abruptly,
// sometimes with 1001, and sometimes starts a few events before the
// requested one, as a careless server could.
type fakeFeed struct {
	t *testing.T
	n uint64

	mu    sync.Mutex
	r     *rand.Rand
	froms []string // the from parameter of each connection
}

func (f *fakeFeed) event(seq uint64) []byte {
	v := seq - 1
	b, _ := cbor.Marshal(map[string]any{"sequence": seq, "operation": "update", "type": "t", "id": "a",
		"previousVersion": v, "previousValue": cbor.RawMessage{0x18, byte(v)}, "newVersion": seq,
		"newValue": cbor.RawMessage{0x18, byte(seq)}, "timestamp": time.Unix(0, int64(seq)*1e6).UTC().Format(time.RFC3339Nano)})
	return b
}

func (f *fakeFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/watch" {
		http.NotFound(w, r)
		return
	}
	from := r.URL.Query().Get("from")
	start, err := strconv.ParseUint(from, 10, 64)
	if err != nil || r.URL.Query().Get("format") != "cbor" {
		f.t.Errorf("watch from %q format %q", from, r.URL.Query().Get("format"))
		return
	}
	f.mu.Lock()
	f.froms = append(f.froms, from)
	cut := 1 + f.r.IntN(15)
	abrupt := f.r.IntN(2) == 0
	if back := uint64(f.r.IntN(3)); f.r.IntN(4) == 0 && start > back {
		start -= back
	}
	f.mu.Unlock()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	for seq := start; seq <= f.n && cut > 0; seq, cut = seq+1, cut-1 {
		if err := conn.Write(r.Context(), websocket.MessageBinary, f.event(seq)); err != nil {
			return
		}
	}
	if abrupt {
		conn.CloseNow()
		return
	}
	conn.Close(websocket.StatusGoingAway, "server shutting down")
}

// TestSubscriptionResumes reads a feed whose connections are cut at
// random events: every event must arrive once, in order, and every
// reconnection must start right after the last event delivered.
func TestSubscriptionResumes(t *testing.T) {
	seed := rand.Uint64()
	if v := os.Getenv("ACTORSTORE_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("ACTORSTORE_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (ACTORSTORE_SEED replays it)", seed)
	f := &fakeFeed{t: t, n: 300, r: rand.New(rand.NewPCG(seed, 1))}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{Retry: RetryPolicy{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for want := uint64(1); want <= f.n; want++ {
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("seed %d: waiting for #%d: %v", seed, want, err)
		}
		if ev.Sequence != want || *ev.NewVersion != want || string(ev.NewValue) != string([]byte{0x18, byte(want)}) ||
			ev.Timestamp.UnixNano() != int64(want)*1e6 {
			t.Fatalf("seed %d: got #%d v%d %x at %v, want #%d", seed, ev.Sequence, *ev.NewVersion, []byte(ev.NewValue), ev.Timestamp, want)
		}
	}
	f.mu.Lock()
	froms := append([]string(nil), f.froms...)
	f.mu.Unlock()
	if len(froms) < 10 {
		t.Fatalf("seed %d: only %d connections: the cuts did not happen", seed, len(froms))
	}
	// Each connection starts one past the last event passed on, never
	// further back (it stays put when a connection brought only
	// duplicates).
	prev := uint64(0)
	for i, from := range froms {
		n, _ := strconv.ParseUint(from, 10, 64)
		if n < prev {
			t.Fatalf("seed %d: connection %d starts at %d after one at %d: %v", seed, i, n, prev, froms)
		}
		prev = n
	}
	if got := froms[0]; got != "1" {
		t.Errorf("first connection from %s, want 1", got)
	}
}

// TestSubscriptionCompacted checks that a watcher closed with 4410 ends
// with a *host.CompactedError carrying the feed's numbers, and keeps
// returning it.
func TestSubscriptionCompacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/changes":
			if r.URL.Query().Get("since") != "1" {
				t.Errorf("changes since %s, want 1", r.URL.Query().Get("since"))
			}
			writeCBOR(w, 410, wireError{Code: "COMPACTED", Message: "actorstore: compacted: events from 2 were evicted, oldest retained is 22",
				Requested: u64(2), Oldest: u64(22)})
		case "/v1/watch":
			conn, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			conn.Write(r.Context(), websocket.MessageBinary, (&fakeFeed{}).event(1))
			conn.Close(closeCompacted, "COMPACTED: fell behind")
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if ev, err := sub.Next(ctx); err != nil || ev.Sequence != 1 {
		t.Fatalf("first event: #%d, %v", ev.Sequence, err)
	}
	for range 2 {
		_, err := sub.Next(ctx)
		var ce *host.CompactedError
		if !errors.As(err, &ce) || ce.Requested != 2 || ce.Oldest != 22 {
			t.Fatalf("Next: %v, want COMPACTED 2/22", err)
		}
	}
}

// TestSubscriptionErrors checks the errors of a refused handshake and of
// an error close.
func TestSubscriptionErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("from") {
		case "1":
			writeCBOR(w, 410, wireError{Code: "COMPACTED", Message: "actorstore: compacted", Requested: u64(1), Oldest: u64(5)})
		case "2":
			writeCBOR(w, 401, wireError{Code: "UNAUTHORIZED", Message: "actorstore: unauthorized"})
		case "3":
			conn, err := websocket.Accept(w, r, nil)
			if err == nil {
				conn.Close(closeErrorBase+409, "RESTORED: actorstore: the store was restored from a snapshot")
			}
		case "4":
			conn, err := websocket.Accept(w, r, nil)
			if err == nil {
				conn.Close(closeCompacted, "COMPACTED: requested 7, oldest 9")
			}
		default:
			t.Errorf("unexpected request %s", r.URL)
			http.Error(w, "unexpected", 500)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ce *host.CompactedError
	if _, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(1)}); !errors.As(err, &ce) || ce.Oldest != 5 {
		t.Errorf("from 1: %v, want COMPACTED", err)
	}
	if _, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(2)}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("from 2: %v, want ErrUnauthorized", err)
	}
	sub, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(3)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, host.ErrRestored) || CodeOf(err) != "RESTORED" {
		t.Errorf("from 3: Next returned %v, want ErrRestored", err)
	}
	sub, err = c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(4)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sub.Next(ctx)
	if !errors.As(err, &ce) || ce.Requested != 7 || ce.Oldest != 9 ||
		err.Error() != "actorstore: compacted: events from 7 were evicted, oldest retained is 9" {
		t.Errorf("from 4: Next returned %v, want COMPACTED 7/9 from the close reason", err)
	}
}

// TestSubscriptionClose checks that Close wakes a waiting Next, and that
// closing the client closes its subscriptions.
func TestSubscriptionClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conn.Read(r.Context()) // until the client goes
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	ctx := context.Background()
	a, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(1)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(1)})
	if err != nil {
		t.Fatal(err)
	}
	waitNext := func(sub host.Subscription) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := sub.Next(ctx)
			done <- err
		}()
		return done
	}
	da, db := waitNext(a), waitNext(b)
	time.Sleep(20 * time.Millisecond)
	a.Close()
	a.Close()
	for name, d := range map[string]chan error{"closed subscription": da} {
		select {
		case err := <-d:
			if !errors.Is(err, host.ErrClosed) {
				t.Errorf("%s: Next returned %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Next still waits", name)
		}
	}
	c.Close(ctx)
	select {
	case err := <-db:
		if !errors.Is(err, host.ErrClosed) {
			t.Errorf("after the client's Close: Next returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("after the client's Close: Next still waits")
	}
	if _, err := b.Next(ctx); !errors.Is(err, host.ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
}

// TestSubscriptionNextContext checks that a Next whose context ends
// leaves the subscription usable.
func TestSubscriptionNextContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		<-release
		conn.Write(r.Context(), websocket.MessageBinary, (&fakeFeed{}).event(1))
		conn.Read(r.Context())
	}))
	defer srv.Close()
	defer close(release)
	c := newTestClient(t, srv.URL, Options{})
	sub, err := c.Subscribe(context.Background(), host.SubscriptionOptions{Start: host.FromSequence(1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: %v, want a deadline", err)
	}
	release <- struct{}{}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ev, err := sub.Next(ctx); err != nil || ev.Sequence != 1 {
		t.Fatalf("Next after a timed-out Next: #%d, %v", ev.Sequence, err)
	}
}
