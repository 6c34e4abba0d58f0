// Package cluster is a store replicated with Raft
// (github.com/hashicorp/raft): a Node is one member of a cluster. It
// satisfies host.API, as the embedded store does, and server.Cluster, so
// the HTTP server serves a node unchanged.
//
// Writes become commands in Raft's log — the operations, the leader's
// timestamp and the idempotency key — and every node applies them, in
// log order, to an in-memory embedded store, which therefore holds the
// same actors, versions and sequence numbers everywhere. Raft's log is
// the write-ahead log (raft-wal, fsynced); Raft's snapshots are the
// store's portable snapshot stream, captured copy-on-write.
//
// A follower sends writes, and reads that need the leader, to the
// leader over the Raft port (the same authenticated connections); a
// request made while there is no leader waits for one, bounded by its
// context and Options.RequestTimeout, then fails with
// server.ErrUnavailable.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// Options configure Open.
type Options struct {
	// Dir holds the node's Raft log, its snapshots and its node id.
	// Required. A restart with the same Dir rejoins as the same member.
	Dir string
	// NodeID names the node; by default the id kept in Dir, or a new
	// random one for an empty Dir. A Dir that already has an id refuses
	// another.
	NodeID string
	// RaftAddr is the address the Raft transport listens on
	// ("127.0.0.1:7071"); ignored when RaftListener is set.
	RaftAddr string
	// RaftListener, when set, is the Raft transport's listener.
	RaftListener net.Listener
	// RaftAdvertise is the address other nodes dial; by default the
	// listener's address.
	RaftAdvertise string
	// HTTP is this node's HTTP URL ("http://127.0.0.1:7070"), told to the
	// other members and shown in status.
	HTTP string
	// Join lists HTTP URLs of members. An empty Dir with no Join
	// bootstraps a one-member cluster; with Join the node asks them, in
	// turn, to add it. A Dir that has state needs neither.
	Join []string
	// NonVoter joins as a non-voting member (a learner): it gets the log
	// but does not vote or count for commitment.
	NonVoter bool
	// Token authenticates node-to-node traffic (and join requests,
	// which go through the HTTP API).
	Token string
	// Sync is when Raft's log is fsynced: host.SyncAlways (the default)
	// after every append, before the entry counts as stored on this
	// node; host.SyncInterval every SyncInterval (100 ms by default);
	// host.SyncNever only as the node closes a log segment. With the
	// last two an acknowledged write is in the page cache of a majority
	// and survives any minority of process crashes, but not a majority
	// of machines losing power at once.
	Sync         host.SyncPolicy
	SyncInterval time.Duration
	// LogSegmentBytes is the size of the Raft log's segment files
	// (raft-wal's, 64 MiB by default). The log is truncated after a
	// snapshot a whole segment at a time: entries of a segment still in
	// use stay readable, and are sent to a follower rather than the
	// snapshot.
	LogSegmentBytes int
	// Store configures the store every node applies the log to: its
	// engine and limits. Store.Clock is the leader's clock, which stamps
	// each command (time.Now by default). Store.Dir must be empty: the
	// state is in memory, rebuilt from Raft's snapshot and log.
	Store host.Options

	// Raft's timeouts, when not zero. HeartbeatTimeout (500 ms) is how
	// long a follower goes without hearing from the leader before it
	// stands for election (the leader sends heartbeats ten times as
	// often), ElectionTimeout (500 ms) how long a candidate waits for
	// votes; both are randomized up to twice their value. A leader that
	// has not heard from a quorum for LeaderLeaseTimeout (250 ms) steps
	// down. CommitTimeout (5 ms) is how long the leader waits, with
	// nothing new to send, before telling followers the commit index: it
	// bounds how far behind a follower's applied state lags when writes
	// stop, which a read on a follower waits out. raft's own defaults
	// (1 s, 1 s, 500 ms, 50 ms) make failover take 1-3 s and follower
	// reads up to 100 ms (RATIONALE.md).
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration
	// SnapshotThreshold is how many log entries make a snapshot
	// worthwhile (8192 by default); TrailingLogs how many are kept
	// after one (10240 by default); SnapshotInterval how often the check
	// runs (2 minutes by default).
	SnapshotThreshold, TrailingLogs uint64
	SnapshotInterval                time.Duration
	// RequestTimeout bounds how long a request waits for a leader when
	// its context has no deadline; 10s by default.
	RequestTimeout time.Duration

	// Faults, when set, injects network faults (tests).
	Faults Faults
	// Logger receives the node's events and raft's; slog.Default() when
	// nil.
	Logger *slog.Logger
}

