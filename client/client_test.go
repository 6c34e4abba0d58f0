package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
)

// These tests run the client against fake servers that answer what a
// test needs: error documents, 503s, cut connections.

func newTestClient(t *testing.T, url string, o Options) *Client {
	t.Helper()
	c, err := New(url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// writeCBOR answers status with v encoded as CBOR.
func writeCBOR(w http.ResponseWriter, status int, v any) {
	b, err := cbor.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", cborType)
	w.WriteHeader(status)
	w.Write(b)
}

func u64(n uint64) *uint64 { return &n }

func TestErrorMapping(t *testing.T) {
	idx := 2
	answers := map[string]struct {
		status int
		body   wireError
	}{
		"/v1/actors/t/exists":   {409, wireError{Code: "ALREADY_EXISTS", Message: "actorstore: already exists: t/exists"}},
		"/v1/actors/t/cas":      {412, wireError{Code: "VERSION_MISMATCH", Message: "actorstore: version mismatch", Expected: u64(3), Actual: u64(5)}},
		"/v1/actors/t/big":      {413, wireError{Code: "VALUE_TOO_LARGE", Message: "actorstore: value too large"}},
		"/v1/actors/t/full":     {507, wireError{Code: "STORE_FULL", Message: "actorstore: store full"}},
		"/v1/actors/t/bad":      {400, wireError{Code: "INVALID_VALUE", Message: "actorstore: invalid value"}},
		"/v1/actors/t/missing":  {404, wireError{Code: "NOT_FOUND", Message: "actorstore: not found: t/missing"}},
		"/v1/actors/t/internal": {500, wireError{Code: "INTERNAL", Message: "actorstore: internal error"}},
		"/v1/actors/t/closed":   {503, wireError{Code: "CLOSED", Message: "actorstore: closed"}},
		"/v1/changes":           {410, wireError{Code: "COMPACTED", Message: "actorstore: compacted", Requested: u64(4), Oldest: u64(9)}},
		"/v1/batch":             {412, wireError{Code: "VERSION_MISMATCH", Message: "actorstore: batch operation 2: version mismatch", Expected: u64(0), Actual: u64(1), Index: &idx}},
		"/v1/stats":             {401, wireError{Code: "UNAUTHORIZED", Message: "actorstore: unauthorized"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/actors/t/plain404":
			http.NotFound(w, r)
			return
		case "/v1/actors/t/json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(409)
			w.Write([]byte(`{"code":"ALREADY_EXISTS","message":"actorstore: already exists: t/json"}`))
			return
		}
		a, ok := answers[r.URL.Path]
		if !ok {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.Error(w, "no", 500)
			return
		}
		writeCBOR(w, a.status, a.body)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{Retry: RetryPolicy{MaxAttempts: 1}})
	ctx := context.Background()

	check := func(name string, err error, want error, code string) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v is not %v", name, err, want)
		}
		if got := CodeOf(err); got != code {
			t.Errorf("%s: code %q, want %q", name, got, code)
		}
	}
	_, err := c.Insert(ctx, "t", "exists", 1)
	check("insert", err, host.ErrAlreadyExists, "ALREADY_EXISTS")
	if err == nil || err.Error() != "actorstore: already exists: t/exists" {
		t.Errorf("message %q", err)
	}
	_, err = c.UpdateVersioned(ctx, "t", "cas", 1, 3)
	check("cas", err, host.ErrVersionMismatch, "VERSION_MISMATCH")
	var vm *host.VersionMismatchError
	if !errors.As(err, &vm) || vm.Expected != 3 || vm.Actual != 5 {
		t.Errorf("cas: %#v, want a *host.VersionMismatchError 3/5", err)
	}
	_, err = c.Update(ctx, "t", "big", 1)
	check("big", err, host.ErrValueTooLarge, "VALUE_TOO_LARGE")
	_, err = c.Update(ctx, "t", "full", 1)
	check("full", err, host.ErrStoreFull, "STORE_FULL")
	_, err = c.Update(ctx, "t", "bad", 1)
	check("bad", err, host.ErrInvalidValue, "INVALID_VALUE")
	_, err = c.Update(ctx, "t", "missing", 1)
	check("update missing", err, host.ErrNotFound, "NOT_FOUND")
	_, err = c.Update(ctx, "t", "internal", 1)
	check("internal", err, host.ErrInternal, "INTERNAL")
	_, err = c.Update(ctx, "t", "json", 1)
	check("json body", err, host.ErrAlreadyExists, "ALREADY_EXISTS")
	if _, ok, err := c.Get(ctx, "t", "missing"); ok || err != nil {
		t.Errorf("get missing: ok %v err %v, want absent", ok, err)
	}
	if _, ok, err := c.Delete(ctx, "t", "missing"); ok || err != nil {
		t.Errorf("delete missing: ok %v err %v, want absent", ok, err)
	}
	// A 404 without an error document is a wrong URL, not an absent actor.
	if _, ok, err := c.Get(ctx, "t", "plain404"); err == nil || ok || errors.Is(err, host.ErrNotFound) {
		t.Errorf("get on a bare 404: ok %v err %v, want an error other than ErrNotFound", ok, err)
	}
	_, err = c.Changes(ctx, 3, host.Filter{}, 0)
	check("changes", err, host.ErrCompacted, "COMPACTED")
	var ce *host.CompactedError
	if !errors.As(err, &ce) || ce.Requested != 4 || ce.Oldest != 9 {
		t.Errorf("changes: %#v, want a *host.CompactedError 4/9", err)
	}
	_, err = c.Batch(ctx, host.InsertOp("t", "a", 1), host.InsertOp("t", "b", 1), host.UpdateVersionedOp("t", "a", 2, 0))
	var be *host.BatchError
	if !errors.As(err, &be) || be.Index != 2 || !errors.As(err, &vm) || vm.Actual != 1 || !errors.Is(err, host.ErrVersionMismatch) {
		t.Errorf("batch: %#v, want a *host.BatchError at 2 wrapping a version mismatch", err)
	}
	_, err = c.Stats(ctx)
	check("stats", err, ErrUnauthorized, "UNAUTHORIZED")
	_, err = c.Update(ctx, "t", "closed", 1)
	check("closed", err, host.ErrClosed, "CLOSED")
}

// TestLocalChecks checks what the client refuses before sending, worded
// and classified as the store would: bad keys, unencodable values,
// negative limits, unknown batch kinds.
func TestLocalChecks(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "unexpected", 500)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	ctx := context.Background()
	if _, err := c.Insert(ctx, "", "a", 1); !errors.Is(err, host.ErrInvalidKey) || err.Error() != "actorstore: invalid key: empty actor type" {
		t.Errorf("empty type: %v", err)
	}
	if _, _, err := c.Get(ctx, "t", "\xff"); !errors.Is(err, host.ErrInvalidKey) {
		t.Errorf("invalid UTF-8 id: %v", err)
	}
	if _, err := c.GetAll(ctx, ""); !errors.Is(err, host.ErrInvalidKey) {
		t.Errorf("GetAll of an empty type: %v", err)
	}
	if _, err := c.Insert(ctx, "t", "a", make(chan int)); !errors.Is(err, host.ErrInvalidValue) {
		t.Errorf("unencodable value: %v", err)
	}
	if _, err := c.Changes(ctx, 0, host.Filter{}, -1); !errors.Is(err, host.ErrInvalidArgument) {
		t.Errorf("negative limit: %v", err)
	}
	var be *host.BatchError
	if _, err := c.Batch(ctx, host.InsertOp("t", "a", 1), host.BatchOp{}); !errors.As(err, &be) || be.Index != 1 ||
		!errors.Is(err, host.ErrInvalidArgument) {
		t.Errorf("zero batch op: %v", err)
	}
	if _, err := c.Batch(ctx, host.InsertOp("t", "a", make(chan int))); !errors.As(err, &be) || be.Index != 0 ||
		!errors.Is(err, host.ErrInvalidValue) {
		t.Errorf("unencodable batch value: %v", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// TestRetryAfter checks that a 503 is retried after its Retry-After, with
// the same idempotency key, and that the answer after it is returned.
func TestRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		times = append(times, time.Now())
		n := len(keys)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeCBOR(w, 503, wireError{Code: "UNAVAILABLE", Message: "actorstore: no leader"})
			return
		}
		writeCBOR(w, 201, wireActor{Type: "t", ID: "a", Version: 0, Value: cbor.RawMessage{0x01}})
	}))
	defer srv.Close()
	// Backoff alone would retry after 10 ms or less.
	c := newTestClient(t, srv.URL, Options{Retry: RetryPolicy{MinBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}})
	a, err := c.Insert(context.Background(), "t", "a", 1)
	if err != nil || a.ID != "a" || string(a.Value) != "\x01" {
		t.Fatalf("insert: %+v, %v", a, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("idempotency keys %q, want one key sent twice", keys)
	}
	if d := times[1].Sub(times[0]); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("retried after %v, want the Retry-After of 1 s", d)
	}
}

