package tests

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/actorstore/actorstore/client"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// target is what a test runs against: a store on one engine, used
// directly or through the HTTP API — the server (package server) on
// loopback, spoken to by the Go client (package client). Both satisfy
// host.API, so the conformance runner, the model test and the hammer run
// unchanged on each.
type target struct {
	engine host.Engine
	remote bool
}

// targets are the embedded engines, then the same through the client.
var (
	localTargets  = []target{{host.EngineNative, false}, {host.EngineWASM, false}}
	remoteTargets = []target{{host.EngineNative, true}, {host.EngineWASM, true}}
	targets       = append(append([]target(nil), localTargets...), remoteTargets...)
)

// String names the target: "native", "wasm", "client-native", "client-wasm".
func (tg target) String() string {
	if tg.remote {
		return "client-" + tg.engine.String()
	}
	return tg.engine.String()
}

// openTarget opens a store on the target's engine with o (the store's
// Clock included: a remote target's server runs in this process) and
// returns it, or a client of it served on 127.0.0.1. Everything closes
// when the test ends.
func openTarget(t testing.TB, tg target, o host.Options) host.API {
	t.Helper()
	s := openStore(t, tg.engine, o)
	if !tg.remote {
		return s
	}
	return serveStore(t, s)
}

// serveStore serves s over HTTP on a port of 127.0.0.1 and returns a
// client of it.
func serveStore(t testing.TB, s host.API) *client.Client {
	t.Helper()
	h := server.New(s, server.Options{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close(context.Background())
		h.Close()
		srv.Close()
	})
	return c
}
