// Package client is the Go client of Actor Store's HTTP API (the server
// of package server, run by `actorstore serve`). A *Client satisfies
// host.API: the same methods, values and errors as an embedded
// *host.Store, so code written against host.API runs unchanged against a
// server.
//
//	c, err := client.New("http://127.0.0.1:7070", client.Options{Token: token})
//	if err != nil { ... }
//	defer c.Close(ctx)
//	a, err := c.Insert(ctx, "user", "u1", map[string]any{"name": "Ann"})
//
// Values travel as CBOR, byte for byte. Every write carries an
// Idempotency-Key (a fresh random one, or the ctx's
// host.WithIdempotencyKey), reused when the request is retried, so the
// server applies it at most once: requests are retried on network errors
// and 503 answers (honouring Retry-After) with exponential backoff and
// jitter, within Options.Retry and the context. Subscriptions run over a
// WebSocket that reconnects after a cut connection and resumes after the
// last event delivered, without a gap or a duplicate.
//
// # Differences from an embedded store
//
// GetAll pages through the list route, so unlike host.Store.GetAll it is
// not one consistent view when writes land while it pages. A
// subscription's Next reads ahead of the caller, at most a few hundred
// events.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/actorstore/actorstore/host"
)

// Read consistency levels of Options.Consistency (a cluster's; a single
// node's reads are always current).
const (
	// Linearizable reads reflect every write acknowledged before they
	// began, on any node. The server's default.
	Linearizable = "linearizable"
	// Leader reads the leader's state without a quorum round.
	Leader = "leader"
	// Local reads the contacted node's state, maybe behind.
	Local = "local"
)

// Options configure New. The zero value is a client without a token,
// with its own pooled HTTP client and the default retry policy.
type Options struct {
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// HTTPClient carries the requests; by default one with keep-alive
	// connections pooled per host (64 idle), no overall timeout (long
	// polls and subscriptions last), 10 s to connect.
	HTTPClient *http.Client
	// Retry bounds the retries of a request.
	Retry RetryPolicy
	// Consistency, when set, is sent as ?consistency= on reads:
	// Linearizable, Leader or Local.
	Consistency string
	// Logger receives a line per retry and reconnection; none by default.
	Logger *slog.Logger
}

// RetryPolicy says how often and how patiently a request is retried
// after a network error or a 503 answer. The context bounds it too.
type RetryPolicy struct {
	// MaxAttempts is the number of tries, the first included; 5 by
	// default, 1 for none.
	MaxAttempts int
	// MinBackoff is the wait before the first retry; 50 ms by default.
	// It doubles with each further retry, with jitter, up to MaxBackoff.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between tries; 2 s by default. A
	// Retry-After header is honoured up to a minute.
	MaxBackoff time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 50 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 2 * time.Second
	}
	p.MaxBackoff = max(p.MaxBackoff, p.MinBackoff)
	return p
}

// Client is a connection to an Actor Store server. It is safe for
// concurrent use.
type Client struct {
	base        *url.URL
	token       string
	hc          *http.Client
	ownHC       bool
	retry       RetryPolicy
	consistency string
	log         *slog.Logger

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
}

var _ host.API = (*Client)(nil)

