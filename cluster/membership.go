package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/hashicorp/raft"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// AddMember adds a member (a voter, or a learner when m.Voter is false),
// or changes its address or suffrage; on a follower it asks the leader.
func (n *Node) AddMember(ctx context.Context, m server.Member) error {
	if m.ID == "" || m.Raft == "" {
		return fmt.Errorf("%w: a member needs an id and a raft address", host.ErrInvalidArgument)
	}
	if m.HTTP != "" {
		n.peers.Store(m.ID, m.HTTP)
	}
	b, err := cbor.Marshal(m)
	if err != nil {
		return err
	}
	return n.withLeader(ctx, func(ctx context.Context) error { return n.addMemberLocal(ctx, m) },
		func(ctx context.Context, addr string) error { _, err := n.call(ctx, addr, rpcAddMember, b); return err })
}

func (n *Node) addMemberLocal(ctx context.Context, m server.Member) error {
	if m.HTTP != "" {
		n.peers.Store(m.ID, m.HTTP)
	}
	var f raft.IndexFuture
	if m.Voter {
		f = n.raft.AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.Raft), 0, n.opts.RequestTimeout)
	} else {
		f = n.raft.AddNonvoter(raft.ServerID(m.ID), raft.ServerAddress(m.Raft), 0, n.opts.RequestTimeout)
	}
	if err := n.await(ctx, f); err != nil {
		return membershipError(err)
	}
	n.log.Info("member added", "member", m.ID, "raft", m.Raft, "voter", m.Voter)
	return nil
}

// RemoveMember removes a member; on a follower it asks the leader.
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("%w: no member id", host.ErrInvalidArgument)
	}
	return n.withLeader(ctx, func(ctx context.Context) error { return n.removeMemberLocal(ctx, id) },
		func(ctx context.Context, addr string) error {
			_, err := n.call(ctx, addr, rpcRemove, []byte(id))
			return err
		})
}

func (n *Node) removeMemberLocal(ctx context.Context, id string) error {
	if !n.isMember(id) {
		return fmt.Errorf("%w: no member %q", host.ErrNotFound, id)
	}
	if err := n.await(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, n.opts.RequestTimeout)); err != nil {
		return membershipError(err)
	}
	n.log.Info("member removed", "member", id)
	return nil
}

// TransferLeadership hands leadership to member id, or to the most
// up-to-date voter when id is empty; on a follower it asks the leader.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	return n.withLeader(ctx, func(ctx context.Context) error { return n.transferLocal(ctx, id) },
		func(ctx context.Context, addr string) error {
			_, err := n.call(ctx, addr, rpcTransfer, []byte(id))
			return err
		})
}

func (n *Node) transferLocal(ctx context.Context, id string) error {
	var f raft.Future
	if id == "" {
		f = n.raft.LeadershipTransfer()
	} else {
		if id == n.id {
			return nil
		}
		addr, ok := n.memberAddr(id)
		if !ok {
			return fmt.Errorf("%w: no member %q", host.ErrNotFound, id)
		}
		f = n.raft.LeadershipTransferToServer(raft.ServerID(id), addr)
	}
	if err := n.await(ctx, f); err != nil {
		return membershipError(err)
	}
	return nil
}

