package tests

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorstore/actorstore/client"
	"github.com/actorstore/actorstore/cluster"
	"github.com/actorstore/actorstore/cluster/clustertest"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// target is what a test runs against: a store on one engine, used
// directly or through the HTTP API — the server (package server) on
// loopback, spoken to by the Go client (package client) — or a 3-node
// Raft cluster (package cluster) in this process. All satisfy host.API,
// so the conformance runner, the model test and the hammer run unchanged
// on each.
type target struct {
	engine  host.Engine
	remote  bool
	cluster bool
}

// targets are the embedded engines, the same through the client, and a
// cluster.
var (
	localTargets   = []target{{engine: host.EngineNative}, {engine: host.EngineWASM}}
	remoteTargets  = []target{{engine: host.EngineNative, remote: true}, {engine: host.EngineWASM, remote: true}}
	clusterTargets = []target{{engine: host.EngineNative, cluster: true}}
	targets        = slices.Concat(localTargets, remoteTargets, clusterTargets)
)

// String names the target: "native", "wasm", "client-native",
// "client-wasm", "cluster-native".
func (tg target) String() string {
	switch {
	case tg.remote:
		return "client-" + tg.engine.String()
	case tg.cluster:
		return "cluster-" + tg.engine.String()
	}
	return tg.engine.String()
}

// openTarget opens a store on the target's engine with o (the store's
// Clock included: a remote target's server and a cluster's nodes run in
// this process) and returns it, a client of it served on 127.0.0.1, or a
// cluster's nodes taking turns (spread). Everything closes when the test
// ends.
func openTarget(t testing.TB, tg target, o host.Options) host.API {
	t.Helper()
	if tg.cluster {
		o.Engine, o.CacheDir = tg.engine, cacheDir()
		// Every node gets the test's clock; the leader's stamps each
		// command, and every node applies it with that timestamp, so a
		// vector's clock reaches the events as on one store.
		// Raft's timeouts are production's (500 ms), not clustertest's
		// tight ones: these tests are about results, not failover, and on
		// a loaded machine under -race a pause of a few hundred
		// milliseconds (a collection of a heap of 100 KiB values, fsyncs)
		// would cost a leadership and fail a write with an ambiguous
		// outcome.
		c := clustertest.Start(t, clustertest.Options{Store: o, Timeout: 500 * time.Millisecond})
		return &spread{nodes: c.Nodes}
	}
	s := openStore(t, tg.engine, o)
	if !tg.remote {
		return s
	}
	return serveStore(t, s)
}

// spread is a cluster seen as one store: each call goes to the next node
// in turn, so that writes go through the leader and, forwarded, through
// each follower, and reads follow writes made through another node
// (linearizable reads, the default, see them). A subscription stays on
// the node it was made on.
type spread struct {
	nodes []*cluster.Node
	next  atomic.Uint64
}

var _ server.Lister = (*spread)(nil)

func (s *spread) node() *cluster.Node { return s.nodes[s.next.Add(1)%uint64(len(s.nodes))] }

func (s *spread) Insert(ctx context.Context, typ, id string, v any) (host.Actor, error) {
	return s.node().Insert(ctx, typ, id, v)
}

func (s *spread) Get(ctx context.Context, typ, id string) (host.Actor, bool, error) {
	return s.node().Get(ctx, typ, id)
}

func (s *spread) Update(ctx context.Context, typ, id string, v any) (host.Actor, error) {
	return s.node().Update(ctx, typ, id, v)
}

func (s *spread) UpdateVersioned(ctx context.Context, typ, id string, v any, expected uint64) (host.Actor, error) {
	return s.node().UpdateVersioned(ctx, typ, id, v, expected)
}

func (s *spread) Delete(ctx context.Context, typ, id string) (host.Actor, bool, error) {
	return s.node().Delete(ctx, typ, id)
}

func (s *spread) GetAll(ctx context.Context, typ string) ([]host.Actor, error) {
	return s.node().GetAll(ctx, typ)
}

func (s *spread) List(ctx context.Context, typ, after string, limit int) ([]host.Actor, string, error) {
	return s.node().List(ctx, typ, after, limit)
}

func (s *spread) Batch(ctx context.Context, ops ...host.BatchOp) ([]host.BatchResult, error) {
	return s.node().Batch(ctx, ops...)
}

func (s *spread) Changes(ctx context.Context, since uint64, f host.Filter, limit int) (host.ChangePage, error) {
	return s.node().Changes(ctx, since, f, limit)
}

func (s *spread) Subscribe(ctx context.Context, o host.SubscriptionOptions) (host.Subscription, error) {
	return s.node().Subscribe(ctx, o)
}

func (s *spread) Stats(ctx context.Context) (host.Stats, error) { return s.node().Stats(ctx) }

func (s *spread) Snapshot(ctx context.Context, w io.Writer) error { return s.node().Snapshot(ctx, w) }

func (s *spread) Restore(ctx context.Context, r io.Reader) error { return s.node().Restore(ctx, r) }

// Close closes every node.
func (s *spread) Close(ctx context.Context) error {
	var errs []error
	for _, n := range s.nodes {
		errs = append(errs, n.Kill())
	}
	return errors.Join(errs...)
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
