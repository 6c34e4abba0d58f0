package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/hashicorp/raft"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// Requests a follower forwards to the leader go over the Raft port, on
// connections that passed the handshake (transport.go), as frames:
//
//	request:  byte kind, uvarint length, payload
//	response: uvarint length, payload; payload[0] is 0 for success, 1 for
//	          an error (then a CBOR rpcError)
//
// Kinds: 'W' apply a command (payload: the command; the leader stamps
// it), answered with a CBOR rpcResult; 'I' a read index (payload: 1 to
// verify leadership with a quorum, 0 not), answered with a uvarint; 'M'
// add a member (CBOR server.Member); 'D' remove a member (its id); 'T'
// transfer leadership (an id, or empty).
const (
	rpcApply     = 'W'
	rpcReadIndex = 'I'
	rpcAddMember = 'M'
	rpcRemove    = 'D'
	rpcTransfer  = 'T'

	maxFrame = 256 << 20
)

// errConn is a failure to reach the leader: the request may be retried
// (a write's outcome is then unknown unless it carries an idempotency
// key, which is why the forwarding of writes retries only those).
var errConn = errors.New("cluster: leader unreachable")

type rpcActor struct {
	Type    string `cbor:"1,keyasint"`
	ID      string `cbor:"2,keyasint"`
	Version uint64 `cbor:"3,keyasint"`
	// Value is the value's CBOR as a byte string, so that the answer's
	// decoding leaves it byte for byte as stored (however deep, whatever
	// its tags); absent for a zero Actor.
	Value []byte `cbor:"4,keyasint,omitempty"`
}

type rpcResult struct {
	Actor   rpcActor   `cbor:"1,keyasint"`
	Found   bool       `cbor:"2,keyasint"`
	Batch   []rpcActor `cbor:"3,keyasint"`
	BFound  []bool     `cbor:"4,keyasint"`
	IsBatch bool       `cbor:"5,keyasint"`
	Err     *rpcError  `cbor:"6,keyasint"`
}

// rpcError carries a store error to the follower, which rebuilds host's
// error values from it.
type rpcError struct {
	Code      int    `cbor:"1,keyasint"`
	Message   string `cbor:"2,keyasint"`
	Expected  uint64 `cbor:"3,keyasint"`
	Actual    uint64 `cbor:"4,keyasint"`
	Requested uint64 `cbor:"5,keyasint"`
	Oldest    uint64 `cbor:"6,keyasint"`
	Index     int    `cbor:"7,keyasint"`
}

// Codes of rpcError, the sentinel each stands for.
var rpcSentinels = []error{
	nil, host.ErrInvalidKey, host.ErrInvalidValue, host.ErrValueTooLarge, host.ErrInvalidArgument,
	host.ErrAlreadyExists, host.ErrNotFound, host.ErrVersionMismatch, host.ErrStoreFull, host.ErrCompacted,
	host.ErrRestored, host.ErrClosed, host.ErrInternal, server.ErrUnavailable, errNotLeader,
}

func toRPCError(err error) *rpcError {
	if err == nil {
		return nil
	}
	e := &rpcError{Message: err.Error(), Index: -1}
	var be *host.BatchError
	if errors.As(err, &be) {
		e.Index = be.Index
	}
	var vm *host.VersionMismatchError
	if errors.As(err, &vm) {
		e.Expected, e.Actual = vm.Expected, vm.Actual
	}
	var ce *host.CompactedError
	if errors.As(err, &ce) {
		e.Requested, e.Oldest = ce.Requested, ce.Oldest
	}
	for i, s := range rpcSentinels {
		if s != nil && errors.Is(err, s) {
			e.Code = i
			break
		}
	}
	return e
}

// remoteError is a store error answered by the leader: its message, and
// the host error value it matches.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

