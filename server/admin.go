package server

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"strconv"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

// Cluster is implemented by a store that is a member of a replicated
// cluster (package cluster); the server then answers /v1/status,
// /readyz and /v1/cluster/* from it. A store that is not answers status
// as the leader of a one-member cluster, and cluster routes with 501
// NOT_IMPLEMENTED.
type Cluster interface {
	// Status reports this node and the members it knows.
	Status(ctx context.Context) (Status, error)
	// Ready returns nil once the node has a leader and has applied its
	// log; an error (ErrUnavailable) before.
	Ready(ctx context.Context) error
	// AddMember adds (or updates) a member.
	AddMember(ctx context.Context, m Member) error
	// RemoveMember removes a member.
	RemoveMember(ctx context.Context, id string) error
	// TransferLeadership hands leadership to the member id, or to any
	// when id is empty.
	TransferLeadership(ctx context.Context, id string) error
}

// Status is what GET /v1/status answers.
type Status struct {
	NodeID string
	// Role is "leader", "follower", "candidate" or "learner".
	Role         string
	Leader       Peer
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	// Sequence is the store's current sequence number on this node.
	Sequence uint64
	Members  []Member
}

// Peer names a node and its HTTP URL.
type Peer struct {
	ID   string
	HTTP string
}

// Member is a cluster member.
type Member struct {
	ID    string `cbor:"id"`
	Raft  string `cbor:"raft"`
	HTTP  string `cbor:"http"`
	Voter bool   `cbor:"voter"`
}

func (s *Server) stats(r *request) error {
	if err := noQuery(r, "consistency"); err != nil {
		return err
	}
	ctx, err := readContext(r)
	if err != nil {
		return err
	}
	st, err := s.store.Stats(ctx)
	if err != nil {
		return err
	}
	return r.respond(http.StatusOK, r.enc().stats(&st))
}

func (e *enc) stats(st *host.Stats) *enc {
	return e.object(11).
		key("totalEvents").uint(st.TotalEvents).
		key("currentSequence").uint(st.CurrentSequence).
		key("replayBufferSize").int(st.ReplayBufferSize).
		key("activeSubscriptions").int(st.ActiveSubscriptions).
		key("eventsDropped").uint(st.EventsDropped).
		key("oldestSequence").uint(st.OldestSequence).
		key("replayBufferBytes").uint(st.ReplayBufferBytes).
		key("actors").uint(st.Actors).
		key("dataBytes").uint(st.DataBytes).
		key("idempotencyKeys").uint(st.IdempotencyKeys).
		key("idempotencyBytes").uint(st.IdempotencyBytes).end()
}

func (s *Server) status(r *request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	st, err := s.nodeStatus(r)
	if err != nil {
		return err
	}
	return r.respond(http.StatusOK, r.enc().status(&st))
}

// nodeStatus is the cluster's status, or for a store on its own that of
// a one-member cluster it leads: no terms or log indices, its sequence.
func (s *Server) nodeStatus(r *request) (Status, error) {
	if c, ok := s.store.(Cluster); ok {
		return c.Status(r.Context())
	}
	st, err := s.store.Stats(r.Context())
	if err != nil {
		return Status{}, err
	}
	self := s.opts.AdvertiseHTTP
	if self == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		self = scheme + "://" + r.Host
	}
	return Status{NodeID: s.opts.NodeID, Role: "leader", Leader: Peer{ID: s.opts.NodeID, HTTP: self},
		Sequence: st.CurrentSequence, Members: []Member{{ID: s.opts.NodeID, HTTP: self, Voter: true}}}, nil
}

func (e *enc) status(st *Status) *enc {
	e.object(8).key("nodeId").str(st.NodeID).key("role").str(st.Role).
		key("leader").object(2).key("id").str(st.Leader.ID).key("http").str(st.Leader.HTTP).end().
		key("term").uint(st.Term).key("commitIndex").uint(st.CommitIndex).
		key("appliedIndex").uint(st.AppliedIndex).key("sequence").uint(st.Sequence).
		key("members").array(len(st.Members))
	for _, m := range st.Members {
		e.object(4).key("id").str(m.ID).key("raft").str(m.Raft).key("http").str(m.HTTP).key("voter").bool(m.Voter).end()
	}
	return e.end().end()
}

func (s *Server) readyz(r *request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if c, ok := s.store.(Cluster); ok {
		if err := c.Ready(r.Context()); err != nil {
			return err
		}
	} else if _, err := s.store.Stats(r.Context()); err != nil {
		return err
	}
	return r.respond(http.StatusOK, r.enc().object(1).key("ready").bool(true).end())
}

func (s *Server) cluster(r *request) (Cluster, error) {
	if err := noQuery(r); err != nil {
		return nil, err
	}
	c, ok := s.store.(Cluster)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, codeNotImplemented, "this server serves a single store, not a cluster member: it has no membership or leadership to change")
	}
	return c, nil
}

// readObject reads a small JSON or CBOR request object into v, strictly
// (no unknown or repeated keys).
func (s *Server) readObject(r *request, v any) error {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	if !isCBORBody(r.Request) {
		if body, err = cborjson.FromJSON(body); err != nil {
			return errorf(http.StatusBadRequest, codeInvalidArgument, "malformed JSON body: %v", err)
		}
	}
	if err := batchDec.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, codeInvalidArgument, "malformed body: %v", err)
	}
	return nil
}

