package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/actorstore/actorstore/client"
	"github.com/actorstore/actorstore/cluster"
	"github.com/actorstore/actorstore/host"
)

// These tests build the actorstore binary and run `serve` in a child
// process: killed with SIGKILL during acknowledged writes, it must come
// back with every one of them; stopped with SIGTERM, it must tell its
// watchers (close 1001) and close the store cleanly.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "actorstore-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "actorstore")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// node is a running `actorstore serve`.
type node struct {
	cmd    *exec.Cmd
	url    string
	raft   string
	stderr *syncBuffer
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// freePort returns a port of 127.0.0.1 nothing listens on just now.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// raftAddrs keeps each directory's Raft address: a node restarted on a
// directory listens where its cluster knows it.
var raftAddrs sync.Map

// startNode runs serve on dir at addr ("" for a free port, picked again
// should another process take it first), its Raft transport on the
// directory's address (a free port the first time), and waits until it
// answers.
func startNode(t *testing.T, dir, addr string, extra ...string) *node {
	t.Helper()
	bin := binary(t)
	for attempt := 0; ; attempt++ {
		a := addr
		if a == "" {
			a = freePort(t)
		}
		ra, known := raftAddrs.Load(dir)
		if !known {
			ra = freePort(t)
		}
		n := &node{url: "http://" + a, raft: ra.(string), stderr: &syncBuffer{}, exited: make(chan struct{})}
		args := append([]string{"serve", "--dir", dir, "--http", a, "--raft", n.raft}, extra...)
		n.cmd = exec.Command(bin, args...)
		n.cmd.Stderr = n.stderr
		// wazero's compiled module, shared by every run of the tests.
		n.cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(os.TempDir(), "actorstore-tests-cache"))
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { n.err = n.cmd.Wait(); close(n.exited) }()
		err := n.waitReady(30 * time.Second)
		if err == nil {
			raftAddrs.Store(dir, n.raft)
			t.Cleanup(func() { n.kill() })
			return n
		}
		n.kill()
		if (addr == "" || !known) && attempt < 5 && strings.Contains(n.stderr.String(), "address already in use") {
			continue
		}
		t.Fatalf("serve %v: %v\n%s", args, err, n.stderr.String())
	}
}

// waitReady polls /healthz until it answers or the process exits.
func (n *node) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			return fmt.Errorf("exited: %v", n.err)
		default:
		}
		resp, err := http.Get(n.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("not ready in time")
}

func (n *node) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

// TestKillDuringWrites kills the server with SIGKILL while clients write
// and checks, after a restart on the same directory, that every write
// the server acknowledged is there, for each sync policy.
func TestKillDuringWrites(t *testing.T) {
	for _, policy := range []string{"always", "never"} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			for round := range 2 {
				n := startNode(t, dir, "", "--engine", "native", "--sync", policy)
				acked := killDuringWrites(t, n, fmt.Sprintf("r%d-", round))
				n2 := startNode(t, dir, "", "--engine", "native", "--sync", policy)
				checkAcked(t, n2, acked)
				n2.kill()
			}
		})
	}
}

// write is an acknowledged write: the actor and the version it got.
type write struct {
	id      string
	version uint64
	value   int
}

