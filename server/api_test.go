package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/actorstore/actorstore/host"
)

func TestList(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	for i := range 25 {
		expectStatus(t, ts.do("POST", fmt.Sprintf("/v1/actors/c/k%02d", i), []byte(fmt.Sprint(i))), 201)
	}
	expectStatus(t, ts.do("POST", "/v1/actors/other/k", []byte(`0`)), 201)
	var ids []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		q := "?limit=10"
		if after != "" {
			q += "&after=" + after
		}
		m := ts.do("GET", "/v1/actors/c"+q, nil).json(t)
		for _, a := range m["actors"].([]any) {
			ids = append(ids, a.(map[string]any)["id"].(string))
		}
		if m["next"] == nil {
			break
		}
		after = m["next"].(string)
	}
	if len(ids) != 25 || ids[0] != "k00" || ids[24] != "k24" {
		t.Errorf("paged ids %v", ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Errorf("ids out of order: %v", ids)
		}
	}
	m := ts.do("GET", "/v1/actors/none", nil).json(t)
	if len(m["actors"].([]any)) != 0 || m["next"] != nil {
		t.Errorf("empty type: %v", m)
	}
	// Exactly one page: next is null.
	if m := ts.do("GET", "/v1/actors/c?limit=25", nil).json(t); m["next"] != nil {
		t.Errorf("limit 25 of 25: next %v", m["next"])
	}
	for _, q := range []string{"limit=0", "limit=10001", "limit=x", "limit=-1", "limit=1&limit=2", "bogus=1", "after=%zz"} {
		expectError(t, ts.do("GET", "/v1/actors/c?"+q, nil), 400, "INVALID_ARGUMENT")
	}
}

