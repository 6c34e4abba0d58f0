package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The Raft transport is raft's network transport over TCP connections
// that each begin with a handshake: both ends prove they know the
// cluster's token (an HMAC-SHA256 keyed by it over both ends' fresh
// nonces, compared in constant time) and tell each other their node id
// and HTTP URL. A connection that fails the handshake is closed before
// raft sees it. The URLs learnt this way are where a follower forwards
// requests to the leader.
//
//	dialer → acceptor: "ASRT" 1, nonce (16 bytes)
//	acceptor → dialer: nonce (16), HMAC(token, "accept" | dialer's nonce | its nonce), hello
//	dialer → acceptor: HMAC(token, "dial" | acceptor's nonce | dialer's nonce), hello
//	hello: uvarint length + node id, uvarint length + HTTP URL
//	dialer → acceptor: 'R' (raft's RPCs follow) or 'F' (forwarded requests, rpc.go)
var handshakeMagic = [5]byte{'A', 'S', 'R', 'T', 1}

const (
	nonceLen         = 16
	maxHelloField    = 4096
	handshakeTimeout = 5 * time.Second
)

// What a connection is for, its first byte after the handshake.
const (
	purposeRaft = 'R' // raft's own RPCs
	purposeRPC  = 'F' // requests forwarded to the leader (rpc.go)
)

var errHandshake = errors.New("cluster: raft connection refused: bad handshake (wrong token?)")

// peerInfo is what a handshake tells about the other end.
type peerInfo struct {
	id, http string
}

// Faults decides the fate of traffic between two nodes; tests use it to
// drop, delay and partition. Nil means a healthy network.
type Faults interface {
	// Blocked reports whether from cannot reach to now: dials fail and
	// open connections between them break.
	Blocked(from, to string) bool
	// Delay is added before each write from from to to.
	Delay(from, to string) time.Duration
}

// streamLayer is raft.StreamLayer over TCP with the handshake.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	self      peerInfo
	token     []byte
	faults    Faults
	learn     func(peerInfo) // called with each peer a handshake names
	serveRPC  func(net.Conn) // serves a connection for node-to-node requests

	accepted chan net.Conn
	done     chan struct{}
	once     sync.Once
}

func newStreamLayer(ln net.Listener, advertise net.Addr, self peerInfo, token string, faults Faults, learn func(peerInfo)) *streamLayer {
	s := &streamLayer{ln: ln, advertise: advertise, self: self, token: []byte(token), faults: faults, learn: learn,
		accepted: make(chan net.Conn), done: make(chan struct{})}
	if s.advertise == nil {
		s.advertise = ln.Addr()
	}
	go s.acceptLoop()
	return s
}

func (s *streamLayer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.Close()
			return
		}
		go func() {
			c.SetDeadline(time.Now().Add(handshakeTimeout))
			p, err := s.acceptHandshake(c)
			c.SetDeadline(time.Time{})
			if err != nil {
				c.Close()
				return
			}
			s.learn(p)
			fc := s.wrap(c, p.id)
			var purpose [1]byte
			c.SetReadDeadline(time.Now().Add(handshakeTimeout))
			if _, err := io.ReadFull(fc, purpose[:]); err != nil {
				fc.Close()
				return
			}
			c.SetReadDeadline(time.Time{})
			switch purpose[0] {
			case purposeRaft:
			case purposeRPC:
				if s.serveRPC != nil {
					s.serveRPC(fc)
				}
				fc.Close()
				return
			default:
				fc.Close()
				return
			}
			select {
			case s.accepted <- fc:
			case <-s.done:
				c.Close()
			}
		}()
	}
}

// Accept returns the next connection whose handshake succeeded.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.accepted:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

func (s *streamLayer) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.ln.Close()
	})
	return nil
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial opens a Raft connection to a peer.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial(string(addr), timeout, purposeRaft)
}

// dial opens a connection to a peer, runs the handshake and says what the
// connection is for.
func (s *streamLayer) dial(addr string, timeout time.Duration, purpose byte) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	p, err := s.dialHandshake(c)
	c.SetDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, err
	}
	if s.faults != nil && s.faults.Blocked(s.self.id, p.id) {
		c.Close()
		return nil, fmt.Errorf("cluster: %s unreachable (fault injected)", p.id)
	}
	s.learn(p)
	fc := s.wrap(c, p.id)
	if _, err := fc.Write([]byte{purpose}); err != nil {
		fc.Close()
		return nil, err
	}
	return fc, nil
}

