package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// keyedCommands counts the commands in n's Raft log that carry key.
func keyedCommands(t *testing.T, n *Node, key string) int {
	t.Helper()
	first, err := n.wal.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := n.wal.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for i := first; i <= last && i > 0; i++ {
		var l raft.Log
		if err := n.wal.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		c, err := decodeCommand(l.Data)
		if err != nil {
			t.Fatal(err)
		}
		if c.hasKey && c.key == key {
			count++
		}
	}
	return count
}

// eventsOf returns the events of one actor in n's feed.
func eventsOf(t *testing.T, n *Node, typ, id string) []host.ChangeEvent {
	var out []host.ChangeEvent
	for _, e := range feed(t, n.store) {
		if e.ActorType == typ && e.ActorID == id {
			out = append(out, e)
		}
	}
	return out
}

// slowAcks delays everything the followers send the leader: the leader's
// entries reach them and are stored, but their acknowledgements come too
// late for its lease, so it steps down without learning that the entry
// committed; the followers elect one of them, whose log has the entry.
func slowAcks(c *testCluster, l *testNode, d time.Duration) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	for _, tn := range c.nodes {
		if tn != l {
			c.faults.delay[[2]string{tn.id, l.id}] = d
		}
	}
}

// TestKeyedWriteRetriedAfterLeadershipLost writes, with an idempotency
// key, through a leader that loses leadership after its followers stored
// the entry but before it learnt that it committed: Apply fails with
// ErrLeadershipLost, the node sends the command again to the new leader,
// and the store applies it once: the log holds the command twice, the
// feed one event, and the caller gets the answer of the first.
func TestKeyedWriteRetriedAfterLeadershipLost(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := context.Background()
	if _, err := c.leader().n().Insert(ctx, "acct", "a", 0); err != nil {
		t.Fatal(err)
	}
	for attempt := range 5 {
		c.faults.heal()
		l := c.leader()
		key := fmt.Sprintf("deposit-%d", attempt)
		slowAcks(c, l, 400*time.Millisecond)
		wctx, cancel := context.WithTimeout(host.WithIdempotencyKey(ctx, key), 10*time.Second)
		a, err := l.n().Update(wctx, "acct", "a", attempt+1)
		cancel()
		c.faults.heal()
		if err != nil {
			t.Fatalf("keyed update through a deposed leader: %v", err)
		}
		c.converge()
		nl := c.leader()
		if n := keyedCommands(t, nl.n(), key); n < 2 {
			// The leader kept its lease this time (a fast machine
			// moment); try again.
			t.Logf("attempt %d: the command is in the log %d time(s): not retried", attempt, n)
			continue
		}
		evs := eventsOf(t, nl.n(), "acct", "a")
		last := evs[len(evs)-1]
		if len(evs) != attempt+2 || last.NewVersion == nil || *last.NewVersion != a.Version || string(last.NewValue) != string(a.Value) {
			t.Fatalf("after a retried keyed update: %d events (want %d), last %s; the answer %+v", len(evs), attempt+2, eventString(last), a)
		}
		t.Logf("attempt %d: %s lost leadership to %s; the command is in the log twice, applied once (version %d)", attempt, l.id, nl.id, a.Version)
		return
	}
	t.Fatal("in 5 attempts the leader never lost leadership with the entry in flight")
}