func TestBatch(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	expectStatus(t, ts.do("POST", "/v1/actors/a/1", []byte(`1`)), 201)
	body := `{"ops":[
		{"op":"insert","type":"a","id":"2","value":{"$bytes":"00"}},
		{"op":"update","type":"a","id":"1","value":null},
		{"op":"updateVersioned","type":"a","id":"1","value":3,"expectedVersion":1},
		{"op":"delete","type":"a","id":"nope"},
		{"op":"delete","type":"a","id":"2"}]}`
	r := ts.do("POST", "/v1/batch", []byte(body))
	expectStatus(t, r, 200)
	want := `{"results":[` +
		`{"actor":{"type":"a","id":"2","version":0,"value":{"$bytes":"00"}},"found":true},` +
		`{"actor":{"type":"a","id":"1","version":1,"value":null},"found":true},` +
		`{"actor":{"type":"a","id":"1","version":2,"value":3},"found":true},` +
		`{"actor":null,"found":false},` +
		`{"actor":{"type":"a","id":"2","version":0,"value":{"$bytes":"00"}},"found":true}]}` + "\n"
	if string(r.body) != want {
		t.Errorf("batch\n got %s\nwant %s", r.body, want)
	}
	// A bare array reads too; a failing op names its index, and nothing
	// is applied.
	seq := stats(t, ts).CurrentSequence
	m := expectError(t, ts.do("POST", "/v1/batch", []byte(`[{"op":"insert","type":"a","id":"9","value":1},{"op":"updateVersioned","type":"a","id":"1","value":1,"expectedVersion":0}]`)), 412, "VERSION_MISMATCH")
	if m["index"] != json.Number("1") || m["expected"] != json.Number("0") || m["actual"] != json.Number("2") {
		t.Errorf("batch error %v", m)
	}
	if got := stats(t, ts).CurrentSequence; got != seq {
		t.Errorf("sequence %d after a failed batch, want %d", got, seq)
	}
	m = expectError(t, ts.do("POST", "/v1/batch", []byte(`{"ops":[{"op":"delete","type":"a","id":"1"},{"op":"update","type":"a","id":"1","value":1}]}`)), 404, "NOT_FOUND")
	if m["index"] != json.Number("1") {
		t.Errorf("index %v", m["index"])
	}
	// CBOR request and response.
	cb := mustCBOR(t, map[string]any{"ops": []any{map[string]any{"op": "insert", "type": "b", "id": "1", "value": cbor.Tag{Number: 99, Content: "x"}}}})
	r = ts.do("POST", "/v1/batch", cb, "Content-Type", "application/cbor", "Accept", "application/cbor")
	expectStatus(t, r, 200)
	var res struct {
		Results []struct {
			Actor struct {
				Value cbor.RawMessage `cbor:"value"`
			} `cbor:"actor"`
			Found bool `cbor:"found"`
		} `cbor:"results"`
	}
	if err := cbor.Unmarshal(r.body, &res); err != nil || len(res.Results) != 1 || !bytes.Equal(res.Results[0].Actor.Value, mustCBOR(t, cbor.Tag{Number: 99, Content: "x"})) {
		t.Errorf("CBOR batch %x: %v", r.body, err)
	}
	bad := []string{
		``, `{`, `{}x`, `1`, `{"ops":1}`, `{"ops":[1]}`, `{"ops":[{}]}`, `{"opz":[]}`,
		`{"ops":[{"op":"upsert","type":"a","id":"1","value":1}]}`,
		`{"ops":[{"op":"insert","type":"a","id":"1"}]}`,
		`{"ops":[{"op":"insert","id":"1","value":1}]}`,
		`{"ops":[{"op":"delete","type":"a","id":"1","value":1}]}`,
		`{"ops":[{"op":"updateVersioned","type":"a","id":"1","value":1}]}`,
		`{"ops":[{"op":"update","type":"a","id":"1","value":1,"expectedVersion":1}]}`,
		`{"ops":[{"op":"insert","type":"a","id":"1","value":1,"extra":1}]}`,
		`{"ops":[{"op":"insert","op":"insert","type":"a","id":"1","value":1}]}`,
		`{"ops":[{"op":"insert","type":1,"id":"1","value":1}]}`,
		`{"ops":[{"op":"updateVersioned","type":"a","id":"1","value":1,"expectedVersion":-1}]}`,
	}
	for _, b := range bad {
		expectError(t, ts.do("POST", "/v1/batch", []byte(b)), 400, "INVALID_ARGUMENT")
	}
	expectError(t, ts.do("POST", "/v1/batch", []byte{0xa1}, "Content-Type", "application/cbor"), 400, "INVALID_ARGUMENT")
	// Bad keys and values inside are the store's errors, with the index.
	m = expectError(t, ts.do("POST", "/v1/batch", []byte(`{"ops":[{"op":"insert","type":"","id":"1","value":1}]}`)), 400, "INVALID_KEY")
	if m["index"] != json.Number("0") {
		t.Errorf("index %v", m["index"])
	}
	expectStatus(t, ts.do("POST", "/v1/batch", []byte(`{"ops":[]}`)), 200)
}

