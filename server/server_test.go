package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/actorstore/actorstore/host"
)

// testServer is a store served on a loopback listener.
type testServer struct {
	t     testing.TB
	store *host.Store
	srv   *Server
	http  *httptest.Server
	token string
}

func newTestServer(t testing.TB, so host.Options, o Options) *testServer {
	t.Helper()
	if so.Engine == 0 {
		so.Engine = host.EngineNative
	}
	ctx := context.Background()
	st, err := host.Open(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	s := New(st, o)
	hs := httptest.NewServer(s)
	ts := &testServer{t: t, store: st, srv: s, http: hs, token: o.Token}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
		if err := st.Close(ctx); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return ts
}

// testLogger logs to the test's log with -v, else nowhere.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// do sends a request with the server's token (when it has one) and the
// headers given as name, value pairs.
func (ts *testServer) do(method, path string, body []byte, headers ...string) *response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
		req.ContentLength = 0
	}
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// expectError checks an error answer's status and code.
func expectError(t testing.TB, r *response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.json(t)
	if m["code"] != code {
		t.Fatalf("code %v, want %s; body %s", m["code"], code, r.body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("no message: %s", r.body)
	}
	return m
}

func expectStatus(t testing.TB, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

func TestActorCRUD(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	r := ts.do("POST", "/v1/actors/user/u1", []byte(`{"name":"Ann","age":30}`))
	expectStatus(t, r, 201)
	if got := string(r.body); got != `{"type":"user","id":"u1","version":0,"value":{"age":30,"name":"Ann"}}`+"\n" {
		t.Errorf("insert body %s", got)
	}
	if r.header.Get("ETag") != `"0"` || r.header.Get("Location") != "/v1/actors/user/u1" {
		t.Errorf("insert headers %v", r.header)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	expectError(t, ts.do("POST", "/v1/actors/user/u1", []byte(`1`)), 409, "ALREADY_EXISTS")

	r = ts.do("GET", "/v1/actors/user/u1", nil)
	expectStatus(t, r, 200)
	if r.header.Get("ETag") != `"0"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	expectStatus(t, ts.do("GET", "/v1/actors/user/u1", nil, "If-None-Match", `"0"`), 304)
	expectStatus(t, ts.do("GET", "/v1/actors/user/u1", nil, "If-None-Match", `"7"`), 200)

	r = ts.do("PUT", "/v1/actors/user/u1", []byte(`{"name":"Ann B."}`))
	expectStatus(t, r, 200)
	if r.header.Get("ETag") != `"1"` || r.json(t)["version"] != json.Number("1") {
		t.Errorf("update: %v %s", r.header, r.body)
	}
	// Compare-and-swap.
	r = ts.do("PUT", "/v1/actors/user/u1", []byte(`2`), "If-Match", `"1"`)
	expectStatus(t, r, 200)
	m := expectError(t, ts.do("PUT", "/v1/actors/user/u1", []byte(`3`), "If-Match", `"1"`), 412, "VERSION_MISMATCH")
	if m["expected"] != json.Number("1") || m["actual"] != json.Number("2") {
		t.Errorf("mismatch fields: %v", m)
	}
	expectError(t, ts.do("PUT", "/v1/actors/user/u9", []byte(`3`), "If-Match", `"1"`), 404, "NOT_FOUND")
	expectError(t, ts.do("PUT", "/v1/actors/user/u9", []byte(`3`)), 404, "NOT_FOUND")
	expectError(t, ts.do("PUT", "/v1/actors/user/u1", []byte(`3`), "If-Match", `1`), 400, "INVALID_ARGUMENT")
	expectError(t, ts.do("PUT", "/v1/actors/user/u1", []byte(`3`), "If-Match", `"1", "2"`), 400, "INVALID_ARGUMENT")
	// If-Match: * is a plain update.
	expectStatus(t, ts.do("PUT", "/v1/actors/user/u1", []byte(`4`), "If-Match", `*`), 200)

	r = ts.do("DELETE", "/v1/actors/user/u1", nil)
	expectStatus(t, r, 200)
	if got := string(r.body); got != `{"type":"user","id":"u1","version":3,"value":4}`+"\n" {
		t.Errorf("delete body %s", got)
	}
	expectError(t, ts.do("DELETE", "/v1/actors/user/u1", nil), 404, "NOT_FOUND")
	expectError(t, ts.do("GET", "/v1/actors/user/u1", nil), 404, "NOT_FOUND")
}

// TestPathEncoding: type and id are single percent-encoded segments; an
// id may hold '/', '.', '..', spaces, '%' and any UTF-8.
func TestPathEncoding(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	ids := []string{"a/b", "..", ".", "a b", "100%", "日本", "a?b#c", "/", "a+b", "a//b"}
	for _, id := range ids {
		path := "/v1/actors/t%2Fx/" + escapeSegment(id)
		expectStatus(t, ts.do("POST", path, []byte(`"`+id+`"`)), 201)
		r := ts.do("GET", path, nil)
		expectStatus(t, r, 200)
		m := r.json(t)
		if m["id"] != id || m["type"] != "t/x" || m["value"] != id {
			t.Errorf("id %q: %s", id, r.body)
		}
	}
	r := ts.do("GET", "/v1/actors/t%2Fx", nil)
	expectStatus(t, r, 200)
	if n := len(r.json(t)["actors"].([]any)); n != len(ids) {
		t.Errorf("list has %d actors, want %d", n, len(ids))
	}
	all, _ := ts.store.GetAll(context.Background(), "t/x")
	if len(all) != len(ids) {
		t.Errorf("store has %d actors", len(all))
	}
	// Bad keys are the store's INVALID_KEY.
	expectError(t, ts.do("POST", "/v1/actors/t/%FF", []byte(`1`)), 400, "INVALID_KEY")
	expectError(t, ts.do("GET", "/v1/actors//x", nil), 400, "INVALID_KEY")
	expectError(t, ts.do("GET", "/v1/actors/t/"+strings.Repeat("x", 1025), nil), 400, "INVALID_KEY")
}

// escapeSegment percent-encodes every byte that is not unreserved.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestCBOR(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	// A value JSON cannot say: a byte string, a tag, a non-text key.
	raw := mustCBOR(t, map[any]any{uint64(1): []byte{0, 1}, "t": cbor.Tag{Number: 1, Content: uint64(5)}})
	r := ts.do("POST", "/v1/actors/x/1", raw, "Content-Type", "application/cbor", "Accept", "application/cbor")
	expectStatus(t, r, 201)
	if r.header.Get("Content-Type") != "application/cbor" {
		t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
	}
	var a struct {
		Type    string          `cbor:"type"`
		ID      string          `cbor:"id"`
		Version uint64          `cbor:"version"`
		Value   cbor.RawMessage `cbor:"value"`
	}
	if err := cbor.Unmarshal(r.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.Type != "x" || a.ID != "1" || a.Version != 0 || !bytes.Equal(a.Value, raw) {
		t.Errorf("CBOR actor %+v, value %x want %x", a, a.Value, raw)
	}
	// The same actor as JSON, in the reversible form.
	r = ts.do("GET", "/v1/actors/x/1", nil)
	want := `{"type":"x","id":"1","version":0,"value":{"$map":[[1,{"$bytes":"0001"}],["t",{"$tag":[1,5]}]]}}` + "\n"
	if string(r.body) != want {
		t.Errorf("JSON %s, want %s", r.body, want)
	}
	// Written back as JSON, it is the same bytes.
	jv := `{"$map":[[1,{"$bytes":"0001"}],["t",{"$tag":[1,5]}]]}`
	expectStatus(t, ts.do("PUT", "/v1/actors/x/1", []byte(jv)), 200)
	got, _, err := ts.store.Get(context.Background(), "x", "1")
	if err != nil || !bytes.Equal(got.Value, raw) {
		t.Errorf("stored %x, want %x (%v)", got.Value, raw, err)
	}
	// Errors in CBOR too.
	r = ts.do("GET", "/v1/actors/x/2", nil, "Accept", "application/cbor")
	var e map[string]any
	if err := cbor.Unmarshal(r.body, &e); err != nil || r.status != 404 || e["code"] != "NOT_FOUND" {
		t.Errorf("CBOR error %d %x: %v", r.status, r.body, err)
	}
	// Malformed CBOR is the store's INVALID_VALUE.
	expectError(t, ts.do("POST", "/v1/actors/x/3", []byte{0x82, 0x01}, "Content-Type", "application/cbor"), 400, "INVALID_VALUE")
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStarting: before a store is ready every request gets 503
// UNAVAILABLE with Retry-After, readable by an allowed origin's page; a
// page of another origin gets 403 as from New's handler.
func TestStarting(t *testing.T) {
	h := Starting(Options{AllowOrigins: []string{"https://ok.example"}}, "the node is starting")
	for _, path := range []string{"/healthz", "/v1/actors/a/1", "/v1/watch"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Origin", "https://ok.example")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" ||
			rec.Header().Get("Access-Control-Allow-Origin") != "https://ok.example" ||
			!strings.Contains(rec.Body.String(), `"UNAVAILABLE"`) || !strings.Contains(rec.Body.String(), "the node is starting") {
			t.Errorf("%s: %d %v %s", path, rec.Code, rec.Header(), rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/v1/stats", nil)
	req.Header.Set("Origin", "https://evil.example")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin: %d %v", rec.Code, rec.Header())
	}
}

// TestTimestampText: the encoder's timestamps, formatted from the text of
// the last second it saw, are RFC 3339 exactly as time.Format writes them,
// whatever order the times come in.
func TestTimestampText(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{time.Unix(0, 0), time.Unix(-1, 5), time.Unix(-1, 0),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), time.Date(1677, 9, 21, 0, 12, 43, 145224192, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("x", -3600)), time.Date(12000, 1, 1, 0, 0, 0, 1, time.UTC)}
	base := time.Now().UnixNano()
	for range 2000 {
		switch r.IntN(3) {
		case 0: // the same second as the one before
			times = append(times, times[len(times)-1].Add(time.Duration(r.IntN(1000))))
		case 1:
			times = append(times, time.Unix(0, base+r.Int64N(5e9)))
		default:
			times = append(times, time.Unix(0, r.Int64()-r.Int64()))
		}
	}
	for _, cbor := range []bool{false, true} {
		e := newEnc(cbor)
		for i, tm := range times {
			e.b = e.b[:0]
			e.time(tm)
			if want := tm.UTC().Format(timestampLayout); !bytes.Contains(e.b, []byte(want)) {
				t.Fatalf("cbor %v, time %d (%v): %q, want %q", cbor, i, tm, e.b, want)
			}
		}
	}
}

// TestEventCache: watchers share an event's encoding, per format, and a
// slot never serves another event with the same sequence number (as after
// a restore).
func TestEventCache(t *testing.T) {
	var c eventCache
	v0, v1 := uint64(0), uint64(1)
	ts := time.Unix(1_700_000_000, 5)
	a := host.ChangeEvent{Sequence: 5, Operation: host.OpInsert, ActorType: "t", ActorID: "1", NewValue: []byte{0x01}, NewVersion: &v0, Timestamp: ts}
	others := []host.ChangeEvent{a, a, a, a, a, a, a}
	others[0].NewValue = []byte{0x02}
	others[1].ActorID = "2"
	others[2].Timestamp = ts.Add(1)
	others[3].NewVersion = &v1
	others[4].Operation = host.OpUpdate
	others[5].PreviousVersion, others[5].PreviousValue = &v0, []byte{0x01}
	others[6].Sequence = 5 + eventCacheSlots // the same slot
	for _, cbor := range []bool{false, true} {
		for _, ev := range append([]host.ChangeEvent{a, a}, append(others, a)...) {
			got := newEnc(cbor)
			got.b = append(got.b, "prefix"...)
			c.appendEvent(got, &ev)
			want := newEnc(cbor)
			want.b = append(want.b, "prefix"...)
			want.event(&ev)
			if !bytes.Equal(got.b, want.b) {
				t.Fatalf("cbor %v, %+v: %q, want %q", cbor, ev, got.b, want.b)
			}
		}
	}
}