// TestKeyedWriteRetriedAfterTimeout: a keyed write whose request ended
// (its context's deadline) while the leader was being deposed, its
// outcome unknown to the caller, is sent again with the same key through
// another node: the actor moves one version and the feed one event, and
// the retry's answer is that event's. The test goes on until a first
// attempt had committed before its retry (the log then holds the command
// twice): the case where the retry must be answered from the table.
func TestKeyedWriteRetriedAfterTimeout(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := context.Background()
	if _, err := c.leader().n().Insert(ctx, "acct", "a", 0); err != nil {
		t.Fatal(err)
	}
	for attempt := range 8 {
		c.faults.heal()
		l := c.leader()
		before, _, err := l.n().Get(ctx, "acct", "a")
		if err != nil {
			t.Fatal(err)
		}
		nevents := len(eventsOf(t, l.n(), "acct", "a"))
		key := fmt.Sprintf("t-%d", attempt)
		kctx := host.WithIdempotencyKey(ctx, key)
		slowAcks(c, l, 400*time.Millisecond)
		wctx, cancel := context.WithTimeout(kctx, 30*time.Millisecond)
		_, first := l.n().Update(wctx, "acct", "a", attempt+100)
		cancel()
		if first == nil {
			t.Logf("attempt %d: answered in time", attempt)
			continue
		}
		if !errors.Is(first, server.ErrUnavailable) {
			t.Fatalf("a write whose request ended: %v, want ErrUnavailable", first)
		}
		var other *testNode
		for _, tn := range c.nodes {
			if tn != l {
				other = tn
			}
		}
		a, err := other.n().Update(kctx, "acct", "a", attempt+100)
		if err != nil {
			t.Fatalf("retry through %s: %v", other.id, err)
		}
		c.faults.heal()
		c.converge()
		nl := c.leader()
		evs := eventsOf(t, nl.n(), "acct", "a")
		last := evs[len(evs)-1]
		if a.Version != before.Version+1 || len(evs) != nevents+1 || *last.NewVersion != a.Version || string(last.NewValue) != string(a.Value) {
			t.Fatalf("attempt %d: version %d before, answer %+v; %d events then %d, the last %s", attempt, before.Version, a, nevents, len(evs), eventString(last))
		}
		twice := keyedCommands(t, nl.n(), key) == 2
		t.Logf("attempt %d: %v; the first attempt committed before the retry: %v", attempt, first, twice)
		if twice {
			return
		}
	}
	t.Fatal("in 8 attempts no timed-out write had committed before its retry")
}

// TestKeysSurviveSnapshots takes a Raft snapshot after keyed writes, with
// the log behind it compacted away, restarts every node from it, and
// retries the writes: each retry is answered from the store's table,
// which the snapshot carried, and nothing is applied again.
func TestKeysSurviveSnapshots(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) { o.SnapshotThreshold, o.TrailingLogs = 1, 1 })
	ctx := context.Background()
	l := c.leader()
	answers := map[string]host.Actor{}
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		a, err := l.n().Insert(host.WithIdempotencyKey(ctx, key), "t", key, i)
		if err != nil {
			t.Fatal(err)
		}
		answers[key] = a
	}
	// A refusal is remembered too.
	_, refusal := l.n().Insert(host.WithIdempotencyKey(ctx, "dup"), "t", "k0", 9)
	if !errors.Is(refusal, host.ErrAlreadyExists) {
		t.Fatalf("duplicate insert: %v", refusal)
	}
	c.converge()
	for _, tn := range c.nodes {
		if err := tn.n().raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot on %s: %v", tn.id, err)
		}
		if n := keyedCommands(t, tn.n(), "k0"); n != 0 {
			t.Fatalf("%s: the log still holds the first keyed write after the snapshot", tn.id)
		}
	}
	for _, tn := range c.nodes {
		c.stop(tn, false)
	}
	for _, tn := range c.nodes {
		c.start(tn, nil)
	}
	l = c.leader()
	seq := func() uint64 {
		st, err := l.n().Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.CurrentSequence
	}
	s0 := seq()
	if s0 != 5 {
		t.Fatalf("sequence %d after the restart, want 5", s0)
	}
	for i, tn := range c.nodes {
		key := fmt.Sprintf("k%d", i)
		a, err := tn.n().Insert(host.WithIdempotencyKey(ctx, key), "t", key, i)
		if err != nil || a.Version != answers[key].Version || string(a.Value) != string(answers[key].Value) {
			t.Fatalf("retry of %s through %s: %+v, %v; first answer %+v", key, tn.id, a, err, answers[key])
		}
	}
	_, err := c.nodes[2].n().Insert(host.WithIdempotencyKey(ctx, "dup"), "t", "k0", 9)
	if err == nil || err.Error() != refusal.Error() || !errors.Is(err, host.ErrAlreadyExists) {
		t.Fatalf("retry of the refused insert: %v, want %v", err, refusal)
	}
	if s := seq(); s != s0 {
		t.Fatalf("retries made events: sequence %d, was %d", s, s0)
	}
	c.converge()
}
