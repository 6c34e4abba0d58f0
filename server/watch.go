package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/actorstore/actorstore/host"
)

// Close codes a watch ends with, besides 4000 + an error's HTTP status.
const (
	// CloseCompacted ends a watcher that fell out of the replay buffer
	// (4000 + 410 Gone); the reason reads "COMPACTED: requested N, oldest M".
	CloseCompacted = 4410
	// CloseGoingAway ends watchers when the server shuts down.
	CloseGoingAway = int(websocket.StatusGoingAway)
)

// A watch sends the events it has at hand together: in batch mode as one
// message, otherwise as one message each through a single write to the
// socket. Either way it never waits for more events than it has, and
// stops at watchRoundEvents events or once watchRoundBytes bytes are
// encoded (one larger event goes alone).
const (
	watchRoundEvents = 1000
	watchRoundBytes  = 1 << 20
)

// doneCtx is a context that is already done: Next given it returns an
// event the subscription holds, or an error, and never waits.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// parseBatch reads a watch's batch parameter.
func parseBatch(v string) (bool, error) {
	switch v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, errorf(http.StatusBadRequest, codeInvalidArgument, "batch must be 1 or 0; got %q", v)
}

// parseFrom reads a watch's start position: beginning (the default), now,
// a sequence number, or an RFC 3339 time.
func parseFrom(v string) (host.StartPosition, error) {
	switch v {
	case "", "beginning":
		return host.FromBeginning(), nil
	case "now":
		return host.FromNow(), nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return host.FromSequence(n), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return host.FromTime(t), nil
	}
	return host.StartPosition{}, errorf(http.StatusBadRequest, codeInvalidArgument, "from must be beginning, now, a sequence number or an RFC 3339 time; got %q", v)
}

// isWebSocket reports whether the request asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// watch streams the change feed over a WebSocket, one event per message
// or, with batch=1, an array of consecutive events per message.
// The subscription is made before the upgrade is answered, so that a
// client whose dial returned sees every event from its start position.
// Errors after the upgrade (bad parameters included, so that pages see
// them) end the connection with close code 4000 + the HTTP status and
// the reason "CODE: message".
//
// Each watcher reads the feed through its own subscription, which holds
// no events: a slow watcher never holds writers or other watchers back.
// One that falls out of the replay buffer gets CloseCompacted once it has
// been sent every event it could still get, and resumes from the last
// sequence it saw + 1 (or re-reads the state).
func (s *Server) watch(r *request) error {
	if !isWebSocket(r.Request) {
		r.w.Header().Set("Upgrade", "websocket")
		return errorf(http.StatusBadRequest, codeInvalidArgument, "GET /v1/watch is a WebSocket endpoint: send a WebSocket upgrade")
	}
	if !s.addWatcher() {
		return errShutdown
	}
	defer s.watchers.Done()
	s.metrics.watchers.Inc()
	defer s.metrics.watchers.Dec()

	var opts host.SubscriptionOptions
	cbor, batch := false, false
	var sub host.Subscription
	q, err := query(r, "from", "type", "prefix", "format", "batch")
	if err == nil {
		opts.Start, err = parseFrom(q.Get("from"))
	}
	if err == nil {
		opts.Filter = host.Filter{ActorType: q.Get("type"), KeyPrefix: q.Get("prefix")}
		switch q.Get("format") {
		case "", "json":
		case "cbor":
			cbor = true
		default:
			err = errorf(http.StatusBadRequest, codeInvalidArgument, "format must be json or cbor; got %q", q.Get("format"))
		}
	}
	if err == nil {
		batch, err = parseBatch(q.Get("batch"))
	}
	if err == nil {
		sub, err = s.store.Subscribe(r.Context(), opts)
	}
	if sub != nil {
		defer sub.Close()
	}
	hj := &corkHijacker{ResponseWriter: r.w}
	conn, aerr := websocket.Accept(hj, r.Request, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // checkOrigin has checked the origin
		Subprotocols:       []string{WatchProtocol},
		CompressionMode:    websocket.CompressionDisabled,
	})
	if aerr != nil {
		// Accept has answered the request.
		s.log.Debug("watch upgrade failed", "error", aerr.Error())
		return nil
	}
	if err != nil {
		code, reason := closeCode(err)
		conn.Close(websocket.StatusCode(code), reason)
		return nil
	}
	// The connection lives past the request: its context is no longer the
	// request's. peer ends when the client closes; ctx also at Shutdown.
	peer := conn.CloseRead(context.Background())
	ctx, cancel := context.WithCancel(peer)
	defer cancel()
	stop := context.AfterFunc(s.downCtx, cancel)
	defer stop()

	if s.opts.WatchPingInterval > 0 {
		go s.ping(ctx, conn)
	}
	w := &watchWriter{conn: conn, cork: hj.cc, cbor: cbor, batch: batch, e: newEnc(cbor), cache: &s.events}
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			s.endWatch(conn, peer, err)
			return nil
		}
		// Take the events at hand too. An error here (none at hand, or one
		// the subscription ended with) comes back from the Next above.
		w.start()
		n := 0
		for {
			if err := w.add(&ev); err != nil {
				if w.e.err == nil {
					s.log.Debug("watcher dropped", "error", err.Error(), "sequence", ev.Sequence)
					conn.CloseNow()
					return nil
				}
				// Send the events before this one (one event a message),
				// then the close frame.
				if !w.batch {
					w.cork.flush(s.opts.WatchWriteTimeout)
				}
				s.endWatch(conn, peer, err)
				return nil
			}
			n++
			if n >= watchRoundEvents || w.size() >= watchRoundBytes {
				break
			}
			if ev, err = sub.Next(doneCtx); err != nil {
				break
			}
		}
		if err := w.flush(s.opts.WatchWriteTimeout); err != nil {
			s.log.Debug("watcher dropped", "error", err.Error())
			conn.CloseNow()
			return nil
		}
		s.metrics.watchEvents.Add(float64(n))
	}
}

