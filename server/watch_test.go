package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
)

// wsEvent is an event as a watcher reads it.
type wsEvent struct {
	Sequence  uint64          `json:"sequence" cbor:"sequence"`
	Operation string          `json:"operation" cbor:"operation"`
	Type      string          `json:"type" cbor:"type"`
	ID        string          `json:"id" cbor:"id"`
	NewValue  json.RawMessage `json:"newValue"`
	Timestamp string          `json:"timestamp" cbor:"timestamp"`
}

// dial opens a watch with the query given.
func (ts *testServer) dial(t testing.TB, query string, headers ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := ts.tryDial(query, headers...)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", query, err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func (ts *testServer) tryDial(query string, headers ...string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if ts.token != "" {
		h.Set("Authorization", "Bearer "+ts.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	u := "ws" + strings.TrimPrefix(ts.http.URL, "http") + "/v1/watch" + query
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
}

// next reads one event (JSON) from a watch.
func next(t testing.TB, c *websocket.Conn) wsEvent {
	t.Helper()
	ev, err := tryNext(c, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func tryNext(c *websocket.Conn, timeout time.Duration) (wsEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		return wsEvent{}, err
	}
	var ev wsEvent
	if typ == websocket.MessageBinary {
		err = cbor.Unmarshal(b, &ev)
	} else {
		err = json.Unmarshal(b, &ev)
	}
	return ev, err
}

// expectClose reads until the watch ends and checks its close code and
// reason prefix.
func expectClose(t testing.TB, c *websocket.Conn, code int, prefix string) {
	t.Helper()
	for range 100000 {
		_, err := tryNext(c, 10*time.Second)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("watch ended with %v, want close code %d", err, code)
		}
		if int(ce.Code) != code || !strings.HasPrefix(ce.Reason, prefix) {
			t.Fatalf("close %d %q, want %d %q...", ce.Code, ce.Reason, code, prefix)
		}
		return
	}
	t.Fatal("watch did not end")
}

func (ts *testServer) write(t testing.TB, typ, id string, v any) {
	t.Helper()
	if _, err := ts.store.Insert(context.Background(), typ, id, v); err != nil {
		if _, err := ts.store.Update(context.Background(), typ, id, v); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatchStartPositions(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second); return now }
	ts := newTestServer(t, host.Options{Clock: clock, ReplayBufferSize: 100}, Options{})
	for i := 1; i <= 5; i++ {
		ts.write(t, "a", fmt.Sprint(i), i) // sequences 1-5 at 03:04:06.0000006 + i-1 s
	}
	for _, c := range []struct {
		from  string
		first uint64
	}{
		{"", 1}, {"?from=beginning", 1}, {"?from=3", 3}, {"?from=0", 1}, {"?from=now", 0},
		{"?from=2030-01-02T03:04:08.0000006Z", 3}, {"?from=2030-01-02T03:04:08Z", 3},
		{"?from=2030-01-02T04:04:08%2B01:00", 3}, {"?from=2000-01-01T00:00:00Z", 1}, {"?from=2099-01-01T00:00:00Z", 0},
	} {
		c1 := ts.dial(t, c.from)
		ts.write(t, "a", "x"+c.from, 0) // one more event, so that every start has one to read
		if c.first == 0 {               // only events from the dial on: that one
			c.first = stats(t, ts).CurrentSequence
		}
		ev := next(t, c1)
		if ev.Sequence != c.first {
			t.Errorf("from %q: first event %d, want %d", c.from, ev.Sequence, c.first)
		}
		c1.Close(websocket.StatusNormalClosure, "")
	}
	// CBOR messages, binary.
	c := ts.dial(t, "?from=1&format=cbor")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageBinary {
		t.Fatalf("cbor watch: %v %v", typ, err)
	}
	var ev struct {
		Sequence uint64          `cbor:"sequence"`
		NewValue cbor.RawMessage `cbor:"newValue"`
		Prev     cbor.RawMessage `cbor:"previousValue"`
	}
	if err := cbor.Unmarshal(b, &ev); err != nil || ev.Sequence != 1 || string(ev.NewValue) != "\x01" || string(ev.Prev) != "\xf6" {
		t.Errorf("cbor event %x: %+v %v", b, ev, err)
	}
}

func TestWatchFilters(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	byType := ts.dial(t, "?from=now&type=card")
	byPrefix := ts.dial(t, "?from=now&type=card&prefix=c1")
	all := ts.dial(t, "?from=now")
	ts.write(t, "user", "c1", 1)
	ts.write(t, "card", "c2", 1)
	ts.write(t, "card", "c10", 1)
	ts.write(t, "card", "x", 1)
	ts.write(t, "card", "c1", 2)
	want := map[*websocket.Conn][]string{
		byType:   {"card/c2", "card/c10", "card/x", "card/c1"},
		byPrefix: {"card/c10", "card/c1"},
		all:      {"user/c1", "card/c2", "card/c10", "card/x", "card/c1"},
	}
	for c, ids := range want {
		for _, id := range ids {
			ev := next(t, c)
			if got := ev.Type + "/" + ev.ID; got != id {
				t.Errorf("got %s, want %s", got, id)
			}
		}
	}
	// Bad parameters end the watch with 4400 and the reason.
	for _, q := range []string{"?from=yesterday", "?from=-1", "?format=xml", "?bogus=1", "?type=a&type=b"} {
		expectClose(t, ts.dial(t, q), 4400, "INVALID_ARGUMENT: ")
	}
}

// TestWatchResume: a watcher whose connection is cut resumes from the
// last sequence it saw + 1 and gets every event once.
func TestWatchResume(t *testing.T) {
	ts := newTestServer(t, host.Options{ReplayBufferSize: 10000}, Options{})
	const total = 600
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			ts.write(t, "a", fmt.Sprint(i%7), i)
		}
	}()
	var got []uint64
	from := "beginning"
	for cuts := 0; len(got) < total; cuts++ {
		if cuts > 100 {
			t.Fatal("too many reconnections")
		}
		c := ts.dial(t, "?from="+from)
		for range 50 + cuts*13 {
			ev := next(t, c)
			got = append(got, ev.Sequence)
			if len(got) == total {
				break
			}
		}
		c.CloseNow() // cut, no close handshake
		from = fmt.Sprint(got[len(got)-1] + 1)
	}
	<-done
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("event %d has sequence %d: a gap or a duplicate across reconnections", i, s)
		}
	}
}

