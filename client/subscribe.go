package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/actorstore/actorstore/host"
)

// WebSocket close codes of the watch route: 4410 for a watcher that fell
// out of the replay buffer, 4000+status for other errors.
const (
	closeCompacted   = 4410
	closeErrorBase   = 4000
	readAhead        = 256     // events a subscription reads ahead of Next
	maxMessageBytes  = 1 << 29 // two 64 MiB values and more
	compactedRequest = 1       // events Changes reads to learn a compaction's detail
)

// subscription is a Client's host.Subscription: a WebSocket read by a
// goroutine that reconnects after a cut connection, resuming after the
// last event it passed on.
type subscription struct {
	c      *Client
	filter host.Filter
	ctx    context.Context // lives until Close
	cancel context.CancelFunc
	items  chan item
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when the reader returns
	once   sync.Once
	err    error // sticky: what ended the subscription, for Next

	// Owned by the reader goroutine.
	from string // where the next connection starts: a sequence, or a time before the first event
	last uint64 // the last sequence passed on, 0 for none
}

type item struct {
	ev  host.ChangeEvent
	err error
}

// Subscribe follows the change feed over a WebSocket (GET /v1/watch). The
// connection is opened before Subscribe returns, so a refused start (a
// compacted sequence, a bad token) fails here or at the first Next.
//
// A cut connection, or a server going away (close 1001), is reopened
// with backoff, starting after the last event passed on: no event is
// skipped or delivered twice. Reconnection goes on until Close; a Next
// waiting meanwhile returns when its context ends.
//
// # Notes
//
// FromBeginning and FromNow are resolved into sequence numbers with a
// Stats call, so that a reconnection before the first event starts where
// the subscription did. A FromTime subscription cut before its first
// event starts again from the time.
func (c *Client) Subscribe(ctx context.Context, o host.SubscriptionOptions) (host.Subscription, error) {
	if c.isClosed() {
		return nil, host.ErrClosed
	}
	first, resume, err := c.resolveStart(ctx, o.Start)
	if err != nil {
		return nil, err
	}
	conn, err := c.dialRetrying(ctx, first, o.Filter)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &subscription{c: c, filter: o.Filter, ctx: sctx, cancel: cancel, items: make(chan item, readAhead),
		done: make(chan struct{}), exited: make(chan struct{}), from: resume}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		conn.CloseNow()
		return nil, host.ErrClosed
	}
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	go s.run(conn)
	return s, nil
}

// resolveStart returns the first connection's from parameter and the one
// to reconnect with before any event arrived.
func (c *Client) resolveStart(ctx context.Context, p host.StartPosition) (first, resume string, err error) {
	if n, ok := p.Sequence(); ok {
		s := strconv.FormatUint(max(n, 1), 10)
		return s, s, nil
	}
	if t, ok := p.Time(); ok {
		s := t.Format(time.RFC3339Nano)
		return s, s, nil
	}
	st, err := c.Stats(ctx)
	if err != nil {
		return "", "", err
	}
	if p.Now() {
		s := strconv.FormatUint(st.CurrentSequence+1, 10)
		return s, s, nil
	}
	return "beginning", strconv.FormatUint(st.OldestSequence, 10), nil
}

// dialRetrying opens the watch WebSocket, retrying network errors and
// 503 answers as requests are.
func (c *Client) dialRetrying(ctx context.Context, from string, f host.Filter) (*websocket.Conn, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := c.pause(ctx, attempt, lastErr); err != nil {
				return nil, err
			}
		}
		conn, err := c.dial(ctx, from, f)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !retryable(err) || attempt+1 >= c.retry.MaxAttempts {
			return nil, err
		}
		lastErr = err
		c.log.Info("actorstore client: retrying watch", "attempt", attempt+1, "err", err)
	}
}