func stats(t testing.TB, ts *testServer) host.Stats {
	t.Helper()
	st, err := ts.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestChanges(t *testing.T) {
	ts := newTestServer(t, host.Options{ReplayBufferSize: 8}, Options{})
	expectStatus(t, ts.do("POST", "/v1/actors/a/1", []byte(`1`)), 201)
	expectStatus(t, ts.do("PUT", "/v1/actors/a/1", []byte(`2`)), 200)
	expectStatus(t, ts.do("POST", "/v1/actors/b/1", []byte(`1`)), 201)
	expectStatus(t, ts.do("DELETE", "/v1/actors/a/1", nil), 200)
	m := ts.do("GET", "/v1/changes", nil).json(t)
	evs := m["events"].([]any)
	if len(evs) != 4 || m["next"] != json.Number("4") {
		t.Fatalf("changes %v", m)
	}
	up := evs[1].(map[string]any)
	if up["operation"] != "update" || up["previousVersion"] != json.Number("0") || up["newVersion"] != json.Number("1") ||
		up["previousValue"] != json.Number("1") || up["newValue"] != json.Number("2") || up["type"] != "a" || up["id"] != "1" {
		t.Errorf("update event %v", up)
	}
	if ts, err := time.Parse(time.RFC3339Nano, up["timestamp"].(string)); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %v: %v", up["timestamp"], err)
	}
	ins, del := evs[0].(map[string]any), evs[3].(map[string]any)
	if ins["previousVersion"] != nil || ins["previousValue"] != nil || del["newVersion"] != nil || del["newValue"] != nil {
		t.Errorf("insert %v, delete %v", ins, del)
	}
	m = ts.do("GET", "/v1/changes?since=1&type=a&limit=1", nil).json(t)
	if evs := m["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["sequence"] != json.Number("2") || m["next"] != json.Number("2") {
		t.Errorf("filtered page %v", m)
	}
	m = ts.do("GET", "/v1/changes?since=2&type=b&prefix=1", nil).json(t)
	if evs := m["events"].([]any); len(evs) != 1 || m["next"] != json.Number("4") {
		t.Errorf("type+prefix page %v", m)
	}
	// Compaction: 410 with requested and oldest.
	for i := range 10 {
		expectStatus(t, ts.do("POST", fmt.Sprintf("/v1/actors/c/%d", i), []byte(`0`)), 201)
	}
	e := expectError(t, ts.do("GET", "/v1/changes?since=1", nil), 410, "COMPACTED")
	if e["requested"] != json.Number("2") || e["oldest"] != json.Number("7") {
		t.Errorf("compacted %v", e)
	}
	for _, q := range []string{"since=-1", "since=x", "limit=0", "limit=10001", "wait=x", "wait=-1s", "wait=1", "from=1", "consistency=eventual"} {
		expectError(t, ts.do("GET", "/v1/changes?"+q, nil), 400, "INVALID_ARGUMENT")
	}
	for _, c := range []string{"linearizable", "leader", "local"} {
		expectStatus(t, ts.do("GET", "/v1/changes?since=14&consistency="+c, nil), 200)
	}
}

// TestLongPoll: a long poll answers as soon as a matching event is
// written, not before and not after its wait; an event not matching does
// not end it.
func TestLongPoll(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	done := make(chan *response, 1)
	go func() { done <- ts.do("GET", "/v1/changes?since=0&type=b&wait=20s", nil) }()
	waitSubscribers(t, ts, 1)
	expectStatus(t, ts.do("POST", "/v1/actors/a/1", []byte(`1`)), 201) // no match
	select {
	case r := <-done:
		t.Fatalf("long poll ended by an event it does not match: %s", r.body)
	case <-time.After(50 * time.Millisecond):
	}
	expectStatus(t, ts.do("POST", "/v1/actors/b/1", []byte(`2`)), 201)
	select {
	case r := <-done:
		m := r.json(t)
		if evs := m["events"].([]any); len(evs) != 1 || m["next"] != json.Number("2") {
			t.Errorf("long poll answer %s", r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll not woken by a matching write")
	}
	// It times out cleanly with an empty page whose next moved past
	// what it scanned.
	start := time.Now()
	r := ts.do("GET", "/v1/changes?since=2&wait=200ms", nil)
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("long poll answered after %v, before its wait", el)
	}
	if string(r.body) != `{"events":[],"next":2}`+"\n" {
		t.Errorf("timed out poll %s", r.body)
	}
	if n := stats(t, ts).ActiveSubscriptions; n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
	// Waits are capped at MaxWait.
	ts2 := newTestServer(t, host.Options{}, Options{MaxWait: 100 * time.Millisecond})
	start = time.Now()
	expectStatus(t, ts2.do("GET", "/v1/changes?wait=1h", nil), 200)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("wait=1h with MaxWait 100ms took %v", el)
	}
}