// TestRetryAfterBeyondDeadline checks that a Retry-After the context
// cannot wait for returns the 503 at once.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "30")
		writeCBOR(w, 503, wireError{Code: "UNAVAILABLE", Message: "actorstore: no leader"})
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := c.Get(ctx, "t", "a")
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > time.Second || n.Load() != 1 {
		t.Errorf("after %v and %d requests: %v, want ErrUnavailable at once", time.Since(start), n.Load(), err)
	}
}

// TestRetryLimit checks that retries stop at MaxAttempts, and that other
// errors are not retried.
func TestRetryLimit(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/v1/actors/t/a" {
			writeCBOR(w, 503, wireError{Code: "UNAVAILABLE", Message: "actorstore: no leader"})
			return
		}
		writeCBOR(w, 409, wireError{Code: "ALREADY_EXISTS", Message: "actorstore: already exists"})
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{Retry: RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond}})
	if _, err := c.Update(context.Background(), "t", "a", 1); !errors.Is(err, ErrUnavailable) || n.Load() != 3 {
		t.Errorf("%d attempts: %v, want 3 and ErrUnavailable", n.Load(), err)
	}
	n.Store(0)
	if _, err := c.Insert(context.Background(), "t", "b", 1); !errors.Is(err, host.ErrAlreadyExists) || n.Load() != 1 {
		t.Errorf("%d attempts: %v, want 1 and ErrAlreadyExists", n.Load(), err)
	}
}