func membershipError(err error) error {
	if errors.Is(err, raft.ErrRaftShutdown) {
		return host.ErrClosed
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return unavailable(err)
	}
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return errNotLeader
	}
	if errors.Is(err, raft.ErrLeadershipTransferInProgress) || errors.Is(err, raft.ErrEnqueueTimeout) {
		return fmt.Errorf("%w: %v", server.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %v", host.ErrInvalidArgument, err)
}

func (n *Node) configuration() []raft.Server {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	return f.Configuration().Servers
}

func (n *Node) isMember(id string) bool {
	_, ok := n.memberAddr(id)
	return ok
}

func (n *Node) memberAddr(id string) (raft.ServerAddress, bool) {
	for _, s := range n.configuration() {
		if string(s.ID) == id {
			return s.Address, true
		}
	}
	return "", false
}

func (n *Node) peerHTTP(id string) string {
	if v, ok := n.peers.Load(id); ok {
		return v.(string)
	}
	return ""
}

// Status reports this node's role, the leader, Raft's indices and the
// members.
func (n *Node) Status(ctx context.Context) (server.Status, error) {
	if n.closed.Load() {
		return server.Status{}, host.ErrClosed
	}
	st := server.Status{NodeID: n.id, CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.raft.AppliedIndex()}
	switch n.raft.State() {
	case raft.Leader:
		st.Role = "leader"
	case raft.Candidate:
		st.Role = "candidate"
	default:
		st.Role = "follower"
	}
	if t, err := strconv.ParseUint(n.raft.Stats()["term"], 10, 64); err == nil {
		st.Term = t
	}
	if _, id := n.raft.LeaderWithID(); id != "" {
		st.Leader = server.Peer{ID: string(id), HTTP: n.peerHTTP(string(id))}
	}
	for _, s := range n.configuration() {
		m := server.Member{ID: string(s.ID), Raft: string(s.Address), HTTP: n.peerHTTP(string(s.ID)), Voter: s.Suffrage == raft.Voter}
		if m.ID == n.id && !m.Voter && st.Role == "follower" {
			st.Role = "learner"
		}
		st.Members = append(st.Members, m)
	}
	s, err := n.store.Stats(ctx)
	if err != nil {
		return server.Status{}, err
	}
	st.Sequence = s.CurrentSequence
	return st, nil
}

// Ready returns nil once the node knows a leader and has applied what
// was committed.
func (n *Node) Ready(ctx context.Context) error {
	if n.closed.Load() {
		return host.ErrClosed
	}
	if addr, _ := n.raft.LeaderWithID(); addr == "" {
		return fmt.Errorf("%w: no leader", server.ErrUnavailable)
	}
	if n.raft.AppliedIndex() < n.raft.CommitIndex() {
		return fmt.Errorf("%w: applying the log (%d of %d)", server.ErrUnavailable, n.raft.AppliedIndex(), n.raft.CommitIndex())
	}
	return nil
}

// join asks the members at Options.Join, in turn and again until ctx
// ends, to add this node.
func (n *Node) join(ctx context.Context) error {
	body, _ := json.Marshal(map[string]any{"id": n.id, "raft": n.RaftAddr(), "http": n.opts.HTTP, "voter": !n.opts.NonVoter})
	ctx, cancel := n.requestContext(ctx)
	defer cancel()
	var last error
	for {
		for _, u := range n.opts.Join {
			err := n.joinOne(ctx, u, body)
			if err == nil {
				n.log.Info("joined the cluster", "via", u)
				return n.waitMember(ctx)
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: join through %s: %w", strings.Join(n.opts.Join, ", "), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitMember waits until this node has the configuration that names it:
// the leader has reached it, and it knows the members.
func (n *Node) waitMember(ctx context.Context) error {
	for !n.isMember(n.id) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: added to the cluster, but the leader did not reach this node: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func (n *Node) joinOne(ctx context.Context, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(u, "/")+"/v1/cluster/members", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if n.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+n.opts.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// readdress runs when a member restarts: if the configuration holds
// another Raft address for it than the one it now listens on (a restart
// with a different --raft), it tells the leader its new address. Until it
// does, the leader goes on sending to the old address and this node never
// hears from it, so it asks every member it knows, in turn (only the
// leader accepts), and again with backoff until one does or the node
// closes.
func (n *Node) readdress() {
	defer n.wg.Done()
	self := raft.ServerAddress(n.RaftAddr())
	var members []raft.Server
	m := server.Member{ID: n.id, Raft: string(self), HTTP: n.opts.HTTP}
	found := false
	for _, s := range n.configuration() {
		if string(s.ID) != n.id {
			members = append(members, s)
			continue
		}
		if s.Address == self {
			return
		}
		n.log.Info("this member's Raft address changed: telling the leader", "was", string(s.Address), "now", string(self))
		m.Voter, found = s.Suffrage == raft.Voter, true
	}
	if !found {
		return // removed while it was down: nothing to correct
	}
	b, err := cbor.Marshal(m)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		if n.raft.State() == raft.Leader {
			if err = n.addMemberLocal(ctx, m); err == nil {
				return
			}
		}
		for _, s := range members {
			rctx, rcancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
			_, err = n.call(rctx, string(s.Address), rpcAddMember, b)
			rcancel()
			if err == nil {
				n.log.Info("the leader has this member's new Raft address", "via", string(s.ID))
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