// Node is a member of a cluster.
type Node struct {
	opts   Options
	id     string
	log    *slog.Logger
	raft   *raft.Raft
	fsm    *fsm
	store  *host.Store
	trans  *raft.NetworkTransport
	stream *streamLayer
	wal    *wal.WAL
	logFS  *syncFS
	lock   *os.File
	meta   *metadb.BoltMetaDB
	clock  func() time.Time

	stampMu sync.Mutex // orders timestamps as the log does
	peers   sync.Map   // node id → HTTP URL
	pool    connPool

	rounds [2]readRounds             // shared read indices: leader reads, linearizable reads
	fsmIdx atomic.Pointer[[2]uint64] // the last fsmIndex: an index and its answer

	readyTerm atomic.Uint64 // a term in which this node led and committed a barrier
	barrierMu sync.Mutex

	closed    atomic.Bool
	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

var (
	_ host.API       = (*Node)(nil)
	_ server.Cluster = (*Node)(nil)
)

const nodeIDFile = "node-id"

// Open starts a node: it opens Dir (creating it), restores the newest
// snapshot and the log after it, starts Raft, and bootstraps or joins as
// Options say.
func Open(ctx context.Context, o Options) (*Node, error) {
	if o.Dir == "" {
		return nil, errors.New("cluster: Options.Dir is required")
	}
	if o.Store.Dir != "" {
		return nil, errors.New("cluster: Options.Store.Dir must be empty: Raft's log makes the store durable")
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	n := &Node{opts: o, log: o.Logger, clock: o.Store.Clock, done: make(chan struct{})}
	if n.log == nil {
		n.log = slog.Default()
	}
	if n.clock == nil {
		n.clock = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	n.lock = lock
	id, err := nodeID(o.Dir, o.NodeID)
	if err != nil {
		lock.Close()
		return nil, err
	}
	n.id = id
	n.log = n.log.With("node", id)
	if err := n.start(ctx); err != nil {
		n.teardown()
		return nil, err
	}
	return n, nil
}

// nodeID reads the id kept in dir, or keeps want (or a new one) there.
func nodeID(dir, want string) (string, error) {
	p := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		have := strings.TrimSpace(string(b))
		if want != "" && want != have {
			return "", fmt.Errorf("cluster: %s belongs to node %q, not %q", dir, have, want)
		}
		return have, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	if want == "" {
		var r [6]byte
		rand.Read(r[:])
		want = "node-" + hex.EncodeToString(r[:])
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(want+"\n"), 0o644); err != nil {
		return "", err
	}
	return want, os.Rename(tmp, p)
}

func (n *Node) start(ctx context.Context) error {
	o := n.opts
	f, err := newFSM(ctx, o.Store)
	if err != nil {
		return err
	}
	n.fsm, n.store = f, f.store

	if err := os.MkdirAll(filepath.Join(o.Dir, "raft"), 0o755); err != nil {
		return err
	}
	// WAL.Close leaves its meta store open (raft-wal v0.4.0): keep it to
	// close it, or a reopen in this process waits on its file lock.
	n.meta = &metadb.BoltMetaDB{}
	if o.Sync < host.SyncAlways || o.Sync > host.SyncNever {
		return fmt.Errorf("cluster: Options.Sync %d: want host.SyncAlways, SyncInterval or SyncNever", o.Sync)
	}
	n.logFS = newSyncFS(o.Sync, o.SyncInterval)
	logDir := filepath.Join(o.Dir, "raft")
	segSize := wal.DefaultSegmentSize
	if o.LogSegmentBytes > 0 {
		segSize = o.LogSegmentBytes
	}
	w, err := wal.Open(logDir, wal.WithMetaStore(n.meta), wal.WithSegmentFiler(segment.NewFiler(logDir, n.logFS)),
		wal.WithSegmentSize(segSize))
	if err != nil {
		return fmt.Errorf("cluster: raft log: %w", err)
	}
	n.wal = w
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{n.log}, DisableTime: true})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(o.Dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("cluster: snapshots: %w", err)
	}

	ln := o.RaftListener
	if ln == nil {
		addr := o.RaftAddr
		if addr == "" {
			addr = "127.0.0.1:7071"
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("cluster: raft listener: %w", err)
		}
	}
	var adv net.Addr
	if o.RaftAdvertise != "" {
		if adv, err = net.ResolveTCPAddr("tcp", o.RaftAdvertise); err != nil {
			ln.Close()
			return fmt.Errorf("cluster: raft advertise address: %w", err)
		}
	}
	n.peers.Store(n.id, o.HTTP)
	n.stream = newStreamLayer(ln, adv, peerInfo{id: n.id, http: o.HTTP}, o.Token, o.Faults, func(p peerInfo) {
		if p.id != "" && p.http != "" {
			n.peers.Store(p.id, p.http)
		}
	})
	n.stream.serveRPC = n.serveRPC
	n.pool.s = n.stream
	n.trans = raft.NewNetworkTransportWithLogger(n.stream, 3, 10*time.Second, hlog)

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(n.id)
	conf.Logger = hlog
	conf.BatchApplyCh = true
	conf.MaxAppendEntries = 512
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	setDur(&conf.HeartbeatTimeout, o.HeartbeatTimeout)
	setDur(&conf.ElectionTimeout, o.ElectionTimeout)
	setDur(&conf.LeaderLeaseTimeout, o.LeaderLeaseTimeout)
	setDur(&conf.CommitTimeout, o.CommitTimeout)
	setDur(&conf.SnapshotInterval, o.SnapshotInterval)
	if o.SnapshotThreshold > 0 {
		conf.SnapshotThreshold = o.SnapshotThreshold
	}
	if o.TrailingLogs > 0 {
		conf.TrailingLogs = o.TrailingLogs
	}
	// One millisecond over, so that hurry can shorten them (below).
	heartbeat, election := conf.HeartbeatTimeout, conf.ElectionTimeout
	conf.HeartbeatTimeout += time.Millisecond
	conf.ElectionTimeout = max(conf.ElectionTimeout, conf.HeartbeatTimeout)
	f.snaps = snaps
	hasState, err := raft.HasExistingState(w, w, snaps)
	if err != nil {
		return err
	}
	r, err := raft.NewRaft(conf, f, w, w, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("cluster: raft: %w", err)
	}
	n.raft = r
	n.wg.Add(1)
	go n.watchLeadership()
	switch {
	case hasState:
		n.log.Info("rejoining the cluster with the state in " + o.Dir)
		n.wg.Add(1)
		go n.readdress()
		n.hurry(heartbeat, election)
	case len(o.Join) == 0:
		n.log.Info("bootstrapping a one-member cluster")
		cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: n.trans.LocalAddr()}}}
		if err := n.await(ctx, r.BootstrapCluster(cfg)); err != nil {
			return fmt.Errorf("cluster: bootstrap: %w", err)
		}
		n.hurry(heartbeat, election)
	default:
		if err := n.join(ctx); err != nil {
			return err
		}
	}
	return nil
}