// TestRetryAfterCutConnection checks that a write whose connection is cut
// before an answer is retried with the same idempotency key, the ctx's
// own when it carries one.
func TestRetryAfterCutConnection(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n%2 == 1 { // the odd attempts lose their answer
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		writeCBOR(w, 200, wireBatchResults{Results: []wireBatchResult{{Actor: &wireActor{Type: "t", ID: "a", Value: cbor.RawMessage{0xf6}}, Found: true}}})
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{Retry: RetryPolicy{MinBackoff: time.Millisecond}})
	if _, err := c.Batch(context.Background(), host.InsertOp("t", "a", nil)); err != nil {
		t.Fatal(err)
	}
	ctx := host.WithIdempotencyKey(context.Background(), "my-key")
	if _, err := c.Batch(ctx, host.InsertOp("t", "a", nil)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 4 || keys[0] == "" || keys[0] != keys[1] || keys[2] != "my-key" || keys[3] != "my-key" || keys[0] == keys[2] {
		t.Errorf("idempotency keys %q, want a random key twice, then my-key twice", keys)
	}
}

// TestNetworkErrorAfterRetries checks that a server that is not there
// gives a network error once the attempts are spent.
func TestNetworkErrorAfterRetries(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newTestClient(t, "http://"+addr, Options{Retry: RetryPolicy{MaxAttempts: 2, MinBackoff: time.Millisecond}})
	_, err = c.Stats(context.Background())
	var ne *netError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), addr) {
		t.Errorf("stats of a closed port: %v", err)
	}
}