// killDuringWrites runs writers against n and kills n once they have had
// some writes acknowledged; it returns those.
func killDuringWrites(t *testing.T, n *node, prefix string) []write {
	c, err := client.New(n.url, client.Options{Retry: client.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var mu sync.Mutex
	var acked []write
	var count atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for i := 0; ; i++ {
				id := fmt.Sprintf("%sw%d-%d", prefix, w, i)
				var a host.Actor
				var err error
				if i%3 == 2 { // an update of the previous actor, as a batch with an insert
					var rs []host.BatchResult
					rs, err = c.Batch(ctx, host.UpdateVersionedOp("k", fmt.Sprintf("%sw%d-%d", prefix, w, i-1), i, 0),
						host.InsertOp("k", id, i))
					if err == nil {
						mu.Lock()
						acked = append(acked, write{rs[0].Actor.ID, 1, i})
						mu.Unlock()
						a = rs[1].Actor
					}
				} else {
					a, err = c.Insert(ctx, "k", id, i)
				}
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, write{a.ID, a.Version, i})
				mu.Unlock()
				count.Add(1)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for count.Load() < 150 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	n.cmd.Process.Signal(syscall.SIGKILL) // during writes: the writers are still going
	wg.Wait()
	<-n.exited
	if len(acked) < 150 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}
	return acked
}

// checkAcked checks that every acknowledged write is in n's store, at
// its version or later, and in its change feed.
func checkAcked(t *testing.T, n *node, acked []write) {
	c, err := client.New(n.url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	all, err := c.GetAll(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]host.Actor{}
	for _, a := range all {
		have[a.ID] = a
	}
	for _, w := range acked {
		a, ok := have[w.id]
		var v int
		if ok {
			a.Decode(&v)
		}
		if !ok || a.Version < w.version || (a.Version == w.version && v != w.value) {
			t.Fatalf("acknowledged write %+v lost: found %v, version %d, value %d", w, ok, a.Version, v)
		}
	}
	st, err := c.Stats(ctx)
	if err != nil || st.CurrentSequence < uint64(len(acked)) {
		t.Fatalf("stats after restart: %+v (%v), %d writes acknowledged", st, err, len(acked))
	}
	t.Logf("%d acknowledged writes kept; %d actors, sequence %d after restart", len(acked), len(all), st.CurrentSequence)
}

// TestTerminate stops the server with SIGTERM under a watcher and a
// subscription: the watcher gets close 1001, the process exits 0 with a
// clean store, and the subscription, its server restarted on the same
// address, resumes after the last event it delivered.
func TestTerminate(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir, "") // the default engine, wasm
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(n.url, client.Options{Retry: client.RetryPolicy{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for i := range 5 {
		if _, err := c.Insert(ctx, "t", fmt.Sprint(i), i); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromBeginning()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for want := uint64(1); want <= 5; want++ {
		if ev, err := sub.Next(ctx); err != nil || ev.Sequence != want {
			t.Fatalf("event %d: #%d, %v", want, ev.Sequence, err)
		}
	}
	ws, _, err := websocket.Dial(ctx, n.url+"/v1/watch?from=now", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	n.cmd.Process.Signal(syscall.SIGTERM)
	_, _, err = ws.Read(ctx)
	if s := websocket.CloseStatus(err); s != websocket.StatusGoingAway {
		t.Errorf("watcher ended with %v (status %d), want 1001", err, s)
	}
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	if n.err != nil {
		t.Errorf("exited with %v, want 0\n%s", n.err, n.stderr.String())
	}
	for _, line := range []string{"shutting down", "signal=terminated", "store closed", "stopped"} {
		if !strings.Contains(n.stderr.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, n.stderr.String())
		}
	}
	// Closed cleanly: the directory opens at once (its lock released)
	// in this process, as the same one-member cluster, with everything.
	cn, err := cluster.Open(ctx, cluster.Options{Dir: dir, RaftAddr: "127.0.0.1:0",
		Store: host.Options{Engine: host.EngineNative}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := cn.Stats(ctx)
	cn.Close(ctx)
	if err != nil || st.CurrentSequence != 5 {
		t.Fatalf("reopened node: %+v, %v", st, err)
	}

	// The subscription waits, reconnecting; once the server is back it
	// resumes at event 6.
	startNode(t, dir, strings.TrimPrefix(n.url, "http://"))
	for i := 5; i < 8; i++ {
		if _, err := c.Insert(ctx, "t", fmt.Sprint(i), i); err != nil {
			t.Fatal(err)
		}
	}
	for want := uint64(6); want <= 8; want++ {
		if ev, err := sub.Next(ctx); err != nil || ev.Sequence != want {
			t.Fatalf("after the restart: event #%d, %v; want #%d", ev.Sequence, err, want)
		}
	}
}

// TestClusterLeaderKilled runs three `serve` processes as one cluster at
// Raft's default timeouts, SIGKILLs the leader while clients write
// through every node, and checks: the others elect a leader and writes
// through them are acknowledged again within seconds; restarted, the
// killed node rejoins and converges; every acknowledged write is on
// every node, and every node's feed is the same, event for event.
func TestClusterLeaderKilled(t *testing.T) {
	var nodes []*node
	var dirs []string
	for i := range 3 {
		dir := t.TempDir()
		args := []string{"--engine", "native", "--node-id", fmt.Sprintf("p%d", i+1), "--token", "tok"}
		if i > 0 {
			args = append(args, "--join", nodes[0].url)
		}
		nodes = append(nodes, startNode(t, dir, "", args...))
		dirs = append(dirs, dir)
	}
	ctx := context.Background()
	clients := make([]*client.Client, 3)
	for i, n := range nodes {
		c, err := client.New(n.url, client.Options{Token: "tok",
			Retry: client.RetryPolicy{MaxAttempts: 3, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		clients[i] = c
	}
	st, err := clients[1].Status(ctx)
	if err != nil || st.Leader == nil || len(st.Members) != 3 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	li := -1
	for i, n := range nodes {
		if n.url == st.Leader.HTTP {
			li = i
		}
	}
	if li < 0 {
		t.Fatalf("leader %+v is none of the nodes", st.Leader)
	}

	var mu sync.Mutex
	acked := map[string]int{}
	var lastAck atomic.Int64 // Unix nanoseconds of the latest acknowledgement
	var count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			c := clients[w%3]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				_, err := c.Insert(wctx, "k", id, i)
				cancel()
				if err != nil {
					if w%3 == li {
						return // its node is gone
					}
					t.Errorf("write %s through a surviving node: %v", id, err)
					return
				}
				mu.Lock()
				acked[id] = i
				mu.Unlock()
				lastAck.Store(time.Now().UnixNano())
				count.Add(1)
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for count.Load() < 150 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	killedAt := time.Now()
	nodes[li].kill()
	before := count.Load()
	for count.Load() == before && time.Since(killedAt) < 15*time.Second {
		time.Sleep(time.Millisecond)
	}
	if count.Load() == before {
		t.Fatal("no write acknowledged within 15 s of the leader's death")
	}
	t.Logf("leader p%d killed after %d acknowledged writes; the next acknowledged %v later",
		li+1, before, time.Unix(0, lastAck.Load()).Sub(killedAt).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	nodes[li] = startNode(t, dirs[li], strings.TrimPrefix(nodes[li].url, "http://"), "--engine", "native", "--node-id", fmt.Sprintf("p%d", li+1), "--token", "tok")
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Converged: every node has applied the leader's log.
	var feeds [][]host.ChangeEvent
	for i, n := range nodes {
		c, err := client.New(n.url, client.Options{Token: "tok", Consistency: client.Local})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		// A linearizable read through the node waits until it has applied
		// every acknowledged write; local reads then see them all.
		lc, err := client.New(n.url, client.Options{Token: "tok"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = lc.Stats(ctx)
		lc.Close(ctx)
		if err != nil {
			t.Fatalf("p%d: %v", i+1, err)
		}
		var evs []host.ChangeEvent
		var since uint64
		for {
			p, err := c.Changes(ctx, since, host.Filter{}, 1000)
			if err != nil {
				t.Fatalf("p%d changes: %v", i+1, err)
			}
			evs = append(evs, p.Events...)
			if len(p.Events) == 0 {
				break
			}
			since = p.Next
		}
		feeds = append(feeds, evs)
		all, err := c.GetAll(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, a := range all {
			have[a.ID] = true
		}
		for id := range acked {
			if !have[id] {
				t.Fatalf("acknowledged write %s missing on p%d", id, i+1)
			}
		}
	}
	for i := 1; i < 3; i++ {
		if len(feeds[i]) != len(feeds[0]) {
			t.Fatalf("feeds differ: p1 has %d events, p%d %d", len(feeds[0]), i+1, len(feeds[i]))
		}
		for j := range feeds[0] {
			a, b := feeds[0][j], feeds[i][j]
			if a.Sequence != b.Sequence || a.ActorID != b.ActorID || !a.Timestamp.Equal(b.Timestamp) || string(a.NewValue) != string(b.NewValue) {
				t.Fatalf("feeds differ at event %d: %+v and %+v", j, a, b)
			}
		}
	}
	t.Logf("%d acknowledged writes on every node; %d events, the same on all three", len(acked), len(feeds[0]))
}