// hurry makes a node that is its cluster's only voter stand for election
// now, rather than after a heartbeat timeout of silence it waits out at
// every start (there is no leader to hear from): raft resets a follower's
// timer when its heartbeat timeout is shortened, so the node starts with
// it a millisecond longer than heartbeat (election too, which may not be
// shorter) and sets both back here. A member of
// a larger cluster waits as raft does, so as not to disrupt a leader.
func (n *Node) hurry(heartbeat, election time.Duration) {
	voters := 0
	self := false
	for _, s := range n.configuration() {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || string(s.ID) == n.id
		}
	}
	if voters != 1 || !self {
		return
	}
	rc := n.raft.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = heartbeat, election
	if err := n.raft.ReloadConfig(rc); err != nil {
		n.log.Warn("could not shorten the first election", "error", err.Error())
	}
}

func setDur(d *time.Duration, v time.Duration) {
	if v > 0 {
		*d = v
	}
}

// watchLeadership runs a barrier each time this node becomes leader:
// linearizable reads wait for it, so that they see every entry the
// previous leaders committed.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	ch := n.raft.LeaderCh()
	for {
		select {
		case <-n.done:
			return
		case isLeader := <-ch:
			if isLeader {
				n.log.Info("became leader")
				go n.barrier(context.Background(), n.raft.CurrentTerm())
			}
		}
	}
}