// New returns a client of the server at rawURL, such as
// "http://127.0.0.1:7070". It does not contact the server.
func New(rawURL string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(rawURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("actorstore: server URL %q: %v", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("actorstore: server URL %q: want http://host:port or https://host:port", rawURL)
	}
	switch o.Consistency {
	case "", Linearizable, Leader, Local:
	default:
		return nil, fmt.Errorf("actorstore: consistency %q: want %q, %q or %q", o.Consistency, Linearizable, Leader, Local)
	}
	c := &Client{base: u, token: o.Token, hc: o.HTTPClient, retry: o.Retry.withDefaults(),
		consistency: o.Consistency, log: o.Logger, subs: map[*subscription]struct{}{}}
	if c.hc == nil {
		c.hc, c.ownHC = defaultHTTPClient(), true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func defaultHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false, // WebSocket upgrades need HTTP/1.1
	}
	return &http.Client{Transport: t}
}

// URL returns the server's URL.
func (c *Client) URL() string { return c.base.String() }

// Close closes the client's subscriptions (their Next returns
// host.ErrClosed) and its idle connections. Later calls return
// host.ErrClosed.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	subs := slices.Collect(maps.Keys(c.subs))
	c.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	for _, s := range subs {
		s.wait(ctx)
	}
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// request is one API call.
type request struct {
	method string
	path   string // escaped, from the server's root: "/v1/actors/user/u1"
	query  url.Values
	body   []byte
	ctype  string
	header http.Header
	write  bool // carries an Idempotency-Key
	read   bool // takes ?consistency=
	stream bool // the answer's body is left to the caller, unread
}

// response is a complete answer with a 2xx status.
type response struct {
	status int
	header http.Header
	body   []byte
}

// idempotencyKey is the key of a write made with ctx: the one
// host.WithIdempotencyKey put there, else a fresh one.
func idempotencyKey(ctx context.Context) string {
	if k, ok := host.IdempotencyKey(ctx); ok && k != "" {
		return k
	}
	return newIdempotencyKey()
}

// newIdempotencyKey returns 128 random bits in hex.
func newIdempotencyKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		p = u.RawPath
	}
	u.Path = p
	u.RawQuery = q.Encode()
	return u.String()
}

// do sends r, retrying as the policy allows, and returns the 2xx answer
// or the error the server answered (or the last network error).
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // read already, unless r.stream
	if err != nil {
		return nil, c.netError(r, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// send sends r with retries and returns the 2xx answer, its body read
// into memory (so that a connection cut in the middle is retried too)
// unless r.stream, or the error the server answered.
func (c *Client) send(ctx context.Context, r *request) (*http.Response, error) {
	if c.isClosed() {
		return nil, host.ErrClosed
	}
	q := r.query
	if r.read && c.consistency != "" {
		q = cloneValues(q)
		q.Set("consistency", c.consistency)
	}
	target := c.url(r.path, q)
	var key string
	if r.write {
		key = idempotencyKey(ctx)
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := c.pause(ctx, attempt, lastErr); err != nil {
				return nil, err
			}
		}
		resp, err := c.attempt(ctx, r, target, key)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !retryable(err) || attempt+1 >= c.retry.MaxAttempts {
			return nil, err
		}
		lastErr = err
		c.log.Info("actorstore client: retrying", "method", r.method, "path", r.path, "attempt", attempt+1, "err", err)
	}
}

// attempt sends r once. A non-2xx answer is returned as its error.
func (c *Client) attempt(ctx context.Context, r *request, target, key string) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("actorstore: %s %s: %v", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", cborType)
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.netError(r, err)
	}
	if resp.StatusCode/100 == 2 {
		if r.stream {
			return resp, nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, c.netError(r, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp, nil
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if rerr != nil && resp.StatusCode != http.StatusServiceUnavailable {
		return nil, c.netError(r, rerr)
	}
	err = decodeError(resp.StatusCode, resp.Header.Get("Content-Type"), b)
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil, &unavailableError{err: err, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return nil, err
}

// netError is a failure to get an answer: the request may or may not
// have been applied, so it is retried (writes with their idempotency key).
type netError struct {
	op  string
	err error
}

func (e *netError) Error() string { return "actorstore: " + e.op + ": " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

func (c *Client) netError(r *request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &netError{op: r.method + " " + c.base.String() + r.path, err: err}
}

// unavailableError is a 503 answer with its Retry-After.
type unavailableError struct {
	err   error
	after time.Duration
}

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var ne *netError
	var ue *unavailableError
	return errors.As(err, &ne) || errors.As(err, &ue)
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}