// TestWatchSlowReader: a watcher that stops reading does not hold the
// writer back; once it reads again it gets the events it can in order,
// then close code 4410 COMPACTED; resuming from its next sequence is
// refused the same way.
func TestWatchSlowReader(t *testing.T) {
	// A buffer the other watcher, which keeps reading, stays inside of.
	ts := newTestServer(t, host.Options{ReplayBufferSize: 1000}, Options{})
	other := ts.dial(t, "?from=now&type=b")
	slow := ts.dial(t, "?from=now")
	value := strings.Repeat("x", 16<<10)
	// 64 MiB of events: far more than the buffer and the kernel's socket
	// buffers between server and client hold.
	const writes = 4000
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := range writes {
			if _, err := ts.store.Insert(context.Background(), "a", fmt.Sprint(i), value); err != nil {
				t.Error(err)
				return
			}
		}
		ts.write(t, "b", "1", 1)
	}()
	// The writer finishes while nobody reads the slow watch.
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatal("the writer was held back by a watcher that does not read")
	}
	if ev := next(t, other); ev.Type != "b" {
		t.Errorf("other watcher got %+v", ev)
	}
	var last uint64
	for {
		ev, err := tryNext(slow, 10*time.Second)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != CloseCompacted || !strings.HasPrefix(ce.Reason, "COMPACTED: requested ") {
				t.Fatalf("slow watcher ended with %v, want 4410 COMPACTED", err)
			}
			break
		}
		if ev.Sequence != last+1 {
			t.Fatalf("slow watcher got %d after %d", ev.Sequence, last)
		}
		last = ev.Sequence
	}
	if last >= writes {
		t.Fatalf("the slow watcher got all %d events: it was never behind", last)
	}
	expectClose(t, ts.dial(t, fmt.Sprintf("?from=%d", last+1)), CloseCompacted, "COMPACTED: requested ")
	// The server ends a compacted watch's subscription after it has sent
	// the close frame, so the count falls a moment after the client sees it.
	deadline := time.Now().Add(10 * time.Second)
	for n := stats(t, ts).ActiveSubscriptions; n > 1; n = stats(t, ts).ActiveSubscriptions {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions open, want at most the other watcher's", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatch100: a hundred watchers at once each get every event in order.
func TestWatch100(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	const watchers, events = 100, 200
	conns := make([]*websocket.Conn, watchers)
	for i := range conns {
		conns[i] = ts.dial(t, "?from=now")
	}
	waitSubscribers(t, ts, watchers)
	go func() {
		for i := range events {
			ts.write(t, "a", fmt.Sprint(i), i)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, watchers)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range events {
				ev, err := tryNext(c, 30*time.Second)
				if err != nil {
					errs <- err
					return
				}
				if ev.Sequence != uint64(i+1) {
					errs <- fmt.Errorf("event %d has sequence %d", i, ev.Sequence)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestWatchShutdown: Shutdown closes watchers with 1001 going away.
func TestWatchShutdown(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	cs := []*websocket.Conn{ts.dial(t, "?from=now"), ts.dial(t, "?from=now&format=cbor")}
	waitSubscribers(t, ts, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- ts.srv.Shutdown(ctx) }()
	for _, c := range cs {
		expectClose(t, c, CloseGoingAway, "")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, resp, err := ts.tryDial("?from=now"); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("dial after Shutdown: %v %v", resp, err)
	}
}

func TestWatchAuthAndOrigin(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{Token: "tok", AllowOrigins: []string{"https://ok.example"}})
	ts.token = ""
	if _, resp, err := ts.tryDial(""); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("dial without token: %v %v", resp, err)
	}
	ts.token = "tok"
	if _, resp, err := ts.tryDial("", "Origin", "https://evil.example"); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("dial from a foreign origin: %v %v", resp, err)
	}
	c := ts.dial(t, "?from=now", "Origin", "https://ok.example")
	ts.write(t, "a", "1", 1)
	if ev := next(t, c); ev.Sequence != 1 {
		t.Errorf("event %+v", ev)
	}
}

// TestWatchPing: a watcher that answers pings (by reading) stays; one
// that does not is dropped and its subscription closed.
func TestWatchPing(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{WatchPingInterval: 20 * time.Millisecond, WatchWriteTimeout: 200 * time.Millisecond})
	alive := ts.dial(t, "?from=now")
	got := make(chan wsEvent, 1)
	go func() { ev, _ := tryNext(alive, 20*time.Second); got <- ev }() // reads, so answers pings
	deaf := ts.dial(t, "?from=now")                                    // never reads
	waitSubscribers(t, ts, 2)
	deadline := time.Now().Add(10 * time.Second)
	for stats(t, ts).ActiveSubscriptions != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions: the watcher that does not answer pings is still there", stats(t, ts).ActiveSubscriptions)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // more pings, answered
	ts.write(t, "a", "1", 1)
	if ev := <-got; ev.Sequence != 1 {
		t.Errorf("the reading watcher got %+v", ev)
	}
	_ = deaf
}

// TestWatchTokenProtocol: a page carries the token as the subprotocol
// "actorstore.token.<base64url>" beside "actorstore.v1"; the server
// answers "actorstore.v1" alone, and a token in the URL is no token.
func TestWatchTokenProtocol(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{Token: "tok/+=", AllowOrigins: []string{"https://ok.example"}})
	ts.token = ""
	dial := func(query string, protocols ...string) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u := "ws" + strings.TrimPrefix(ts.http.URL, "http") + "/v1/watch" + query
		return websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: protocols,
			HTTPHeader: http.Header{"Origin": {"https://ok.example"}}})
	}
	good := WatchTokenProtocolPrefix + base64.RawURLEncoding.EncodeToString([]byte("tok/+="))
	c, resp, err := dial("?from=now", WatchProtocol, good)
	if err != nil {
		t.Fatalf("dial with the token protocol: %v %v", resp, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if c.Subprotocol() != WatchProtocol || resp.Header.Get("Sec-WebSocket-Protocol") != WatchProtocol {
		t.Errorf("answered subprotocol %q (header %q), want %q alone", c.Subprotocol(), resp.Header.Get("Sec-WebSocket-Protocol"), WatchProtocol)
	}
	ts.write(t, "a", "1", 1)
	if ev := next(t, c); ev.Sequence != 1 {
		t.Errorf("event %+v", ev)
	}
	bad := WatchTokenProtocolPrefix + base64.RawURLEncoding.EncodeToString([]byte("nope"))
	for name, protos := range map[string][]string{
		"wrong token":     {WatchProtocol, bad},
		"not base64url":   {WatchProtocol, WatchTokenProtocolPrefix + "dG9r=="},
		"no token":        {WatchProtocol},
		"token, no other": nil,
	} {
		if _, resp, err := dial("", protos...); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("%s: dial %v %v, want 401", name, resp, err)
		}
	}
	// The query parameter of old is refused as unknown, never read as a token.
	if _, resp, err := dial("?access_token=tok%2F%2B%3D"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("dial with access_token: %v %v, want 401", resp, err)
	}
	// Only watches take the protocol.
	expectError(t, ts.do("GET", "/v1/stats", nil, "Sec-WebSocket-Protocol", good), 401, "UNAUTHORIZED")
	// A header token still works, with or without the protocol.
	ts.token = "tok/+="
	c2 := ts.dial(t, "?from=now")
	ts.write(t, "a", "1", 2)
	if ev := next(t, c2); ev.Sequence != 2 {
		t.Errorf("event %+v", ev)
	}
}

func TestWSToken(t *testing.T) {
	for _, c := range []struct {
		header []string
		token  string
		ok     bool
	}{
		{[]string{"actorstore.v1, actorstore.token.YWJj"}, "abc", true},
		{[]string{"actorstore.v1", "actorstore.token.YWJj"}, "abc", true},
		{[]string{"actorstore.token."}, "", true},
		{[]string{"actorstore.v1"}, "", false},
		{[]string{"actorstore.token.YW Jj"}, "", false},
		{nil, "", false},
	} {
		h := http.Header{"Sec-Websocket-Protocol": c.header}
		tok, ok := wsToken(h)
		if tok != c.token || ok != c.ok {
			t.Errorf("%q: %q %v, want %q %v", c.header, tok, ok, c.token, c.ok)
		}
	}
}