// barrier commits a barrier entry and, once it has, marks term (read
// before the barrier was issued) ready: a leader that committed an entry
// of its own term has committed every entry of the terms before, so its
// commit index is one a read can wait for. A term read before the barrier
// is at most the barrier's own, so a leadership lost and won again in
// between leaves the node not ready, never wrongly ready.
func (n *Node) barrier(ctx context.Context, term uint64) {
	ctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	defer cancel()
	if err := n.await(ctx, n.raft.Barrier(n.opts.RequestTimeout)); err == nil {
		n.readyTerm.Store(term)
	}
}

// await waits for a raft future's answer, or until ctx ends or the node
// closes. Raft never answers some futures once it shuts down: one still
// queued for its main loop (VerifyLeader, Apply, Barrier, membership
// changes), or one whose quorum came in just before; waiting on such a
// future alone would block forever. The waiting goroutine of a future
// left unanswered ends with the process.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	ch := make(chan error, 1)
	go func() { ch <- f.Error() }()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return raft.ErrRaftShutdown
	}
}

// leaderReady reports whether this node leads and has committed a
// barrier in its current term. The term ties the barrier to this
// leadership; raft's LeaderCh, which may drop a change, only starts the
// barrier early.
func (n *Node) leaderReady() bool {
	return n.raft.State() == raft.Leader && n.readyTerm.Load() == n.raft.CurrentTerm()
}

// ID returns the node's id.
func (n *Node) ID() string { return n.id }

// RaftAddr returns the address other nodes reach this node's Raft
// transport at.
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

// Store returns the node's applied store: reads from it are local reads.
func (n *Node) Store() *host.Store { return n.store }

// Options returns the store's options (the server sizes request bodies by
// them).
func (n *Node) Options() host.Options { return n.store.Options() }

// Raft returns the node's raft instance, for inspection.
func (n *Node) Raft() *raft.Raft { return n.raft }

// Close leaves the cluster's work to the others: a leader hands
// leadership over first. The node stays a member; it rejoins when opened
// again with the same Dir.
func (n *Node) Close(ctx context.Context) error {
	var err error
	n.closeOnce.Do(func() {
		if n.raft != nil && n.raft.State() == raft.Leader && n.voters() > 1 {
			tctx, cancel := n.requestContext(ctx)
			e := n.await(tctx, n.raft.LeadershipTransfer())
			cancel()
			if e != nil {
				n.log.Warn("leadership transfer on close failed", "err", e)
			} else {
				n.log.Info("handed leadership over")
			}
		}
		err = n.teardown()
	})
	return err
}

// Kill stops the node at once, without handing leadership over: as a
// crash would, but leaving Dir consistent (tests).
func (n *Node) Kill() error {
	var err error
	n.closeOnce.Do(func() { err = n.teardown() })
	return err
}