func (s *Server) addMember(r *request) error {
	c, err := s.cluster(r)
	if err != nil {
		return err
	}
	var m Member
	if err := s.readObject(r, &m); err != nil {
		return err
	}
	if m.ID == "" || m.Raft == "" {
		return errorf(http.StatusBadRequest, codeInvalidArgument, `a member needs "id" and "raft"`)
	}
	if err := c.AddMember(r.Context(), m); err != nil {
		return err
	}
	return s.status(r)
}

func (s *Server) removeMember(r *request) error {
	c, err := s.cluster(r)
	if err != nil {
		return err
	}
	if err := c.RemoveMember(r.Context(), r.params[0]); err != nil {
		return err
	}
	return s.status(r)
}

func (s *Server) transferLeader(r *request) error {
	c, err := s.cluster(r)
	if err != nil {
		return err
	}
	var body struct {
		ID string `cbor:"id"`
	}
	if r.ContentLength != 0 {
		if err := s.readObject(r, &body); err != nil {
			return err
		}
	}
	if err := c.TransferLeadership(r.Context(), body.ID); err != nil {
		return err
	}
	return s.status(r)
}

// snapshot streams the store's portable snapshot. A failure after the
// stream began cuts the connection, so that a client never takes a
// truncated stream for a whole one (the stream is checked to its end on
// restore, too).
func (s *Server) snapshot(r *request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	sn, ok := s.store.(interface {
		Snapshot(context.Context, io.Writer) error
	})
	if !ok {
		return errorf(http.StatusNotImplemented, codeNotImplemented, "this store does not stream snapshots")
	}
	r.w.Header().Set("Content-Type", "application/octet-stream")
	r.w.Header().Set("Content-Disposition", `attachment; filename="actorstore.snapshot"`)
	r.w.Header().Set("Cache-Control", "no-store")
	w := &sequenceWriter{w: r.w}
	if err := sn.Snapshot(r.Context(), w); err != nil {
		return err
	}
	return w.flush()
}

// SequenceHeader names the sequence number a snapshot stands at (the
// store's current sequence when it was taken) on GET /v1/snapshot: a
// replica restores the stream, then watches from that sequence + 1.
const SequenceHeader = "Actor-Store-Sequence"

// Where a snapshot stream's sequence lies: the magic and version, a frame
// header, the meta frame's kind byte, then the sequence as a uvarint.
const (
	snapshotMagic     = "ACTORSNP"
	snapshotSeqOffset = len(snapshotMagic) + 4 + 8 + 1
	snapshotMetaKind  = 1
)

// sequenceWriter holds back the start of a snapshot stream until it has
// read the sequence from the meta frame, sets SequenceHeader, then passes
// everything on. A stream it cannot read a sequence from is passed on
// without the header.
type sequenceWriter struct {
	w    http.ResponseWriter
	head []byte // held back; nil once passing through
	done bool
}

func (s *sequenceWriter) Write(p []byte) (int, error) {
	if s.done {
		return s.w.Write(p)
	}
	s.head = append(s.head, p...)
	seq, ok, complete := snapshotSequence(s.head)
	if !complete {
		return len(p), nil
	}
	if ok {
		s.w.Header().Set(SequenceHeader, strconv.FormatUint(seq, 10))
	}
	if err := s.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush passes on what is held back.
func (s *sequenceWriter) flush() error {
	if s.done {
		return nil
	}
	s.done = true
	head := s.head
	s.head = nil
	if len(head) == 0 {
		return nil
	}
	_, err := s.w.Write(head)
	return err
}

// snapshotSequence reads the sequence of a snapshot stream's meta frame
// from its first bytes b: complete is false while more bytes are needed,
// ok false when b is not the start of a snapshot stream.
func snapshotSequence(b []byte) (seq uint64, ok, complete bool) {
	n := min(len(b), snapshotSeqOffset)
	if string(b[:min(n, len(snapshotMagic))]) != snapshotMagic[:min(n, len(snapshotMagic))] ||
		(n == snapshotSeqOffset && b[n-1] != snapshotMetaKind) {
		return 0, false, true
	}
	if len(b) <= snapshotSeqOffset {
		return 0, false, false
	}
	seq, k := binary.Uvarint(b[snapshotSeqOffset:])
	if k == 0 {
		return 0, false, len(b) >= snapshotSeqOffset+binary.MaxVarintLen64
	}
	return seq, k > 0, true
}

// restore replaces the store's state with the snapshot stream in the
// body, read to its end and checked before anything changes, and answers
// the store's new stats.
func (s *Server) restore(r *request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	rs, ok := s.store.(interface {
		Restore(context.Context, io.Reader) error
	})
	if !ok {
		return errorf(http.StatusNotImplemented, codeNotImplemented, "this store does not restore snapshots")
	}
	if err := rs.Restore(r.Context(), r.Body); err != nil {
		return err
	}
	st, err := s.store.Stats(r.Context())
	if err != nil {
		return err
	}
	return r.respond(http.StatusOK, r.enc().stats(&st))
}