// watchWriter sends a watch's events a round at a time: in batch mode
// one message holding an array of the round's events, otherwise one
// message per event, all held back and written to the socket at once.
type watchWriter struct {
	cache *eventCache
	conn  *websocket.Conn
	cork  *corkConn
	cbor  bool
	batch bool
	e     *enc
	n     int // events in the batch
	sent  int // bytes written to the cork this round (one event a message)
}

// batchHead is the room kept before a CBOR batch for its array head
// (at most 3 bytes for up to 65535 events).
const batchHead = 3

func (w *watchWriter) start() {
	w.n, w.sent = 0, 0
	w.e.b = w.e.b[:0]
	if w.batch {
		if w.cbor {
			w.e.b = append(w.e.b, make([]byte, batchHead)...)
		} else {
			w.e.b = append(w.e.b, '[')
		}
	} else {
		w.cork.hold()
	}
}

func (w *watchWriter) typ() websocket.MessageType {
	if w.cbor {
		return websocket.MessageBinary
	}
	return websocket.MessageText
}

// add encodes ev into the batch, or sends it as a message of its own
// into the held-back writes.
func (w *watchWriter) add(ev *host.ChangeEvent) error {
	if w.batch {
		if !w.cbor && w.n > 0 {
			w.e.b = append(w.e.b, ',')
		}
		w.cache.appendEvent(w.e, ev)
		w.n++
		return w.e.err
	}
	w.e.b = w.e.b[:0]
	w.cache.appendEvent(w.e, ev)
	if w.e.err != nil {
		return w.e.err
	}
	w.sent += len(w.e.b)
	// The cork takes the frame in memory: this does not block. The round's
	// write to the socket, in flush, has the write timeout.
	return w.conn.Write(context.Background(), w.typ(), w.e.b)
}

func (w *watchWriter) size() int {
	if w.batch {
		return len(w.e.b)
	}
	return w.sent
}

