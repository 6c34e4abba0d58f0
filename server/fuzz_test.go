package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

// fuzzServer is a server on a small store, called without a network.
func fuzzServer(f *testing.F) *Server {
	st, err := host.Open(context.Background(), host.Options{Engine: host.EngineNative, ReplayBufferSize: 16, MaxValueBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close(context.Background()) })
	return New(st, Options{Registerer: prometheus.NewRegistry(), Logger: testLogger(f)})
}

// call serves one request and checks the answer: never a server error,
// and an error body with a code and a message for every 4xx.
func call(t *testing.T, s *Server, method, path, rawQuery string, body []byte, cborBody bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = "", "", rawQuery
	if u, err := url.Parse("http://x" + path); err == nil && u.RawQuery == "" && u.Fragment == "" {
		req.URL.Path, req.URL.RawPath = u.Path, u.RawPath
	} else {
		req.URL.Path = path
	}
	if cborBody {
		req.Header.Set("Content-Type", "application/cbor")
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code >= 500 {
		t.Fatalf("%s %q ?%q body %q: status %d %s", method, path, rawQuery, body, w.Code, w.Body.Bytes())
	}
	if w.Code >= 400 {
		var e struct{ Code, Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%s %q: status %d with body %q", method, path, w.Code, w.Body.Bytes())
		}
	} else if w.Header().Get("Content-Type") == mediaJSON && !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%s %q: invalid JSON answer %q", method, path, w.Body.Bytes())
	}
	return w
}

// FuzzActorBody: any body written to an actor, as JSON or CBOR, is
// stored or refused with a 4xx; what is stored reads back as JSON.
func FuzzActorBody(f *testing.F) {
	for _, s := range []string{`1`, `{"a":[1,2.5,"x",null,true]}`, `{"$bytes":"00"}`, `{"$tag":[1,2]}`, `{"$map":[[1,2]]}`, `"\ud800"`, `{"a":1,"a":2}`, `[`} {
		f.Add([]byte(s), false)
	}
	for _, h := range [][]byte{{0xa1, 0x61, 0x61, 0x01}, {0xc0, 0x01}, {0x5f, 0x41, 0x00, 0xff}, {0xf7}, {0xff}, {0x9f}} {
		f.Add(h, true)
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, cborBody bool) {
		w := call(t, s, "PUT", "/v1/actors/t/x", "", body, cborBody)
		if w.Code == 404 {
			w = call(t, s, "POST", "/v1/actors/t/x", "", body, cborBody)
		}
		if w.Code >= 300 {
			return
		}
		r := call(t, s, "GET", "/v1/actors/t/x", "", nil, false)
		if r.Code != 200 {
			t.Fatalf("stored, then GET %d %s", r.Code, r.Body.Bytes())
		}
		// What is stored is the body (CBOR) or its deterministic CBOR form.
		a, _, _ := s.store.Get(context.Background(), "t", "x")
		want := body
		if !cborBody {
			want, _ = cborjson.FromJSON(body)
		}
		if !bytes.Equal(a.Value, want) {
			t.Fatalf("stored %x from %q", a.Value, body)
		}
	})
}

// FuzzBatchBody: any batch body is applied or refused with a 4xx, and a
// refused batch changes nothing.
func FuzzBatchBody(f *testing.F) {
	for _, s := range []string{
		`{"ops":[{"op":"insert","type":"a","id":"1","value":1}]}`,
		`[{"op":"delete","type":"a","id":"1"},{"op":"updateVersioned","type":"a","id":"2","value":{"$bytes":"00"},"expectedVersion":3}]`,
		`{"ops":[{"op":"update","type":"a","id":"1","value":null}]}`, `{"ops":[]}`, `{"ops":null}`, `[]`, `{}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte{0xa1, 0x63, 'o', 'p', 's', 0x81, 0xa4, 0x62, 'o', 'p', 0x66, 'i', 'n', 's', 'e', 'r', 't', 0x64, 't', 'y', 'p', 'e', 0x61, 'a', 0x62, 'i', 'd', 0x61, '1', 0x65, 'v', 'a', 'l', 'u', 'e', 0x01}, true)
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, cborBody bool) {
		before, _ := s.store.Stats(context.Background())
		w := call(t, s, "POST", "/v1/batch", "", body, cborBody)
		after, _ := s.store.Stats(context.Background())
		if w.Code != 200 && after.CurrentSequence != before.CurrentSequence {
			t.Fatalf("refused batch %q (%d) changed the sequence %d → %d", body, w.Code, before.CurrentSequence, after.CurrentSequence)
		}
	})
}

// FuzzQuery: any query string on the routes that read parameters, and
// any path, is answered or refused with a 4xx.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"since=0&limit=5", "type=a&prefix=b", "wait=1ms", "after=x&limit=3", "consistency=local", "limit=99999999999999999999", "since=%zz", "a=1&a=2", "wait=1h"} {
		f.Add("/v1/changes", q)
		f.Add("/v1/actors/a", q)
	}
	f.Add("/v1/actors/%2F/%FF", "")
	f.Add("/v1/actors/a/b%zz", "")
	f.Add("/v1//", "")
	s := fuzzServer(f)
	s.opts.MaxWait = 1 // a long poll must not slow the fuzzer down
	for i := range 20 {
		s.store.Insert(context.Background(), "a", string(rune('a'+i)), i)
	}
	f.Fuzz(func(t *testing.T, path, q string) {
		call(t, s, "GET", path, q, nil, false)
	})
}

// FuzzSnapshotSequence: reading the sequence from any start of a stream
// never panics, needs no more than the meta frame's head, and gives the
// sequence of real snapshots from their first bytes however they are cut.
func FuzzSnapshotSequence(f *testing.F) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 127, 128, 300} {
		st, err := host.Open(ctx, host.Options{Engine: host.EngineNative})
		if err != nil {
			f.Fatal(err)
		}
		for i := range n {
			if _, err := st.Insert(ctx, "a", strconv.Itoa(i), i); err != nil {
				f.Fatal(err)
			}
		}
		var b bytes.Buffer
		if err := st.Snapshot(ctx, &b); err != nil {
			f.Fatal(err)
		}
		st.Close(ctx)
		f.Add(b.Bytes()[:min(b.Len(), 64)], uint(7))
	}
	f.Add([]byte("ACTORSNP\x01\x00\x00\x00"), uint(3))
	f.Add([]byte("garbage"), uint(1))
	f.Fuzz(func(t *testing.T, b []byte, cut uint) {
		seq, ok, complete := snapshotSequence(b)
		if ok && !complete {
			t.Fatal("ok but not complete")
		}
		if !complete && len(b) >= snapshotSeqOffset+10 {
			t.Fatalf("incomplete after %d bytes", len(b))
		}
		// Fed in two pieces through the writer, the same verdict.
		if len(b) == 0 {
			return
		}
		at := int(cut % uint(len(b)))
		w := httptest.NewRecorder()
		sw := &sequenceWriter{w: w}
		sw.Write(b[:at])
		sw.Write(b[at:])
		if err := sw.flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Body.Bytes(), b) {
			t.Fatalf("passed on %x, want %x", w.Body.Bytes(), b)
		}
		if h := w.Header().Get(SequenceHeader); ok && complete && h != strconv.FormatUint(seq, 10) {
			t.Fatalf("header %q, sequence %d", h, seq)
		}
	})
}