// TestClosedClient checks that a closed client refuses every call.
func TestClosedClient(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", Options{})
	c.Close(context.Background())
	ctx := context.Background()
	if _, err := c.Insert(ctx, "t", "a", 1); !errors.Is(err, host.ErrClosed) {
		t.Errorf("insert after Close: %v", err)
	}
	if _, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromSequence(1)}); !errors.Is(err, host.ErrClosed) {
		t.Errorf("subscribe after Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, u := range []string{"127.0.0.1:7070", "ftp://x", "http://", "::"} {
		if _, err := New(u, Options{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := New("http://x", Options{Consistency: "eventual"}); err == nil {
		t.Error("New accepted consistency \"eventual\"")
	}
}

// TestConsistencyParameter checks that reads, and only reads, carry the
// consistency level.
func TestConsistencyParameter(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Method+" "+r.URL.Path] = r.URL.Query().Get("consistency")
		mu.Unlock()
		switch r.URL.Path {
		case "/v1/stats":
			writeCBOR(w, 200, wireStats{})
		case "/v1/actors/t":
			writeCBOR(w, 200, wireList{Actors: []wireActor{}})
		default:
			writeCBOR(w, 200, wireActor{Type: "t", ID: "a", Value: cbor.RawMessage{0x01}})
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{Consistency: Leader})
	ctx := context.Background()
	c.Stats(ctx)
	c.Get(ctx, "t", "a")
	c.GetAll(ctx, "t")
	c.Update(ctx, "t", "a", 1)
	want := map[string]string{"GET /v1/stats": "leader", "GET /v1/actors/t/a": "leader", "GET /v1/actors/t": "leader", "PUT /v1/actors/t/a": ""}
	mu.Lock()
	defer mu.Unlock()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: consistency %q, want %q", k, got[k], v)
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	for h, want := range map[string]time.Duration{"": 0, "2": 2 * time.Second, "0.25": 250 * time.Millisecond,
		"-1": 0, "x": 0, "9999": maxRetryAfter} {
		if got := retryAfter(h); got != want {
			t.Errorf("Retry-After %q: %v, want %v", h, got, want)
		}
	}
	d := retryAfter(time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat))
	if d < time.Second || d > 3*time.Second {
		t.Errorf("Retry-After as a date 3 s ahead: %v", d)
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}.withDefaults()
	for attempt, want := range []time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
		if want == 0 {
			continue
		}
		for range 20 {
			if d := p.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestSameLengthValue(t *testing.T) {
	for _, n := range []int{1, 2, 24, 25, 26, 257, 258, 65538, 65539, 70000} {
		v := sameLengthValue(n)
		if len(v) != n || cbor.Wellformed(v) != nil {
			t.Errorf("sameLengthValue(%d): %d bytes, well-formed: %v", n, len(v), cbor.Wellformed(v))
		}
	}
}

// Answers of the fake servers, encoded with cbor.Marshal.

type wireActor struct {
	Type    string          `cbor:"type"`
	ID      string          `cbor:"id"`
	Version uint64          `cbor:"version"`
	Value   cbor.RawMessage `cbor:"value"`
}

type wireBatchResult struct {
	Actor *wireActor `cbor:"actor"`
	Found bool       `cbor:"found"`
}

type wireBatchResults struct {
	Results []wireBatchResult `cbor:"results"`
}

type wireList struct {
	Actors []wireActor `cbor:"actors"`
	Next   *string     `cbor:"next"`
}

// TestRetryAfterCutBody checks that an answer cut in the middle of its
// body is retried like one never received.
func TestRetryAfterCutBody(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Type", cborType)
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			w.Write([]byte{0xa4})
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		writeCBOR(w, 200, wireActor{Type: "t", ID: "a", Version: 3, Value: cbor.RawMessage{0x01}})
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{Retry: RetryPolicy{MinBackoff: time.Millisecond}})
	a, ok, err := c.Get(context.Background(), "t", "a")
	if err != nil || !ok || a.Version != 3 || n.Load() != 2 {
		t.Errorf("get after a cut body: %+v %v %v after %d requests", a, ok, err, n.Load())
	}
}