// waitSubscribers waits until the store counts n subscriptions.
func waitSubscribers(t testing.TB, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for stats(t, ts).ActiveSubscriptions < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions, want %d", stats(t, ts).ActiveSubscriptions, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShutdownEndsLongPolls: Shutdown answers a waiting poll at once.
func TestShutdownEndsLongPolls(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	done := make(chan *response, 1)
	go func() { done <- ts.do("GET", "/v1/changes?wait=60s", nil) }()
	waitSubscribers(t, ts, 1)
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		expectStatus(t, r, 200)
	case <-time.After(10 * time.Second):
		t.Fatal("long poll still waiting after Shutdown")
	}
	r := ts.do("GET", "/v1/stats", nil)
	expectError(t, r, 503, "UNAVAILABLE")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	expectStatus(t, ts.do("GET", "/healthz", nil), 200)
}

func TestAuth(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{Token: "s3cret"})
	ts.token = ""
	for _, p := range []string{"/v1/actors/a/1", "/v1/actors/a", "/v1/changes", "/v1/stats", "/v1/status", "/readyz", "/metrics", "/v1/snapshot", "/v1/watch"} {
		r := ts.do("GET", p, nil)
		expectError(t, r, 401, "UNAUTHORIZED")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", p, r.header.Get("WWW-Authenticate"))
		}
	}
	for _, h := range []string{"Bearer wrong", "Bearer  s3cret", "bearer s3cret", "s3cret", "Basic czNjcmV0", "Bearer s3cre", "Bearer s3cretx"} {
		expectError(t, ts.do("GET", "/v1/stats", nil, "Authorization", h), 401, "UNAUTHORIZED")
	}
	expectStatus(t, ts.do("GET", "/v1/stats", nil, "Authorization", "Bearer s3cret"), 200)
	expectStatus(t, ts.do("POST", "/v1/actors/a/1", []byte(`1`), "Authorization", "Bearer s3cret"), 201)
	expectStatus(t, ts.do("GET", "/healthz", nil), 200)
}

func TestCORS(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{AllowOrigins: []string{"https://app.example"}, Token: "t"})
	r := ts.do("GET", "/v1/stats", nil, "Origin", "https://app.example")
	expectStatus(t, r, 200)
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "ETag") ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), SequenceHeader) {
		t.Errorf("CORS headers %v", r.header)
	}
	expectError(t, ts.do("GET", "/v1/stats", nil, "Origin", "https://evil.example"), 403, "FORBIDDEN")
	expectError(t, ts.do("POST", "/v1/actors/a/1", []byte(`1`), "Origin", "null"), 403, "FORBIDDEN")
	// The server's own origin passes.
	expectStatus(t, ts.do("GET", "/v1/stats", nil, "Origin", ts.http.URL), 200)
	// Preflights need no token.
	tok := ts.token
	ts.token = ""
	r = ts.do("OPTIONS", "/v1/actors/a/1", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "PUT")
	expectStatus(t, r, 204)
	if !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "PUT") || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "If-Match") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight headers %v", r.header)
	}
	expectError(t, ts.do("OPTIONS", "/v1/actors/a/1", nil, "Origin", "https://evil.example"), 403, "FORBIDDEN")
	// Every route a page's replica uses takes its headers.
	for _, p := range []string{"/v1/actors/a/1", "/v1/batch", "/v1/snapshot", "/v1/watch", "/v1/stats", "/v1/actors/a"} {
		r = ts.do("OPTIONS", p, nil, "Origin", "https://app.example", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "idempotency-key, content-type, accept, authorization, if-match")
		expectStatus(t, r, 204)
		for _, h := range []string{"Idempotency-Key", "Content-Type", "Accept", "Authorization", "If-Match"} {
			if !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), h) {
				t.Errorf("preflight of %s: Access-Control-Allow-Headers %q lacks %s", p, r.header.Get("Access-Control-Allow-Headers"), h)
			}
		}
	}
	ts.token = tok
	any := newTestServer(t, host.Options{}, Options{AllowOrigins: []string{"*"}})
	expectStatus(t, any.do("GET", "/v1/stats", nil, "Origin", "https://whoever.example"), 200)
}

