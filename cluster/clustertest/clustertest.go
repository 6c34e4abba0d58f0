// Package clustertest runs clusters of cluster.Node in the calling
// process, on loopback, for tests: as net/http/httptest does for servers.
// Each node is served over HTTP (server.New) on a port of 127.0.0.1, the
// first bootstraps and the others join through it; Raft's timeouts are
// short (150 ms by default), so that a cluster starts, and fails over, in
// a fraction of a second — yet long enough that a busy machine's pauses
// (a large write's fsyncs, the race detector) do not depose leaders.
package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/actorstore/actorstore/cluster"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// Cluster is a running test cluster.
type Cluster struct {
	// Nodes are the members, in the order they started; Nodes[0]
	// bootstrapped the cluster.
	Nodes []*cluster.Node
	// URLs are the nodes' HTTP URLs, in the same order.
	URLs []string

	t       testing.TB
	servers []*httptest.Server
	once    sync.Once
}

// Options configure Start.
type Options struct {
	// Size is the number of voters (3 when 0).
	Size int
	// Store configures every node's store: its engine and limits, and
	// Store.Clock, the clock a leader stamps commands with.
	Store host.Options
	// Timeout is Raft's heartbeat, election and leader lease timeout
	// (150 ms when 0).
	Timeout time.Duration
	// Tweak, when set, adjusts node i's options before it opens.
	Tweak func(i int, o *cluster.Options)
}

// Start starts a cluster and returns once every node is a member and a
// leader has committed its first entry. Everything stops when the test
// ends.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Size == 0 {
		o.Size = 3
	}
	if o.Timeout == 0 {
		o.Timeout = 150 * time.Millisecond
	}
	c := &Cluster{t: t}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range o.Size {
		srv := httptest.NewUnstartedServer(nil)
		co := cluster.Options{Dir: t.TempDir(), NodeID: fmt.Sprintf("n%d", i+1), RaftAddr: "127.0.0.1:0",
			HTTP: "http://" + srv.Listener.Addr().String(), Store: o.Store,
			HeartbeatTimeout: o.Timeout, ElectionTimeout: o.Timeout, LeaderLeaseTimeout: o.Timeout,
			CommitTimeout:  5 * time.Millisecond,
			RequestTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)}
		if i > 0 {
			co.Join = c.URLs[:1]
		}
		if o.Tweak != nil {
			o.Tweak(i, &co)
		}
		n, err := cluster.Open(ctx, co)
		if err != nil {
			srv.Close()
			t.Fatalf("clustertest: open node %d: %v", i+1, err)
		}
		srv.Config.Handler = server.New(n, server.Options{Token: co.Token, Logger: slog.New(slog.DiscardHandler)})
		srv.Start()
		c.Nodes = append(c.Nodes, n)
		c.URLs = append(c.URLs, srv.URL)
		c.servers = append(c.servers, srv)
		if i == 0 {
			// A linearizable read waits for the first leader.
			if _, err := n.Stats(ctx); err != nil {
				t.Fatalf("clustertest: the first node did not lead: %v", err)
			}
		}
	}
	return c
}

// Leader returns the node that leads now, waiting up to 10 s for one.
func (c *Cluster) Leader() *cluster.Node {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.Nodes {
			if n.Raft().State() == raft.Leader {
				return n
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatal("clustertest: no leader within 10 s")
	return nil
}

// Followers returns the nodes other than the leader.
func (c *Cluster) Followers() []*cluster.Node {
	l := c.Leader()
	var out []*cluster.Node
	for _, n := range c.Nodes {
		if n != l {
			out = append(out, n)
		}
	}
	return out
}

// Close stops every node, at once (cluster.Node.Kill), and its server.
func (c *Cluster) Close() {
	c.once.Do(func() {
		for i, n := range c.Nodes {
			n.Kill()
			c.servers[i].Close()
		}
	})
}