func (e *rpcError) toError() error {
	var inner error
	switch {
	case e.Code == 7:
		inner = &host.VersionMismatchError{Expected: e.Expected, Actual: e.Actual}
	case e.Code == 9:
		inner = &host.CompactedError{Requested: e.Requested, Oldest: e.Oldest}
	case e.Code > 0 && e.Code < len(rpcSentinels):
		inner = rpcSentinels[e.Code]
	default:
		inner = host.ErrInternal
	}
	var err error = &remoteError{msg: e.Message, err: inner}
	if e.Index >= 0 {
		err = &host.BatchError{Index: e.Index, Err: err}
	}
	return err
}

func toRPCActor(a host.Actor) rpcActor {
	return rpcActor{Type: a.Type, ID: a.ID, Version: a.Version, Value: a.Value}
}

func (a rpcActor) actor() host.Actor {
	return host.Actor{Type: a.Type, ID: a.ID, Version: a.Version, Value: cbor.RawMessage(a.Value)}
}

// serveRPC answers a follower's requests on one connection until it
// closes.
func (n *Node) serveRPC(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		kind, err := br.ReadByte()
		if err != nil {
			return
		}
		l, err := binary.ReadUvarint(br)
		if err != nil || l > maxFrame {
			return
		}
		p := make([]byte, l)
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		resp := n.handleRPC(kind, p)
		out := binary.AppendUvarint(nil, uint64(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

func rpcFail(err error) []byte {
	b, _ := cbor.Marshal(toRPCError(err))
	return append([]byte{1}, b...)
}

func rpcOK(b []byte) []byte { return append([]byte{0}, b...) }

func (n *Node) handleRPC(kind byte, p []byte) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
	defer cancel()
	leaderOnly := func() error {
		if n.raft.State() != raft.Leader {
			return errNotLeader
		}
		return nil
	}
	switch kind {
	case rpcApply:
		c, err := decodeCommand(p)
		if err != nil {
			return rpcFail(fmt.Errorf("%w: %v", host.ErrInvalidArgument, err))
		}
		r, err := n.applyLocal(ctx, c)
		if err != nil {
			return rpcFail(err)
		}
		out := rpcResult{Actor: toRPCActor(r.actor), Found: r.found, IsBatch: r.batch != nil, Err: toRPCError(r.err)}
		for _, br := range r.batch {
			out.Batch = append(out.Batch, toRPCActor(br.Actor))
			out.BFound = append(out.BFound, br.Found)
		}
		b, err := cbor.Marshal(&out)
		if err != nil {
			return rpcFail(err)
		}
		return rpcOK(b)
	case rpcReadIndex:
		if len(p) != 1 {
			return rpcFail(host.ErrInvalidArgument)
		}
		idx, err := n.readIndexLocal(ctx, p[0] == 1)
		if err != nil {
			return rpcFail(err)
		}
		return rpcOK(binary.AppendUvarint(nil, idx))
	case rpcAddMember:
		var m server.Member
		if err := cbor.Unmarshal(p, &m); err != nil {
			return rpcFail(fmt.Errorf("%w: %v", host.ErrInvalidArgument, err))
		}
		if err := leaderOnly(); err != nil {
			return rpcFail(err)
		}
		return rpcStatus(n.addMemberLocal(ctx, m))
	case rpcRemove:
		if err := leaderOnly(); err != nil {
			return rpcFail(err)
		}
		return rpcStatus(n.removeMemberLocal(ctx, string(p)))
	case rpcTransfer:
		if err := leaderOnly(); err != nil {
			return rpcFail(err)
		}
		return rpcStatus(n.transferLocal(ctx, string(p)))
	}
	return rpcFail(fmt.Errorf("%w: unknown request %q", host.ErrInvalidArgument, kind))
}

func rpcStatus(err error) []byte {
	if err != nil {
		return rpcFail(err)
	}
	return rpcOK(nil)
}

// connPool keeps open RPC connections per leader address.
type connPool struct {
	s     *streamLayer
	mu    sync.Mutex
	idle  map[string][]net.Conn
	close bool
}

func (p *connPool) get(addr string, timeout time.Duration) (net.Conn, error) {
	p.mu.Lock()
	if cs := p.idle[addr]; len(cs) > 0 {
		c := cs[len(cs)-1]
		p.idle[addr] = cs[:len(cs)-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return p.s.dial(addr, timeout, purposeRPC)
}

func (p *connPool) put(addr string, c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.close || len(p.idle[addr]) >= 64 {
		c.Close()
		return
	}
	if p.idle == nil {
		p.idle = map[string][]net.Conn{}
	}
	p.idle[addr] = append(p.idle[addr], c)
}

func (p *connPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.close = true
	for _, cs := range p.idle {
		for _, c := range cs {
			c.Close()
		}
	}
	p.idle = nil
}

// call sends one request to the leader at addr and returns the success
// payload, or the error it answered, or errConn when it could not be
// reached or answered in time.
func (n *Node) call(ctx context.Context, addr string, kind byte, payload []byte) ([]byte, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(n.opts.RequestTimeout)
	}
	c, err := n.pool.get(addr, time.Until(dl))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errConn, err)
	}
	c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	req := append([]byte{kind}, binary.AppendUvarint(nil, uint64(len(payload)))...)
	resp, err := roundTrip(c, append(req, payload...))
	stopped := stop()
	if err != nil || !stopped {
		c.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", errConn, err)
	}
	c.SetDeadline(time.Time{})
	n.pool.put(addr, c)
	if len(resp) == 0 {
		return nil, fmt.Errorf("%w: empty answer", errConn)
	}
	if resp[0] == 0 {
		return resp[1:], nil
	}
	var e rpcError
	if err := cbor.Unmarshal(resp[1:], &e); err != nil {
		return nil, fmt.Errorf("%w: malformed answer: %v", errConn, err)
	}
	if e.Code == 14 {
		return nil, errNotLeader
	}
	return nil, e.toError()
}

func roundTrip(c net.Conn, req []byte) ([]byte, error) {
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	var lb [binary.MaxVarintLen64]byte
	var l uint64
	for i := 0; ; i++ {
		if i == len(lb) {
			return nil, errors.New("bad frame length")
		}
		if _, err := io.ReadFull(c, lb[i:i+1]); err != nil {
			return nil, err
		}
		if lb[i] < 0x80 {
			v, _ := binary.Uvarint(lb[:i+1])
			l = v
			break
		}
	}
	if l > maxFrame {
		return nil, errors.New("frame too large")
	}
	resp := make([]byte, l)
	_, err := io.ReadFull(c, resp)
	return resp, err
}

func (n *Node) forwardApply(ctx context.Context, addr string, c *command) (*result, error) {
	b, err := n.call(ctx, addr, rpcApply, c.encode())
	if errors.Is(err, errConn) && !c.hasKey {
		// The write may have reached the leader: without an idempotency
		// key it must not be sent again.
		return nil, fmt.Errorf("%w: the leader could not be reached or did not answer; the write may or may not have taken effect", server.ErrUnavailable)
	}
	if err != nil {
		return nil, err
	}
	var out rpcResult
	if err := cbor.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: malformed answer from the leader: %v", host.ErrInternal, err)
	}
	r := &result{actor: out.Actor.actor(), found: out.Found}
	if out.IsBatch {
		r.batch = make([]host.BatchResult, len(out.Batch))
		for i := range out.Batch {
			r.batch[i] = host.BatchResult{Actor: out.Batch[i].actor(), Found: i < len(out.BFound) && out.BFound[i]}
		}
	}
	if out.Err != nil {
		r.err = out.Err.toError()
	}
	return r, nil
}

func (n *Node) forwardReadIndex(ctx context.Context, addr string, verify bool) (uint64, error) {
	v := byte(0)
	if verify {
		v = 1
	}
	b, err := n.call(ctx, addr, rpcReadIndex, []byte{v})
	if err != nil {
		return 0, err
	}
	idx, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, fmt.Errorf("%w: malformed read index", errConn)
	}
	return idx, nil
}