func TestRoutesAndMethods(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	for _, p := range []string{"/", "/v1", "/v1/", "/v1/actors", "/v1/actors/a/b/c", "/v2/stats", "/v1/statsx", "/v1/cluster", "/favicon.ico"} {
		expectError(t, ts.do("GET", p, nil), 404, "NOT_FOUND")
	}
	cases := []struct{ method, path, allow string }{
		{"PATCH", "/v1/actors/a/1", "GET, POST, PUT, DELETE, OPTIONS"},
		{"POST", "/v1/actors/a", "GET, OPTIONS"},
		{"GET", "/v1/batch", "POST, OPTIONS"},
		{"POST", "/v1/stats", "GET, OPTIONS"},
		{"DELETE", "/v1/changes", "GET, OPTIONS"},
		{"PUT", "/v1/restore", "POST, OPTIONS"},
		{"GET", "/v1/cluster/members", "POST, OPTIONS"},
		{"HEAD", "/v1/status", "GET, OPTIONS"},
	}
	for _, c := range cases {
		r := ts.do(c.method, c.path, nil)
		if c.method == "HEAD" {
			expectStatus(t, r, 405)
		} else {
			expectError(t, r, 405, "METHOD_NOT_ALLOWED")
		}
		if r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, r.header.Get("Allow"), c.allow)
		}
	}
	// Cluster routes on a store that is not a cluster member.
	expectError(t, ts.do("POST", "/v1/cluster/members", []byte(`{"id":"n2","raft":"x:1","http":"http://x:2","voter":true}`)), 501, "NOT_IMPLEMENTED")
	expectError(t, ts.do("DELETE", "/v1/cluster/members/n2", nil), 501, "NOT_IMPLEMENTED")
	expectError(t, ts.do("POST", "/v1/cluster/leader", nil), 501, "NOT_IMPLEMENTED")
	// Query parameters on routes that take none.
	expectError(t, ts.do("GET", "/v1/status?x=1", nil), 400, "INVALID_ARGUMENT")
	expectError(t, ts.do("POST", "/v1/actors/a/1?x=1", []byte(`1`)), 400, "INVALID_ARGUMENT")
	expectError(t, ts.do("GET", "/v1/watch", nil), 400, "INVALID_ARGUMENT")
}

func TestBadBodies(t *testing.T) {
	ts := newTestServer(t, host.Options{MaxValueBytes: 1000}, Options{})
	if ts.srv.opts.MaxBodyBytes != 2*1000+bodySlack {
		t.Errorf("MaxBodyBytes %d from MaxValueBytes 1000", ts.srv.opts.MaxBodyBytes)
	}
	for _, b := range []string{``, `{`, `{"a":1,"a":2}`, `[1,]`, `"\ud800"`, "\"\xff\"", `1 2`, `{"$bytes":"x"}`, `NaN`, `1e999`, strings.Repeat("[", 5000)} {
		expectError(t, ts.do("POST", "/v1/actors/a/1", []byte(b)), 400, "INVALID_VALUE")
	}
	// A value over MaxValueBytes: the store's 413.
	big := `"` + strings.Repeat("x", 1500) + `"`
	expectError(t, ts.do("POST", "/v1/actors/a/1", []byte(big)), 413, "VALUE_TOO_LARGE")
	// A body over MaxBodyBytes: refused from its length, and when chunked
	// while reading, without reading it all.
	huge := bytes.Repeat([]byte("x"), 1<<20)
	expectError(t, ts.do("POST", "/v1/actors/a/1", huge), 413, "VALUE_TOO_LARGE")
	r := ts.chunked("POST", "/v1/actors/a/1", 64<<20)
	expectError(t, r, 413, "VALUE_TOO_LARGE")
	// Nesting past the store's limit.
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	expectError(t, ts.do("POST", "/v1/actors/a/1", []byte(deep)), 400, "INVALID_VALUE")
	// Idempotency-Key bounds.
	for _, k := range []string{strings.Repeat("k", 256), "a b", "ké"} {
		expectError(t, ts.do("POST", "/v1/actors/a/k", []byte(`1`), "Idempotency-Key", k), 400, "INVALID_ARGUMENT")
	}
	expectStatus(t, ts.do("POST", "/v1/actors/a/k", []byte(`1`), "Idempotency-Key", strings.Repeat("k", 255)), 201)
	expectError(t, ts.do("POST", "/v1/actors/a/k2", []byte(`1`), "If-Match", `"0"`), 400, "INVALID_ARGUMENT")
	expectError(t, ts.do("DELETE", "/v1/actors/a/k", nil, "If-Match", `"0"`), 400, "INVALID_ARGUMENT")
	// Nothing was written by any of it but a/k.
	if st := stats(t, ts); st.Actors != 1 {
		t.Errorf("%d actors after bad requests", st.Actors)
	}
}

