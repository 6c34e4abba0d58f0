package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// TestWritesOnEveryNode checks that writes made through any node, the
// followers' forwarded to the leader, are read back linearizably from
// every node, and that every node's feed is the same.
func TestWritesOnEveryNode(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := context.Background()
	for i, tn := range c.nodes {
		a, err := tn.n().Insert(ctx, "user", fmt.Sprintf("u%d", i), map[string]any{"n": i})
		if err != nil || a.Version != 0 {
			t.Fatalf("insert through %s: %+v, %v", tn.id, a, err)
		}
		for _, other := range c.nodes {
			got, ok, err := other.n().Get(ctx, "user", fmt.Sprintf("u%d", i))
			if err != nil || !ok || string(got.Value) != string(a.Value) {
				t.Fatalf("read on %s after a write through %s: %+v %v %v", other.id, tn.id, got, ok, err)
			}
		}
	}
	f := c.followers()[0]
	// Refusals are decided by the log, the same everywhere, and come back
	// as the store's errors.
	_, err := f.n().UpdateVersioned(ctx, "user", "u0", 1, 5)
	var vm *host.VersionMismatchError
	if !errors.As(err, &vm) || vm.Expected != 5 || vm.Actual != 0 || err.Error() == "" {
		t.Fatalf("stale CAS through a follower: %v", err)
	}
	if _, err := f.n().Insert(ctx, "user", "u0", 1); !errors.Is(err, host.ErrAlreadyExists) {
		t.Fatalf("duplicate insert through a follower: %v", err)
	}
	_, err = f.n().Batch(ctx, host.InsertOp("t", "a", 1), host.UpdateOp("t", "missing", 2))
	var be *host.BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, host.ErrNotFound) {
		t.Fatalf("failing batch through a follower: %v", err)
	}
	rs, err := f.n().Batch(ctx, host.InsertOp("t", "a", 1), host.DeleteOp("t", "a"), host.DeleteOp("t", "b"))
	if err != nil || len(rs) != 3 || !rs[1].Found || rs[2].Found {
		t.Fatalf("batch through a follower: %+v, %v", rs, err)
	}
	if _, err := f.n().Batch(ctx, host.BatchOp{}); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("zero BatchOp: %v", err)
	}
	// Local reads never leave the node.
	if _, ok, err := f.n().Get(server.WithConsistency(ctx, server.Local), "user", "u2"); err != nil || !ok {
		t.Fatalf("local read: %v %v", ok, err)
	}
	c.converge()
	st, err := f.n().Status(ctx)
	if err != nil || st.Role != "follower" || st.Leader.ID != c.leader().id || st.Leader.HTTP != c.leader().url || len(st.Members) != 3 {
		t.Fatalf("status of a follower: %+v, %v", st, err)
	}
}

// TestLeaderCrashKeepsAcknowledgedWrites kills the leader while clients
// write through every node: a new leader takes over, every acknowledged
// write is there, and every node's feed is the same, the restarted one's
// too.
func TestLeaderCrashKeepsAcknowledgedWrites(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := context.Background()
	acked := make(chan string, 10000)
	stop := make(chan struct{})
	done := make(chan struct{})
	for w := range 3 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tn := c.nodes[(w+i)%3]
				n := tn.n()
				if n == nil {
					continue
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				if _, err := n.Insert(wctx, "k", id, i); err == nil {
					acked <- id
				}
				cancel()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	old := c.leader()
	c.stop(old, false)
	start := time.Now()
	l := c.leader()
	t.Logf("%s killed; %s leads after %v", old.id, l.id, time.Since(start))
	time.Sleep(300 * time.Millisecond)
	close(stop)
	for range 3 {
		<-done
	}
	close(acked)
	c.start(old, nil)
	c.converge()
	n := 0
	for id := range acked {
		n++
		for _, tn := range c.nodes {
			if _, ok, err := tn.n().Get(server.WithConsistency(ctx, server.Local), "k", id); err != nil || !ok {
				t.Fatalf("acknowledged write %s missing on %s: %v", id, tn.id, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no write was acknowledged")
	}
	t.Logf("%d acknowledged writes kept", n)
}

// TestWrongTokenIsRefused checks that a node with another token cannot
// talk Raft with the cluster.
func TestWrongTokenIsRefused(t *testing.T) {
	c := newCluster(t, 1, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newStreamLayer(ln, nil, peerInfo{id: "intruder"}, "not-the-token", nil, func(peerInfo) {})
	defer s.Close()
	if _, err := s.Dial(c.nodes[0].n().trans.LocalAddr(), time.Second); !errors.Is(err, errHandshake) {
		t.Fatalf("dial with a wrong token: %v", err)
	}
	good := newStreamLayer(mustListen(t), nil, peerInfo{id: "friend"}, c.token, nil, func(peerInfo) {})
	defer good.Close()
	conn, err := good.Dial(c.nodes[0].n().trans.LocalAddr(), time.Second)
	if err != nil {
		t.Fatalf("dial with the token: %v", err)
	}
	conn.Close()
}

func mustListen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