func (n *Node) teardown() error {
	n.closed.Store(true)
	select {
	case <-n.done:
	default:
		close(n.done)
	}
	var errs []error
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.trans != nil {
		errs = append(errs, n.trans.Close())
	} else if n.stream != nil {
		n.stream.Close()
	}
	n.pool.closeAll()
	n.wg.Wait()
	if n.wal != nil {
		errs = append(errs, n.wal.Close())
	}
	if n.meta != nil {
		errs = append(errs, n.meta.Close())
	}
	if n.logFS != nil {
		n.logFS.Close()
	}
	if n.lock != nil {
		n.lock.Close()
	}
	if n.store != nil {
		errs = append(errs, n.store.Close(context.Background()))
	}
	return errors.Join(errs...)
}

func (n *Node) voters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	c := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			c++
		}
	}
	return c
}

// requestContext bounds ctx by RequestTimeout when it has no deadline.
func (n *Node) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, n.opts.RequestTimeout)
}

// errNotLeader says this node cannot do what only the leader does.
var errNotLeader = errors.New("cluster: not the leader")

// unavailable is the error of a request that found no leader in time.
func unavailable(cause error) error {
	return fmt.Errorf("%w: no leader within the request's time (%v)", server.ErrUnavailable, cause)
}

// retryable reports whether err means: ask again, possibly elsewhere,
// without the request having taken effect.
func retryable(err error) bool {
	return errors.Is(err, errNotLeader) || errors.Is(err, raft.ErrNotLeader) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress) || errors.Is(err, raft.ErrEnqueueTimeout) ||
		errors.Is(err, errConn)
}

