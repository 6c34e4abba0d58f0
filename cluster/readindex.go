package cluster

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/actorstore/actorstore/host"
)

// Reads share read indices. A linearizable read needs an index obtained
// after it began: the leader's commit index, confirmed by a quorum round
// (VerifyLeader), or, on a follower, that answer fetched from the leader.
// Concurrent reads coalesce: a read joins the round that has not started
// yet (so the index it gets was obtained after it arrived), one round
// runs at a time, and every read of a round gets its index — one quorum
// round or one request to the leader however many reads wait. A leader
// read on the leader needs neither: it takes the commit index at once.
type readRounds struct {
	mu      sync.Mutex
	next    *readRound // the round not started yet; nil when none waits
	running bool       // a goroutine runs rounds
}

type readRound struct {
	done chan struct{}
	idx  uint64
	err  error
}

// sharedReadIndex returns a read index obtained after the call began,
// with a quorum round when verify is set.
func (n *Node) sharedReadIndex(ctx context.Context, verify bool) (uint64, error) {
	if !verify && n.raft.State() == raft.Leader {
		// The leader's own commit index: nothing to share.
		if idx, err := n.readIndexLocal(ctx, false); err == nil {
			return idx, nil
		}
	}
	rr := &n.rounds[0]
	if verify {
		rr = &n.rounds[1]
	}
	rr.mu.Lock()
	r := rr.next
	if r == nil {
		r = &readRound{done: make(chan struct{})}
		rr.next = r
	}
	if !rr.running {
		rr.running = true
		go n.runReadRounds(rr, verify)
	}
	rr.mu.Unlock()
	select {
	case <-r.done:
		return r.idx, r.err
	case <-ctx.Done():
		return 0, unavailable(ctx.Err())
	case <-n.done:
		return 0, host.ErrClosed
	}
}

// runReadRounds runs rounds while reads wait for one.
func (n *Node) runReadRounds(rr *readRounds, verify bool) {
	for {
		rr.mu.Lock()
		r := rr.next
		rr.next = nil
		if r == nil {
			rr.running = false
			rr.mu.Unlock()
			return
		}
		rr.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
		r.idx, r.err = n.readIndex(ctx, verify)
		cancel()
		close(r.done)
	}
}

// readIndex obtains a read index: as leader, or from the leader.
func (n *Node) readIndex(ctx context.Context, verify bool) (uint64, error) {
	var idx uint64
	err := n.withLeader(ctx, func(ctx context.Context) error {
		i, err := n.readIndexLocal(ctx, verify)
		idx = i
		return err
	}, func(ctx context.Context, addr string) error {
		i, err := n.forwardReadIndex(ctx, addr, verify)
		idx = i
		return err
	})
	return idx, err
}
