package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
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

// watch streams the change feed over a WebSocket, one event per message.
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
	cbor := false
	var sub host.Subscription
	q, err := query(r, "from", "type", "prefix", "format")
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
		sub, err = s.store.Subscribe(r.Context(), opts)
	}
	if sub != nil {
		defer sub.Close()
	}
	conn, aerr := websocket.Accept(r.w, r.Request, &websocket.AcceptOptions{
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
	typ := websocket.MessageText
	if cbor {
		typ = websocket.MessageBinary
	}
	e := newEnc(cbor)
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			s.endWatch(conn, peer, err)
			return nil
		}
		e.b = e.b[:0]
		e.event(&ev)
		if e.err != nil {
			s.endWatch(conn, peer, e.err)
			return nil
		}
		// Not ctx: a write cut by Shutdown would drop the connection
		// without its close frame.
		wctx, wcancel := context.WithTimeout(context.Background(), s.opts.WatchWriteTimeout)
		err = conn.Write(wctx, typ, e.b)
		wcancel()
		if err != nil {
			s.log.Debug("watcher dropped", "error", err.Error(), "sequence", ev.Sequence)
			conn.CloseNow()
			return nil
		}
		s.metrics.watchEvents.Inc()
	}
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
