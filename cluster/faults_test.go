package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// writeSome inserts n actors through the given nodes in turn and fails
// the test on any error. Each write carries an idempotency key, so that
// a node retries it by itself when leadership changes under it (the
// short timeouts of the tests depose leaders on a busy machine).
func writeSome(t *testing.T, prefix string, n int, via ...*testNode) {
	t.Helper()
	for i := range n {
		tn := via[i%len(via)]
		id := fmt.Sprintf("%s-%d", prefix, i)
		ctx, cancel := context.WithTimeout(host.WithIdempotencyKey(context.Background(), id), 10*time.Second)
		_, err := tn.n().Insert(ctx, "w", id, i)
		cancel()
		if err != nil {
			t.Fatalf("insert %s-%d through %s: %v", prefix, i, tn.id, err)
		}
	}
}

// haveAll checks that every running node has the actors writeSome made.
func haveAll(t *testing.T, c *testCluster, prefix string, n int) {
	t.Helper()
	local := server.WithConsistency(context.Background(), server.Local)
	for _, tn := range c.running() {
		for i := range n {
			if _, ok, err := tn.n().Get(local, "w", fmt.Sprintf("%s-%d", prefix, i)); err != nil || !ok {
				t.Fatalf("%s lacks %s-%d (%v)", tn.id, prefix, i, err)
			}
		}
	}
}

// TestFiveNodesLoseTwo kills two of five nodes, the leader one of them:
// the other three elect a leader and writes through each of them go on.
func TestFiveNodesLoseTwo(t *testing.T) {
	c := newCluster(t, 5, nil)
	writeSome(t, "before", 20, c.nodes...)
	l := c.leader()
	var other *testNode
	for _, tn := range c.nodes {
		if tn != l {
			other = tn
			break
		}
	}
	c.stop(l, false)
	c.stop(other, false)
	nl := c.leader()
	t.Logf("killed %s (leader) and %s; %s leads", l.id, other.id, nl.id)
	writeSome(t, "after", 30, c.running()...)
	c.converge()
	haveAll(t, c, "before", 20)
	haveAll(t, c, "after", 30)
	// The two come back and catch up.
	c.start(l, nil)
	c.start(other, nil)
	c.converge()
	haveAll(t, c, "after", 30)
}