func (s *streamLayer) mac(label string, a, b []byte) []byte {
	h := hmac.New(sha256.New, s.token)
	h.Write([]byte(label))
	h.Write(a)
	h.Write(b)
	return h.Sum(nil)
}

func (s *streamLayer) dialHandshake(c net.Conn) (peerInfo, error) {
	var mine [nonceLen]byte
	rand.Read(mine[:])
	if _, err := c.Write(append(handshakeMagic[:], mine[:]...)); err != nil {
		return peerInfo{}, err
	}
	var theirs [nonceLen]byte
	mac := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, theirs[:]); err != nil {
		return peerInfo{}, err
	}
	if _, err := io.ReadFull(c, mac); err != nil {
		return peerInfo{}, err
	}
	if !hmac.Equal(mac, s.mac("accept", mine[:], theirs[:])) {
		return peerInfo{}, errHandshake
	}
	p, err := readHello(c)
	if err != nil {
		return peerInfo{}, err
	}
	out := append(s.mac("dial", theirs[:], mine[:]), s.hello()...)
	if _, err := c.Write(out); err != nil {
		return peerInfo{}, err
	}
	return p, nil
}

func (s *streamLayer) acceptHandshake(c net.Conn) (peerInfo, error) {
	var first [len(handshakeMagic) + nonceLen]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return peerInfo{}, err
	}
	if [5]byte(first[:5]) != handshakeMagic {
		return peerInfo{}, errHandshake
	}
	theirs := first[5:]
	var mine [nonceLen]byte
	rand.Read(mine[:])
	out := append(mine[:], s.mac("accept", theirs, mine[:])...)
	if _, err := c.Write(append(out, s.hello()...)); err != nil {
		return peerInfo{}, err
	}
	mac := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, mac); err != nil {
		return peerInfo{}, err
	}
	if !hmac.Equal(mac, s.mac("dial", mine[:], theirs)) {
		return peerInfo{}, errHandshake
	}
	return readHello(c)
}

func (s *streamLayer) hello() []byte {
	b := binary.AppendUvarint(nil, uint64(len(s.self.id)))
	b = append(b, s.self.id...)
	b = binary.AppendUvarint(b, uint64(len(s.self.http)))
	return append(b, s.self.http...)
}

func readHello(c net.Conn) (peerInfo, error) {
	var f [2]string
	for i := range f {
		n, err := readUvarint(c)
		if err != nil {
			return peerInfo{}, err
		}
		if n > maxHelloField {
			return peerInfo{}, errHandshake
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			return peerInfo{}, err
		}
		f[i] = string(b)
	}
	return peerInfo{id: f[0], http: f[1]}, nil
}

func readUvarint(c net.Conn) (uint64, error) {
	var b [1]byte
	var x uint64
	for i := range binary.MaxVarintLen64 {
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return 0, err
		}
		x |= uint64(b[0]&0x7f) << (7 * i)
		if b[0] < 0x80 {
			return x, nil
		}
	}
	return 0, errHandshake
}

// wrap adds fault injection to a connection to peer when faults are set.
func (s *streamLayer) wrap(c net.Conn, peer string) net.Conn {
	if s.faults == nil {
		return c
	}
	return &faultyConn{Conn: c, s: s, peer: peer}
}

// faultyConn breaks when its two ends are partitioned, and delays writes.
type faultyConn struct {
	net.Conn
	s    *streamLayer
	peer string
}

var errPartitioned = errors.New("cluster: connection cut (fault injected)")

func (f *faultyConn) check() error {
	if f.s.faults.Blocked(f.s.self.id, f.peer) || f.s.faults.Blocked(f.peer, f.s.self.id) {
		f.Conn.Close()
		return errPartitioned
	}
	return nil
}

func (f *faultyConn) Write(p []byte) (int, error) {
	if d := f.s.faults.Delay(f.s.self.id, f.peer); d > 0 {
		time.Sleep(d)
	}
	if err := f.check(); err != nil {
		return 0, err
	}
	return f.Conn.Write(p)
}

func (f *faultyConn) Read(p []byte) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	n, err := f.Conn.Read(p)
	if err == nil {
		if cerr := f.check(); cerr != nil {
			return 0, cerr
		}
	}
	return n, err
}