// withLeader runs local on the leader, or remote with the leader's Raft
// address on a follower, again after each retryable failure (waiting for
// a leader in between) until ctx ends.
func (n *Node) withLeader(ctx context.Context, local func(context.Context) error, remote func(ctx context.Context, addr string) error) error {
	ctx, cancel := n.requestContext(ctx)
	defer cancel()
	wait := time.Millisecond
	for {
		if n.closed.Load() {
			return host.ErrClosed
		}
		var err error
		if n.raft.State() == raft.Leader {
			err = local(ctx)
		} else if addr, id := n.raft.LeaderWithID(); addr != "" && string(id) != n.id {
			err = remote(ctx, string(addr))
		} else {
			err = errNotLeader
		}
		if err == nil || !retryable(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return unavailable(err)
		case <-n.done:
			t.Stop()
			return host.ErrClosed
		case <-t.C:
		}
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
}

// apply runs a command through the log and returns its result: on the
// leader directly, on a follower through the leader.
func (n *Node) apply(ctx context.Context, c *command) (*result, error) {
	if key, ok := host.IdempotencyKey(ctx); ok {
		c.key, c.hasKey = key, true
	}
	var res *result
	err := n.withLeader(ctx, func(ctx context.Context) error {
		r, err := n.applyLocal(ctx, c)
		res = r
		return err
	}, func(ctx context.Context, addr string) error {
		r, err := n.forwardApply(ctx, addr, c)
		res = r
		return err
	})
	return res, err
}

// applyLocal appends a command to the log as leader and waits for it to
// be applied here.
func (n *Node) applyLocal(ctx context.Context, c *command) (*result, error) {
	n.stampMu.Lock()
	if n.raft.State() != raft.Leader {
		n.stampMu.Unlock()
		return nil, errNotLeader
	}
	c.ts = unixNano(n.clock())
	f := n.raft.Apply(c.encode(), n.opts.RequestTimeout)
	n.stampMu.Unlock()
	err := n.await(ctx, f)
	switch {
	case err == nil:
		r, ok := f.Response().(*result)
		if !ok {
			return nil, fmt.Errorf("%w: no result for the command", host.ErrInternal)
		}
		return r, nil
	case errors.Is(err, raft.ErrLeadershipLost) && c.hasKey:
		// The command may or may not have been committed: with an
		// idempotency key the store applies it once however often it
		// comes, so ask again.
		return nil, errNotLeader
	case errors.Is(err, raft.ErrLeadershipLost):
		return nil, fmt.Errorf("%w: leadership lost before the write was known to commit; it may or may not have taken effect", server.ErrUnavailable)
	case errors.Is(err, raft.ErrRaftShutdown):
		return nil, host.ErrClosed
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: the write was not known to commit within the request's time (%v); it may or may not have taken effect", server.ErrUnavailable, err)
	}
	return nil, err
}

// readIndex returns the log index a read must see: as leader, the commit
// index, after confirming leadership with a quorum when verify is set.
func (n *Node) readIndexLocal(ctx context.Context, verify bool) (uint64, error) {
	if !n.leaderReady() {
		if n.raft.State() != raft.Leader {
			return 0, errNotLeader
		}
		n.barrierMu.Lock()
		term := n.raft.CurrentTerm()
		if !n.leaderReady() {
			n.barrier(ctx, term)
		}
		n.barrierMu.Unlock()
		if !n.leaderReady() {
			return 0, errNotLeader
		}
	}
	idx := n.raft.CommitIndex()
	if verify {
		if err := n.await(ctx, n.raft.VerifyLeader()); err != nil {
			if errors.Is(err, raft.ErrRaftShutdown) {
				return 0, host.ErrClosed
			}
			if ctx.Err() != nil {
				return 0, unavailable(err)
			}
			return 0, errNotLeader
		}
	}
	return n.fsmIndex(idx), nil
}

// fsmIndex returns the last entry at or before idx that the FSM sees (a
// command or a configuration): raft's no-ops and barriers never reach
// it, and a read waits for the FSM, so it must not wait for those. An
// entry compacted away is covered by a snapshot the FSM restored.
func (n *Node) fsmIndex(idx uint64) uint64 {
	if c := n.fsmIdx.Load(); c != nil && c[0] == idx {
		return c[1] // the answer for this index, read from the log before
	}
	r := n.fsmIndexFromLog(idx)
	n.fsmIdx.Store(&[2]uint64{idx, r})
	return r
}

func (n *Node) fsmIndexFromLog(idx uint64) uint64 {
	var l raft.Log
	for i := idx; i > 0 && idx-i < 1024; i-- {
		if err := n.wal.GetLog(i, &l); err != nil {
			return i
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return 0
}

// readBarrier waits until this node's store may serve a read of the
// consistency ctx asks for (server.ConsistencyFrom).
func (n *Node) readBarrier(ctx context.Context) error {
	c := server.ConsistencyFrom(ctx)
	if c == server.Local {
		if n.closed.Load() {
			return host.ErrClosed
		}
		return nil
	}
	ctx, cancel := n.requestContext(ctx)
	defer cancel()
	idx, err := n.sharedReadIndex(ctx, c != server.Leader)
	if err != nil {
		return err
	}
	if err := n.fsm.waitIndex(ctx, idx); err != nil {
		return unavailable(err)
	}
	return nil
}

func unixNano(t time.Time) int64 {
	const maxSec = (1<<63-1)/1_000_000_000 - 1
	if s := t.Unix(); s > maxSec {
		return 1<<63 - 1
	} else if s < -maxSec {
		return -1 << 63
	}
	return t.UnixNano()
}

// Restore replaces the state of every node with a snapshot stream: the
// stream goes through the log as one command.
func (n *Node) Restore(ctx context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("actorstore: restore: %w", err)
	}
	res, err := n.apply(ctx, &command{kind: cmdRestore, snap: b})
	if err != nil {
		return err
	}
	return res.err
}

// Snapshot writes this node's applied state as a portable snapshot
// stream (after the read barrier ctx's consistency asks for).
func (n *Node) Snapshot(ctx context.Context, w io.Writer) error {
	if err := n.readBarrier(ctx); err != nil {
		return err
	}
	return n.store.Snapshot(ctx, w)
}

// slogWriter passes raft's log lines to the node's logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}