// snapshotCount returns how many snapshots n's directory holds.
func snapshotCount(t *testing.T, n *Node) int {
	ents, err := os.ReadDir(filepath.Join(n.opts.Dir, "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// TestFollowerCatchesUpFromSnapshot cuts a follower off while the others
// write past what the log keeps after a snapshot: when it is back, the
// leader sends it the snapshot (the entries it lacks are gone), then the
// log after it; its feed ends up identical, event for event.
func TestFollowerCatchesUpFromSnapshot(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) {
		o.SnapshotThreshold, o.TrailingLogs, o.SnapshotInterval = 50, 20, 50*time.Millisecond
		o.LogSegmentBytes = 8 << 10 // truncation removes whole segments
	})
	writeSome(t, "a", 10, c.nodes...)
	f := c.followers()[0]
	c.faults.partition(c.ids(), f.id)
	l := c.leader()
	writeSome(t, "b", 300, c.running()[0], l)
	// Every other node compacts its log: whichever leads when the
	// follower is back (its return may start an election) lacks the
	// entries it needs.
	for _, tn := range c.running() {
		if tn == f {
			continue
		}
		if err := tn.n().raft.Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
		first, err := tn.n().wal.FirstIndex()
		if err != nil {
			t.Fatal(err)
		}
		var l raft.Log
		if last := f.n().raft.LastIndex(); first <= last+1 || tn.n().wal.GetLog(last+1, &l) == nil {
			t.Fatalf("%s's log starts at %d and holds %d, the follower's ends there: it would not need the snapshot", tn.id, first, last+1)
		}
	}
	before := snapshotCount(t, f.n())
	c.faults.heal()
	writeSome(t, "c", 10, c.nodes...)
	c.converge()
	if after := snapshotCount(t, f.n()); after <= before {
		t.Fatalf("%s caught up without installing a snapshot (%d snapshots before, %d after)", f.id, before, after)
	}
	haveAll(t, c, "b", 300)
	haveAll(t, c, "c", 10)
}

// TestRemoveAndReAdd removes a member (through a follower), writes on
// without it, then adds it back — once with the state it had, once from
// an empty directory through --join — and checks it catches up.
func TestRemoveAndReAdd(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := context.Background()
	writeSome(t, "a", 10, c.nodes...)
	fs := c.followers()
	gone, via := fs[0], fs[1]
	if err := via.n().RemoveMember(ctx, gone.id); err != nil {
		t.Fatalf("remove %s through %s: %v", gone.id, via.id, err)
	}
	if len(c.leader().n().configuration()) != 2 {
		t.Fatalf("configuration after the removal: %v", c.leader().n().configuration())
	}
	c.stop(gone, true)
	writeSome(t, "b", 10, c.running()...)
	// Back with its state: the leader adds it at its address, it
	// restarts from its directory and gets what it missed.
	if err := via.n().AddMember(ctx, server.Member{ID: gone.id, Raft: gone.raftAddr, HTTP: gone.url, Voter: true}); err != nil {
		t.Fatal(err)
	}
	c.start(gone, nil)
	c.waitMembers(3)
	c.converge()
	haveAll(t, c, "b", 10)

	// Removed again, and back from an empty directory, joining.
	if err := c.leader().n().RemoveMember(ctx, gone.id); err != nil {
		t.Fatal(err)
	}
	c.stop(gone, true)
	writeSome(t, "c", 10, c.running()...)
	gone.dir, gone.raftAddr = t.TempDir(), ""
	c.start(gone, []string{via.url})
	c.waitMembers(3)
	writeSome(t, "d", 10, c.nodes...)
	c.converge()
	haveAll(t, c, "a", 10)
	haveAll(t, c, "c", 10)
}

// TestRestartOnNewAddress: a member restarted from its directory on
// another Raft address (a follower, then the leader after handing over)
// tells the leader, which replicates to it there.
func TestRestartOnNewAddress(t *testing.T) {
	c := newCluster(t, 3, nil)
	writeSome(t, "a", 10, c.nodes...)
	for round, pick := range []func() *testNode{func() *testNode { return c.followers()[0] }, c.leader} {
		tn := pick()
		old := tn.raftAddr
		c.stop(tn, true)
		writeSome(t, fmt.Sprintf("b%d-", round), 10, c.running()...)
		tn.raftAddr = ""
		c.start(tn, nil)
		if tn.raftAddr == old {
			t.Fatalf("%s restarted on its old address %s", tn.id, old)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			addr, _ := c.leader().n().memberAddr(tn.id)
			if string(addr) == tn.raftAddr {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the leader still has %s at %s, not %s", round, tn.id, addr, tn.raftAddr)
			}
			time.Sleep(10 * time.Millisecond)
		}
		writeSome(t, fmt.Sprintf("c%d-", round), 10, c.nodes...)
		c.converge()
		haveAll(t, c, fmt.Sprintf("b%d-", round), 10)
		haveAll(t, c, fmt.Sprintf("c%d-", round), 10)
	}
}

// TestRestartOnNewAddressAlone: a one-member cluster restarted on
// another Raft address leads, and corrects its own entry.
func TestRestartOnNewAddressAlone(t *testing.T) {
	c := newCluster(t, 1, nil)
	tn := c.nodes[0]
	writeSome(t, "a", 3, tn)
	c.stop(tn, true)
	tn.raftAddr = ""
	c.start(tn, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		addr, _ := tn.n().memberAddr(tn.id)
		if string(addr) == tn.raftAddr {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the configuration still has %s at %s, not %s", tn.id, addr, tn.raftAddr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	writeSome(t, "b", 3, tn)
	haveAll(t, c, "a", 3)
}

// TestOneMemberLeadsAtOnce: a one-member cluster, bootstrapped or
// restarted from its directory, leads at once rather than after a
// heartbeat timeout of silence, here 10 s (without hurry it takes 10-20 s).
func TestOneMemberLeadsAtOnce(t *testing.T) {
	slow := func(o *Options) {
		o.HeartbeatTimeout, o.ElectionTimeout, o.LeaderLeaseTimeout = 10*time.Second, 10*time.Second, 5*time.Second
	}
	start := time.Now()
	c := newCluster(t, 1, slow)
	tn := c.nodes[0]
	c.leader()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("bootstrapped, it led after %v", d)
	}
	writeSome(t, "a", 3, tn)
	for i := range 2 {
		c.stop(tn, true)
		start := time.Now()
		c.start(tn, nil)
		c.leader()
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("restart %d: it led after %v", i, d)
		}
	}
	haveAll(t, c, "a", 3)
}

// TestNonVoterReceivesData adds a learner: it gets every write, serves
// local reads and the feed, forwards writes, reports itself a learner,
// and does not count toward commitment (the two voters alone commit).
func TestNonVoterReceivesData(t *testing.T) {
	c := newCluster(t, 2, nil)
	learner := &testNode{id: "learner", dir: t.TempDir()}
	c.nodes = append(c.nodes, learner)
	c.tweak = func(o *Options) { o.NonVoter = o.NodeID == "learner" }
	c.start(learner, []string{c.nodes[0].url})
	c.waitMembers(3)
	ctx := context.Background()
	writeSome(t, "a", 20, c.nodes...) // through the learner too
	c.converge()
	haveAll(t, c, "a", 20)
	st, err := learner.n().Status(ctx)
	if err != nil || st.Role != "learner" {
		t.Fatalf("learner's status: %+v, %v", st, err)
	}
	for _, s := range c.leader().n().configuration() {
		if string(s.ID) == "learner" && s.Suffrage != raft.Nonvoter {
			t.Fatalf("learner's suffrage: %v", s.Suffrage)
		}
	}
	// Commitment needs a majority of the two voters only: with the
	// learner cut off, writes go on.
	c.faults.partition(c.ids(), "learner")
	writeSome(t, "b", 5, c.nodes[0], c.nodes[1])
	c.faults.heal()
	c.converge()
	haveAll(t, c, "b", 5)
}

// TestCloseHandsLeadershipOver closes the leader gracefully with
// election timeouts of 3 s: another node leads well before an election
// could have made one, as the leader handed over.
func TestCloseHandsLeadershipOver(t *testing.T) {
	c := newCluster(t, 3, func(o *Options) {
		o.HeartbeatTimeout, o.ElectionTimeout, o.LeaderLeaseTimeout = 3*time.Second, 3*time.Second, 3*time.Second
	})
	writeSome(t, "a", 5, c.nodes...)
	l := c.leader()
	start := time.Now()
	c.stop(l, true)
	nl := c.leader()
	took := time.Since(start)
	t.Logf("%s closed; %s leads after %v", l.id, nl.id, took)
	if took > 1500*time.Millisecond {
		t.Fatalf("a new leader after %v: leadership was not handed over", took)
	}
	writeSome(t, "b", 5, c.running()...)
}