// flush sends the round: the batch message, or the held-back messages.
func (w *watchWriter) flush(timeout time.Duration) error {
	if !w.batch {
		return w.cork.flush(timeout)
	}
	msg := w.e.b
	if w.cbor {
		h := appendHead(nil, 4, uint64(w.n))
		msg = msg[batchHead-len(h):]
		copy(msg, h)
	} else {
		msg = append(msg, ']')
	}
	// Not the watch's context: a write cut by Shutdown would drop the
	// connection without its close frame.
	wctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return w.conn.Write(wctx, w.typ(), msg)
}

// corkHijacker hands websocket.Accept the hijacked connection wrapped in
// a corkConn, so that a watch can hold several messages back and write
// them to the socket in one write.
type corkHijacker struct {
	http.ResponseWriter
	cc *corkConn
}

func (h *corkHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	h.cc = &corkConn{Conn: conn}
	return h.cc, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(h.cc)), nil
}

// corkConn is a net.Conn whose writes, between hold and flush, collect in
// memory; flush writes them in one write with a deadline. Writes outside
// (pings, close frames) go straight through.
type corkConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

func (c *corkConn) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) flush(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	if len(c.buf) == 0 {
		return nil
	}
	if timeout > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(timeout))
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 2*watchRoundBytes {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// endWatch closes a watcher's connection for the error its subscription
// ended with.
func (s *Server) endWatch(conn *websocket.Conn, peer context.Context, err error) {
	switch {
	case peer.Err() != nil:
		conn.CloseNow() // the client left
	case s.shuttingDown():
		conn.Close(websocket.StatusGoingAway, "server shutting down")
	case errors.Is(err, host.ErrClosed):
		conn.Close(websocket.StatusGoingAway, "store closed")
	default:
		code, reason := closeCode(err)
		if code >= 4500 {
			s.log.Warn("watcher failed", "error", err.Error())
		}
		conn.Close(websocket.StatusCode(code), reason)
	}
}

// ping pings a watcher every WatchPingInterval until ctx ends, and drops
// it when a pong does not come back within WatchWriteTimeout.
func (s *Server) ping(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(s.opts.WatchPingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Not ctx: a ping cut by Shutdown would drop the connection
		// without its close frame.
		pctx, cancel := context.WithTimeout(context.Background(), s.opts.WatchWriteTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Debug("watcher dropped: no pong", "error", err.Error())
			conn.CloseNow()
			return
		}
	}
}

// addWatcher counts a watcher in, unless the server is shutting down.
func (s *Server) addWatcher() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.shuttingDown() {
		return false
	}
	s.watchers.Add(1)
	return true
}

// eventCache shares the encodings of recent events among a server's
// watchers, which encode the same events, mostly in the same order. A slot
// (by sequence number and format) serves only an event equal to the one
// it was made from, so a restore, after which sequence numbers are used
// again, never gets another event's bytes.
type eventCache struct {
	slots [2][eventCacheSlots]atomic.Pointer[cachedEvent]
}

const eventCacheSlots = 1024

type cachedEvent struct {
	ev host.ChangeEvent
	b  []byte
}

// appendEvent appends ev's encoding (as e.event does) to e.b.
func (c *eventCache) appendEvent(e *enc, ev *host.ChangeEvent) {
	f := 0
	if e.cbor {
		f = 1
	}
	slot := &c.slots[f][ev.Sequence%eventCacheSlots]
	if ce := slot.Load(); ce != nil && sameEvent(&ce.ev, ev) {
		e.b = append(e.b, ce.b...)
		return
	}
	start := len(e.b)
	e.event(ev)
	if e.err == nil {
		slot.Store(&cachedEvent{ev: *ev, b: bytes.Clone(e.b[start:])})
	}
}

func sameEvent(a, b *host.ChangeEvent) bool {
	return a.Sequence == b.Sequence && a.Operation == b.Operation && a.ActorType == b.ActorType &&
		a.ActorID == b.ActorID && a.Timestamp.Equal(b.Timestamp) &&
		sameVersion(a.PreviousVersion, b.PreviousVersion) && sameVersion(a.NewVersion, b.NewVersion) &&
		bytes.Equal(a.PreviousValue, b.PreviousValue) && bytes.Equal(a.NewValue, b.NewValue)
}

func sameVersion(a, b *uint64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
