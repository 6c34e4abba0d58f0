package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// netFaults is the test network: partitions and delays between nodes.
type netFaults struct {
	mu      sync.Mutex
	blocked map[[2]string]bool
	delay   map[[2]string]time.Duration
}

func newNetFaults() *netFaults {
	return &netFaults{blocked: map[[2]string]bool{}, delay: map[[2]string]time.Duration{}}
}

func (f *netFaults) Blocked(from, to string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked[[2]string{from, to}]
}

func (f *netFaults) Delay(from, to string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delay[[2]string{from, to}]
}

// partition cuts every link between a node of side and one not in it.
func (f *netFaults) partition(all []string, side ...string) {
	in := map[string]bool{}
	for _, s := range side {
		in[s] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range all {
		for _, b := range all {
			if in[a] != in[b] {
				f.blocked[[2]string{a, b}] = true
			}
		}
	}
}

func (f *netFaults) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.blocked)
	clear(f.delay)
}

// seed returns the test's random seed: $CLUSTER_SEED when set, else a
// new one; it is logged so that a failure can be replayed.
func seed(t *testing.T) uint64 {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("CLUSTER_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (replay with CLUSTER_SEED=%d)", s, s)
	return s
}

// testDeadline bounds each cluster test (a benchmark gets ten times as
// long): one that runs longer is hung, and the process ends with every
// goroutine's stack rather than waiting for go test's -timeout.
// $CLUSTER_TEST_DEADLINE (a Go duration) changes it.
func testDeadline() time.Duration {
	if v := os.Getenv("CLUSTER_TEST_DEADLINE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 90 * time.Second
}

var watched sync.Map // tests that have a watchdog

// watchdog ends the process, printing every goroutine's stack, if t is
// still running after testDeadline.
func watchdog(t testing.TB) {
	if _, dup := watched.LoadOrStore(t, true); dup {
		return
	}
	d := testDeadline()
	if _, ok := t.(*testing.B); ok {
		d *= 10
	}
	timer := time.AfterFunc(d, func() {
		fmt.Fprintf(os.Stderr, "\n%s is still running after %v: hung. Every goroutine:\n\n", t.Name(), d)
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		panic(fmt.Sprintf("%s hung: still running after %v (stacks above)", t.Name(), d))
	})
	t.Cleanup(func() {
		timer.Stop()
		watched.Delete(t)
	})
}

type testNode struct {
	id       string
	dir      string
	raftAddr string
	url      string
	node     atomic.Pointer[Node]
	srv      *http.Server
	ln       net.Listener
}

// n returns the node, nil while it is stopped.
func (tn *testNode) n() *Node { return tn.node.Load() }

type testCluster struct {
	t      testing.TB
	nodes  []*testNode
	faults *netFaults
	engine host.Engine
	token  string
	tweak  func(*Options)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newCluster starts size nodes on loopback: the first bootstraps, the
// others join through it.
func newCluster(t *testing.T, size int, tweak func(*Options)) *testCluster {
	return newClusterTB(t, size, tweak)
}

func newClusterTB(t testing.TB, size int, tweak func(*Options)) *testCluster {
	watchdog(t)
	c := &testCluster{t: t, faults: newNetFaults(), engine: host.EngineNative, token: "secret", tweak: tweak}
	for i := range size {
		tn := &testNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir()}
		c.nodes = append(c.nodes, tn)
		var join []string
		if i > 0 {
			join = []string{c.nodes[0].url}
		}
		c.start(tn, join)
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			c.stop(tn, false)
		}
	})
	c.waitMembers(size)
	return c
}

func (c *testCluster) options(tn *testNode, join []string) Options {
	o := Options{Dir: tn.dir, NodeID: tn.id, HTTP: tn.url, Join: join, Token: c.token,
		Store:            host.Options{Engine: c.engine},
		HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 50 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond, CommitTimeout: 5 * time.Millisecond,
		RequestTimeout: 5 * time.Second, Faults: c.faults, Logger: quietLogger()}
	if c.tweak != nil {
		c.tweak(&o)
	}
	return o
}

