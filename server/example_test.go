package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// Serve a store over HTTP, write an actor as JSON, read it back and
// compare-and-swap it.
func ExampleNew() {
	ctx := context.Background()
	store, err := host.Open(ctx, host.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close(ctx)
	h := server.New(store, server.Options{Token: "s3cret"})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Shutdown(ctx)

	call := func(method, path, body string, headers ...string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer s3cret")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s %s", resp.StatusCode, resp.Header.Get("ETag"), b)
	}
	call("POST", "/v1/actors/user/u1", `{"name":"Ann","avatar":{"$bytes":"89504e47"}}`)
	call("PUT", "/v1/actors/user/u1", `{"name":"Ann B."}`, "If-Match", `"0"`)
	call("PUT", "/v1/actors/user/u1", `{"name":"Ann C."}`, "If-Match", `"0"`)
	// Output:
	// 201 "0" {"type":"user","id":"u1","version":0,"value":{"name":"Ann","avatar":{"$bytes":"89504e47"}}}
	// 200 "1" {"type":"user","id":"u1","version":1,"value":{"name":"Ann B."}}
	// 412  {"code":"VERSION_MISMATCH","message":"actorstore: version mismatch on user/u1: expected 0, actual 1","expected":0,"actual":1}
}
