package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actorstore/actorstore/host"
)

// noGetAll is a store whose GetAll fails the test: the list route must
// read pages through List.
type noGetAll struct {
	*host.Store
	t testing.TB
}

func (s noGetAll) GetAll(ctx context.Context, typ string) ([]host.Actor, error) {
	s.t.Errorf("GetAll(%q) called", typ)
	return s.Store.GetAll(ctx, typ)
}

// apiOnly hides every method of a store but host.API's: no List.
type apiOnly struct{ host.API }

// TestListPages: the list route reads a page through the store's List
// when it has one, and from GetAll when it has not, with the same
// answers either way, in JSON and in CBOR.
func TestListPages(t *testing.T) {
	ctx := context.Background()
	st, err := host.Open(ctx, host.Options{Engine: host.EngineNative})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	ops := make([]host.BatchOp, 2500)
	for i := range ops {
		ops[i] = host.InsertOp("t", fmt.Sprintf("%05d", i), strings.Repeat("v", i%40))
	}
	if _, err := st.Batch(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Insert(ctx, "u", "1", 1); err != nil {
		t.Fatal(err)
	}
	serve := func(store host.API) *Server {
		return New(store, Options{Registerer: prometheus.NewRegistry(), Logger: testLogger(t)})
	}
	lister, fallback := serve(noGetAll{st, t}), serve(apiOnly{st})
	for _, q := range []string{"", "limit=1000", "limit=1000&after=00999", "limit=1000&after=01999", "after=02499", "after=1",
		"limit=1", "limit=7&after=0123x", "limit=10000", "after=", "limit=2500", "limit=2499"} {
		for _, cb := range []bool{false, true} {
			path := "/v1/actors/t"
			a := callAccept(t, lister, path, q, cb)
			b := callAccept(t, fallback, path, q, cb)
			if a.Code != 200 || a.Code != b.Code || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Errorf("?%s (CBOR %v): through List %d %.200s\nfrom GetAll %d %.200s", q, cb, a.Code, a.Body.Bytes(), b.Code, b.Body.Bytes())
			}
		}
	}
	// Paging through with limit 1,000: three pages, every actor once.
	var n int
	after := ""
	for pages := 1; ; pages++ {
		w := callAccept(t, lister, "/v1/actors/t", "limit=1000&after="+after, false)
		var page struct {
			Actors []struct{ ID string }
			Next   *string
		}
		decodeJSON(t, w.Body.Bytes(), &page)
		for i, a := range page.Actors {
			if want := fmt.Sprintf("%05d", n+i); a.ID != want {
				t.Fatalf("page %d [%d] is %s, want %s", pages, i, a.ID, want)
			}
		}
		n += len(page.Actors)
		if page.Next == nil {
			if pages != 3 || n != 2500 {
				t.Errorf("%d actors in %d pages", n, pages)
			}
			break
		}
		if pages == 3 || *page.Next != page.Actors[len(page.Actors)-1].ID {
			t.Fatalf("page %d: next %q", pages, *page.Next)
		}
		after = *page.Next
	}
	// The store's errors, either way.
	for _, s := range []*Server{lister, fallback} {
		if w := call(t, s, "GET", "/v1/actors/%FF", "", nil, false); w.Code != 400 || !strings.Contains(w.Body.String(), "INVALID_KEY") {
			t.Errorf("invalid type: %d %s", w.Code, w.Body.Bytes())
		}
	}
}

// callAccept serves a GET of path?rawQuery, asking for CBOR when cb.
func callAccept(t *testing.T, s *Server, path, rawQuery string, cb bool) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path+"?"+rawQuery, nil)
	if cb {
		req.Header.Set("Accept", "application/cbor")
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%.200s: %v", b, err)
	}
}