// start (re)starts a node, on the Raft address it had before.
func (c *testCluster) start(tn *testNode, join []string) {
	t := c.t
	t.Helper()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn.ln = hl
	tn.url = "http://" + hl.Addr().String()
	addr := tn.raftAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var rl net.Listener
	for range 50 { // the old port may take a moment to free
		if rl, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	tn.raftAddr = rl.Addr().String()
	o := c.options(tn, join)
	o.RaftListener = rl
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Serve HTTP before Open returns: a joining node's own join goes
	// through another member, but status calls may come early.
	h := &lateHandler{}
	tn.srv = &http.Server{Handler: h}
	go tn.srv.Serve(hl)
	n, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("open %s: %v", tn.id, err)
	}
	tn.node.Store(n)
	h.set(server.New(n, server.Options{Token: c.token, Logger: quietLogger()}))
}

// lateHandler answers 503 until its handler is set.
type lateHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (l *lateHandler) set(h http.Handler) { l.mu.Lock(); l.h = h; l.mu.Unlock() }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// stop closes a node: gracefully (a leader hands over), or killed.
func (c *testCluster) stop(tn *testNode, graceful bool) {
	n := tn.n()
	if n == nil {
		return
	}
	tn.node.Store(nil)
	if graceful {
		n.Close(context.Background())
	} else {
		n.Kill()
	}
	tn.srv.Close()
}

func (c *testCluster) ids() []string {
	var out []string
	for _, tn := range c.nodes {
		out = append(out, tn.id)
	}
	return out
}

func (c *testCluster) running() []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		if tn.n() != nil {
			out = append(out, tn)
		}
	}
	return out
}

// leader waits for a running node to lead, and returns it.
func (c *testCluster) leader() *testNode {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, tn := range c.running() {
			if tn.n().leaderReady() {
				return tn
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatal("no leader within 10s")
	return nil
}

func (c *testCluster) followers() []*testNode {
	l := c.leader()
	var out []*testNode
	for _, tn := range c.running() {
		if tn != l {
			out = append(out, tn)
		}
	}
	return out
}

func (c *testCluster) waitMembers(k int) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(c.leader().n().configuration()) == k {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("the cluster did not reach %d members", k)
}

// converge waits until every running node has applied the leader's log,
// and checks that their feeds are identical, event for event.
func (c *testCluster) converge() {
	t := c.t
	t.Helper()
	ctx := context.Background()
	l := c.leader()
	want := l.n().fsmIndex(l.n().raft.CommitIndex())
	var feeds [][]host.ChangeEvent
	for _, tn := range c.running() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tn.n().fsm.waitIndex(wctx, want)
		cancel()
		if err != nil {
			t.Fatalf("%s did not apply index %d: %v", tn.id, want, err)
		}
		feeds = append(feeds, feed(t, tn.n().store))
	}
	for i := 1; i < len(feeds); i++ {
		if len(feeds[i]) != len(feeds[0]) {
			t.Fatalf("feeds differ in length: %d and %d events", len(feeds[0]), len(feeds[i]))
		}
		for j := range feeds[0] {
			if eventString(feeds[0][j]) != eventString(feeds[i][j]) {
				t.Fatalf("feeds differ at event %d:\n%s\n%s", j, eventString(feeds[0][j]), eventString(feeds[i][j]))
			}
		}
	}
}

func feed(t testing.TB, s *host.Store) []host.ChangeEvent {
	var out []host.ChangeEvent
	var since uint64
	for {
		p, err := s.Changes(context.Background(), since, host.Filter{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if len(p.Events) == 0 {
			return out
		}
		since = p.Next
	}
}

func eventString(e host.ChangeEvent) string {
	v := func(p *uint64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatUint(*p, 10)
	}
	return fmt.Sprintf("%d %v %s/%s %s:%x -> %s:%x @%d", e.Sequence, e.Operation, e.ActorType, e.ActorID,
		v(e.PreviousVersion), e.PreviousValue, v(e.NewVersion), e.NewValue, e.Timestamp.UnixNano())
}