// dial opens the watch WebSocket once.
func (c *Client) dial(ctx context.Context, from string, f host.Filter) (*websocket.Conn, error) {
	if c.isClosed() {
		return nil, host.ErrClosed
	}
	q := url.Values{"from": {from}, "format": {"cbor"}}
	if f.ActorType != "" {
		q.Set("type", f.ActorType)
	}
	if f.KeyPrefix != "" {
		q.Set("prefix", f.KeyPrefix)
	}
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := websocket.Dial(ctx, c.url("/v1/watch", q), &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err == nil {
		conn.SetReadLimit(maxMessageBytes)
		return conn, nil
	}
	r := &request{method: http.MethodGet, path: "/v1/watch"}
	if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return nil, c.netError(r, err)
	}
	var b []byte
	if resp.Body != nil {
		b, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	e := decodeError(resp.StatusCode, resp.Header.Get("Content-Type"), b)
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil, &unavailableError{err: e, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return nil, e
}

// run reads events until Close or an error that ends the subscription,
// reconnecting after cut connections.
func (s *subscription) run(conn *websocket.Conn) {
	defer close(s.exited)
	for {
		err := s.read(conn)
		conn.CloseNow()
		if s.ctx.Err() != nil {
			return
		}
		if fatal := s.ending(err); fatal != nil {
			s.fail(fatal)
			return
		}
		s.c.log.Info("actorstore client: watch connection lost, reconnecting", "from", s.from, "err", err)
		if conn = s.reconnect(); conn == nil {
			return
		}
	}
}

// read passes on the events of one connection until it fails. Events at
// or before the last one passed on are duplicates from a resumption and
// are dropped.
func (s *subscription) read(conn *websocket.Conn) error {
	for {
		typ, data, err := conn.Read(s.ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageBinary {
			return &protocolError{fmt.Errorf("a %v message on a CBOR watch", typ)}
		}
		ev, err := readEvent(data)
		if err != nil {
			return &protocolError{fmt.Errorf("undecodable event: %v", err)}
		}
		if ev.Sequence <= s.last {
			continue
		}
		select {
		case s.items <- item{ev: ev}:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
		s.last, s.from = ev.Sequence, strconv.FormatUint(ev.Sequence+1, 10)
	}
}

// protocolError is an answer the client cannot read: it ends the
// subscription.
type protocolError struct{ err error }

func (e *protocolError) Error() string { return "actorstore: watch: " + e.err.Error() }

// ending returns the error that ends the subscription after its
// connection failed with err, or nil when it should reconnect: after a
// network error, or a close for going away, restarting, overload or
// unavailability.
func (s *subscription) ending(err error) error {
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return nil
	}
	switch code := int(ce.Code); {
	case code == closeCompacted:
		return s.compacted(ce.Reason)
	case code == closeErrorBase+http.StatusServiceUnavailable:
		return nil
	case code > closeErrorBase && code < closeErrorBase+600:
		return closeError(code-closeErrorBase, ce.Reason)
	}
	return nil
}

// closeError maps a close reason "<CODE>: message" to the host's errors.
func closeError(status int, reason string) error {
	code, msg, ok := strings.Cut(reason, ": ")
	if !ok {
		code, msg = codeOfStatus(status), reason
	}
	return mapWireError(status, &wireError{Code: code, Message: msg})
}

var compactedNumbers = regexp.MustCompile(`(\d+)\D+(\d+)`)

// compacted builds the error of a watcher the server closed for falling
// out of the replay buffer: with the numbers of the reason ("requested
// N, oldest M"), or failing that those the feed gives from where the
// subscription stands.
func (s *subscription) compacted(reason string) error {
	w := &wireError{Code: "COMPACTED"}
	if m := compactedNumbers.FindStringSubmatch(reason); m != nil {
		req, err1 := strconv.ParseUint(m[1], 10, 64)
		old, err2 := strconv.ParseUint(m[2], 10, 64)
		if err1 == nil && err2 == nil {
			w.Requested, w.Oldest = &req, &old
		}
	}
	if since, err := strconv.ParseUint(s.from, 10, 64); w.Requested == nil && err == nil && since > 0 {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		_, err := s.c.Changes(ctx, since-1, s.filter, compactedRequest)
		cancel()
		if errors.Is(err, host.ErrCompacted) {
			return err
		}
	}
	if w.Requested != nil {
		// Worded as the store words it.
		w.Message = fmt.Sprintf("actorstore: compacted: events from %d were evicted, oldest retained is %d", *w.Requested, *w.Oldest)
	} else {
		w.Message = "actorstore: compacted: " + reason
	}
	return mapWireError(http.StatusGone, w)
}

// reconnect opens a new connection from where the subscription stands,
// with backoff, until it succeeds, the subscription is closed (nil) or
// the server refuses it for good (the subscription ends with that error).
func (s *subscription) reconnect() *websocket.Conn {
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := s.c.pause(s.ctx, min(attempt, 30), lastErr); err != nil {
			if s.ctx.Err() == nil {
				s.fail(err)
			}
			return nil
		}
		conn, err := s.c.dial(s.ctx, s.from, s.filter)
		if err == nil {
			return conn
		}
		if s.ctx.Err() != nil {
			return nil
		}
		if !retryable(err) {
			s.fail(err)
			return nil
		}
		lastErr = err
		s.c.log.Info("actorstore client: watch reconnection failed", "attempt", attempt, "err", err)
	}
}

// fail queues the error that ends the subscription, after the events
// already read.
func (s *subscription) fail(err error) {
	select {
	case s.items <- item{err: err}:
	case <-s.ctx.Done():
	}
}

// Next returns the next matching event, waiting for one until ctx is
// done.
//
// # Errors
//
// host.ErrCompacted (a *host.CompactedError) once the server dropped the
// subscription for falling behind, host.ErrRestored after a restore, and
// from then on; host.ErrClosed after Close of the subscription or the
// client; ctx.Err() when ctx ends first.
func (s *subscription) Next(ctx context.Context) (host.ChangeEvent, error) {
	select {
	case <-s.done:
		return host.ChangeEvent{}, host.ErrClosed
	default:
	}
	if s.err != nil {
		return host.ChangeEvent{}, s.err
	}
	select {
	case it := <-s.items:
		if it.err != nil {
			s.err = it.err
			return host.ChangeEvent{}, it.err
		}
		return it.ev, nil
	case <-s.done:
		return host.ChangeEvent{}, host.ErrClosed
	case <-ctx.Done():
		return host.ChangeEvent{}, ctx.Err()
	}
}

// Close ends the subscription and its connection; a Next waiting in
// another goroutine returns host.ErrClosed. Closing twice is harmless.
func (s *subscription) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.cancel()
		s.c.mu.Lock()
		delete(s.c.subs, s)
		s.c.mu.Unlock()
	})
	return nil
}

// wait waits for the reader goroutine to return, or ctx.
func (s *subscription) wait(ctx context.Context) {
	select {
	case <-s.exited:
	case <-ctx.Done():
	}
}