// chunked sends a body of n bytes without a Content-Length and reports
// how much of it the server read before answering.
func (ts *testServer) chunked(method, path string, n int) *response {
	ts.t.Helper()
	pr := &countingReader{left: n}
	req, err := http.NewRequest(method, ts.http.URL+path, pr)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.ContentLength = -1
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if pr.read() >= n {
		ts.t.Errorf("the server read all %d bytes of a body over its limit", n)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

type countingReader struct {
	mu   sync.Mutex
	left int
	n    int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		return 0, errors.New("eof")
	}
	k := min(len(p), c.left)
	for i := range p[:k] {
		p[i] = 'x'
	}
	c.left -= k
	c.n += k
	return k, nil
}

func (c *countingReader) read() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func TestCheckIdempotencyKey(t *testing.T) {
	for _, k := range []string{"", strings.Repeat("k", 256), "a b", "ké", "\x7f", "a\tb", "\x00"} {
		if checkIdempotencyKey(k) == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	for _, k := range []string{"k", strings.Repeat("k", 255), "0b8a-4F_~!@#$%^&*()+={}[]|:;'<>,.?/`"} {
		if err := checkIdempotencyKey(k); err != nil {
			t.Errorf("key %q: %v", k, err)
		}
	}
}

func TestIdempotencyKeyOnContext(t *testing.T) {
	rec := &recordingStore{API: openStore(t)}
	s := New(rec, Options{Registerer: newRegistry()})
	hs := newLoopback(t, s)
	req, _ := http.NewRequest("POST", hs+"/v1/actors/a/1", strings.NewReader(`1`))
	req.Header.Set("Idempotency-Key", "key-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || rec.key != "key-123" {
		t.Errorf("status %d, key on the store's context %q", resp.StatusCode, rec.key)
	}
}

// recordingStore records the idempotency key of the last insert.
type recordingStore struct {
	host.API
	key string
}

func (r *recordingStore) Insert(ctx context.Context, typ, id string, v any) (host.Actor, error) {
	r.key, _ = host.IdempotencyKey(ctx)
	return r.API.Insert(ctx, typ, id, v)
}

func openStore(t testing.TB) *host.Store {
	t.Helper()
	st, err := host.Open(context.Background(), host.Options{Engine: host.EngineNative})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

// newLoopback serves h on 127.0.0.1:0 and returns its URL.
func newLoopback(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestStatsStatusHealth(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{NodeID: "n1"})
	expectStatus(t, ts.do("POST", "/v1/actors/a/1", []byte(`1`), "Idempotency-Key", "k1"), 201)
	r := ts.do("GET", "/v1/stats", nil)
	st := stats(t, ts)
	if st.IdempotencyKeys != 1 || st.IdempotencyBytes == 0 {
		t.Errorf("the keyed insert is not remembered: %+v", st)
	}
	want := `{"totalEvents":1,"currentSequence":1,"replayBufferSize":1,"activeSubscriptions":0,"eventsDropped":0,"oldestSequence":1,"replayBufferBytes":` +
		fmt.Sprint(st.ReplayBufferBytes) + `,"actors":1,"dataBytes":` + fmt.Sprint(st.DataBytes) +
		`,"idempotencyKeys":1,"idempotencyBytes":` + fmt.Sprint(st.IdempotencyBytes) + "}\n"
	if string(r.body) != want {
		t.Errorf("stats %s, want %s", r.body, want)
	}
	r = ts.do("GET", "/v1/status", nil)
	host := strings.TrimPrefix(ts.http.URL, "http://")
	want = `{"nodeId":"n1","role":"leader","leader":{"id":"n1","http":"http://` + host + `"},"term":0,"commitIndex":0,"appliedIndex":0,"sequence":1,` +
		`"members":[{"id":"n1","raft":"","http":"http://` + host + `","voter":true}]}` + "\n"
	if string(r.body) != want {
		t.Errorf("status %s, want %s", r.body, want)
	}
	expectStatus(t, ts.do("GET", "/readyz", nil), 200)
	r = ts.do("GET", "/healthz", nil)
	if r.status != 200 || string(r.body) != "ok\n" {
		t.Errorf("healthz %d %q", r.status, r.body)
	}
	ts.store.Close(context.Background())
	expectError(t, ts.do("GET", "/readyz", nil), 503, "UNAVAILABLE")
	expectError(t, ts.do("GET", "/v1/actors/a/1", nil), 503, "UNAVAILABLE")
	expectStatus(t, ts.do("GET", "/healthz", nil), 200)
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	expectStatus(t, ts.do("POST", "/v1/actors/a/1", []byte(`1`)), 201)
	expectStatus(t, ts.do("POST", "/v1/actors/a/2", []byte(`1`)), 201)
	expectStatus(t, ts.do("GET", "/v1/actors/a/3", nil), 404)
	r := ts.do("GET", "/metrics", nil)
	expectStatus(t, r, 200)
	for _, line := range []string{
		`actorstore_http_requests_total{code="201",method="POST",route="actor"} 2`,
		`actorstore_http_requests_total{code="404",method="GET",route="actor"} 1`,
		`actorstore_http_request_duration_seconds_count{method="POST",route="actor"} 2`,
		"actorstore_sequence 2", "actorstore_actors 2", "actorstore_events_dropped_total 0",
		"actorstore_subscriptions 0", "actorstore_store_up 1",
	} {
		if !bytes.Contains(r.body, []byte(line+"\n")) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if !bytes.Contains(r.body, []byte("actorstore_data_bytes ")) {
		t.Error("metrics lack actorstore_data_bytes")
	}
}

func TestSnapshotRestore(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	for i := range 50 {
		expectStatus(t, ts.do("POST", fmt.Sprintf("/v1/actors/a/%d", i), []byte(fmt.Sprintf(`{"n":%d}`, i))), 201)
	}
	r := ts.do("GET", "/v1/snapshot", nil)
	expectStatus(t, r, 200)
	if r.header.Get("Content-Type") != "application/octet-stream" || len(r.body) < 100 {
		t.Fatalf("snapshot %v, %d bytes", r.header, len(r.body))
	}
	if r.header.Get(SequenceHeader) != "50" {
		t.Errorf("%s: %q, want 50", SequenceHeader, r.header.Get(SequenceHeader))
	}
	other := newTestServer(t, host.Options{}, Options{AllowOrigins: []string{"https://app.example"}})
	if r0 := other.do("GET", "/v1/snapshot", nil, "Origin", "https://app.example"); r0.header.Get(SequenceHeader) != "0" ||
		!strings.Contains(r0.header.Get("Access-Control-Expose-Headers"), SequenceHeader) {
		t.Errorf("empty store's snapshot: %v", r0.header)
	}
	expectStatus(t, other.do("POST", "/v1/actors/z/z", []byte(`1`)), 201)
	r2 := other.do("POST", "/v1/restore", r.body)
	expectStatus(t, r2, 200)
	if m := r2.json(t); m["actors"] != json.Number("50") || m["currentSequence"] != json.Number("50") {
		t.Errorf("restored stats %s", r2.body)
	}
	if g := other.do("GET", "/v1/actors/a/7", nil).json(t); g["value"].(map[string]any)["n"] != json.Number("7") {
		t.Errorf("restored actor %v", g)
	}
	// Garbage and truncation leave the store as it was.
	expectError(t, other.do("POST", "/v1/restore", []byte("garbage")), 400, "INVALID_ARGUMENT")
	expectError(t, other.do("POST", "/v1/restore", r.body[:len(r.body)/2]), 400, "INVALID_ARGUMENT")
	if st := stats(t, other); st.Actors != 50 {
		t.Errorf("%d actors after bad restores", st.Actors)
	}
}

// TestCanceledRequest: a request whose client leaves mid-way leaves the
// server serving.
func TestCanceledRequest(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.http.URL+"/v1/changes?wait=10s", nil)
	if _, err := ts.http.Client().Do(req); err == nil {
		t.Fatal("a request cut by its context succeeded")
	}
	expectStatus(t, ts.do("GET", "/v1/stats", nil), 200)
	deadline := time.Now().Add(10 * time.Second)
	for stats(t, ts).ActiveSubscriptions != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the long poll's subscription outlived its request")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestEnvelopeCBORAccept: Accept negotiation.
func TestAccept(t *testing.T) {
	for _, c := range []struct {
		accept string
		cbor   bool
	}{
		{"", false}, {"*/*", false}, {"application/json", false}, {"application/cbor", true},
		{"application/json, application/cbor", false}, {"application/cbor, application/json", true},
		{"application/json;q=0.5, application/cbor", true}, {"application/cbor;q=0", false},
		{"text/html, application/cbor;q=0.9", true},
	} {
		if got := wantsCBOR(c.accept); got != c.cbor {
			t.Errorf("wantsCBOR(%q) = %v", c.accept, got)
		}
	}
}

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

// TestIdempotentRetries sends each write twice under one key, as a client
// whose first answer was lost does: the store applies it once and the
// retry gets the first answer, refusals included.
func TestIdempotentRetries(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	twice := func(method, path, body, key string, headers ...string) *response {
		t.Helper()
		h := append([]string{"Idempotency-Key", key}, headers...)
		first := ts.do(method, path, []byte(body), h...)
		again := ts.do(method, path, []byte(body), h...)
		if first.status != again.status || string(first.body) != string(again.body) {
			t.Errorf("%s %s under %q: retry answered %d %s, first %d %s", method, path, key, again.status, again.body, first.status, first.body)
		}
		return first
	}
	expectStatus(t, twice("POST", "/v1/actors/a/1", `{"n":1}`, "k-insert"), 201)
	expectStatus(t, twice("PUT", "/v1/actors/a/1", `{"n":2}`, "k-update"), 200)
	expectStatus(t, twice("PUT", "/v1/actors/a/1", `{"n":3}`, "k-cas-stale", "If-Match", `"0"`), 412)
	expectStatus(t, twice("POST", "/v1/batch", `{"ops":[{"op":"update","type":"a","id":"1","value":4}]}`, "k-batch"), 200)
	expectStatus(t, twice("DELETE", "/v1/actors/a/1", ``, "k-delete"), 200)
	if st := stats(t, ts); st.TotalEvents != 4 || st.IdempotencyKeys != 5 {
		t.Errorf("after five writes each sent twice: %d events, %d keys; want 4 events (the CAS was refused), 5 keys", st.TotalEvents, st.IdempotencyKeys)
	}
	// A key reused for another write is refused rather than answered.
	expectStatus(t, ts.do("PUT", "/v1/actors/a/2", []byte(`1`), "Idempotency-Key", "k-insert"), 400)
}
