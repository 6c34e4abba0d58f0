// Package server serves a store over HTTP and WebSocket: the HTTP API,
// version 1, that DESIGN.md ("HTTP API") describes and the Go client
// (package client) speaks.
//
// A Server is an http.Handler for any host.API: an embedded *host.Store,
// or a node of a replicated cluster. Mount it on an http.Server; call
// Shutdown before the http.Server's own Shutdown so that watchers and
// long polls end promptly (watchers get close code 1001).
//
//	s, _ := host.Open(ctx, host.Options{Dir: dir})
//	h := server.New(s, server.Options{Token: token})
//	srv := &http.Server{Addr: "127.0.0.1:7070", Handler: h}
//	go srv.ListenAndServe()
//	...
//	h.Shutdown(ctx)
//	srv.Shutdown(ctx)
//
// Errors are mapped to status codes in one place (errorOf); bad input of
// any kind gets a 4xx answer with a code and a message, never a 500.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/actorstore/actorstore/host"
)

// Options configure a Server. The zero value serves without
// authentication, to same-origin pages only, with metrics on a registry of
// its own.
type Options struct {
	// Token, when set, must come with every request but GET /healthz (and
	// CORS preflights) as "Authorization: Bearer TOKEN"; others get 401.
	Token string
	// Logger receives a debug record per request and a warning per
	// server-side failure; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer receives the server's metrics. When nil the server makes
	// a registry of its own; GET /metrics serves the registry when it is
	// also a prometheus.Gatherer (as a *prometheus.Registry is).
	Registerer prometheus.Registerer
	// AllowOrigins lists the origins ("https://app.example.com") whose
	// pages may call the API (CORS) and open watches; "*" allows any. A
	// request carrying an Origin header that is neither listed nor the
	// server's own is refused with 403.
	AllowOrigins []string
	// MaxBodyBytes bounds a request body (actor writes, batches); a body
	// past it is refused with 413 VALUE_TOO_LARGE without being read to
	// its end. By default twice the store's MaxValueBytes (when the store
	// reports its options, else host's default) plus 64 KiB: room for a
	// value at the limit written as JSON. Restore bodies are not bounded
	// by it: the store checks what it restores.
	MaxBodyBytes int64
	// MaxWait caps the wait of a long poll (GET /v1/changes?wait=); 60s
	// by default.
	MaxWait time.Duration
	// WatchWriteTimeout bounds how long sending one message (or a ping)
	// to a watcher may take before the watcher is dropped; 30s by default.
	WatchWriteTimeout time.Duration
	// WatchPingInterval is how often watchers are pinged, so that a dead
	// peer is noticed and idle proxies keep the connection; 30s by
	// default, negative for never.
	WatchPingInterval time.Duration
	// NodeID names this node in GET /v1/status for a store that is not a
	// cluster member; "local" by default.
	NodeID string
	// AdvertiseHTTP is this node's URL in GET /v1/status for a store that
	// is not a cluster member; by default the URL the request was made to.
	AdvertiseHTTP string
}

// Defaults.
const (
	DefaultMaxWait           = 60 * time.Second
	DefaultWatchWriteTimeout = 30 * time.Second
	DefaultWatchPingInterval = 30 * time.Second
	defaultMaxValueBytes     = 1 << 20
	bodySlack                = 64 << 10
)

// Server serves a store. It is an http.Handler.
type Server struct {
	store   host.API
	opts    Options
	log     *slog.Logger
	token   [sha256.Size]byte
	origins map[string]bool
	anyOrig bool
	metrics *metrics
	gather  http.Handler // /metrics, nil when the registerer cannot gather

	// done is closed by Shutdown, which also cancels downCtx: watchers
	// and long polls end.
	done     chan struct{}
	downCtx  context.Context
	down     context.CancelFunc
	downOnce sync.Once
	wmu      sync.Mutex // orders watchers' arrival with Shutdown
	watchers sync.WaitGroup
	events   eventCache // encodings shared by the watchers
}

// New returns a Server for store. It panics when the metrics cannot be
// registered (a Registerer that already holds them).
func New(store host.API, o Options) *Server {
	s := newBare(o)
	s.store = store
	s.downCtx, s.down = context.WithCancel(context.Background())
	if o.Token != "" {
		s.token = sha256.Sum256([]byte(o.Token))
	}
	if s.opts.MaxBodyBytes <= 0 {
		mv := defaultMaxValueBytes
		if so, ok := store.(interface{ Options() host.Options }); ok && so.Options().MaxValueBytes > 0 {
			mv = so.Options().MaxValueBytes
		}
		s.opts.MaxBodyBytes = 2*int64(mv) + bodySlack
	}
	if s.opts.MaxWait <= 0 {
		s.opts.MaxWait = DefaultMaxWait
	}
	if s.opts.WatchWriteTimeout <= 0 {
		s.opts.WatchWriteTimeout = DefaultWatchWriteTimeout
	}
	if s.opts.WatchPingInterval == 0 {
		s.opts.WatchPingInterval = DefaultWatchPingInterval
	}
	if s.opts.NodeID == "" {
		s.opts.NodeID = "local"
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg, store)
	if g, ok := reg.(prometheus.Gatherer); ok {
		s.gather = promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slogPrinter{s.log}})
	}
	return s
}

// newBare returns a Server with its options, logger and allowed origins:
// what answering an error needs.
func newBare(o Options) *Server {
	s := &Server{opts: o, log: o.Logger, origins: map[string]bool{}, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, origin := range o.AllowOrigins {
		if origin == "*" {
			s.anyOrig = true
		}
		s.origins[strings.TrimSuffix(origin, "/")] = true
	}
	return s
}

// Starting returns the handler for the time before a store is ready (a
// node opening, joining its cluster): every request, /healthz and
// preflights included, gets 503 UNAVAILABLE with message and Retry-After,
// with the CORS headers New's handler would send for o.AllowOrigins, so
// that a page's replica reads the answer and retries.
func Starting(o Options, message string) http.Handler {
	s := newBare(o)
	return http.HandlerFunc(func(hw http.ResponseWriter, hr *http.Request) {
		r := &request{Request: hr, w: &responseWriter{ResponseWriter: hw}, cbor: wantsCBOR(hr.Header.Get("Accept"))}
		err := s.checkOrigin(r)
		if err == nil {
			err = &apiError{status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: message}
		}
		s.writeError(r, err)
	})
}

// Shutdown ends every watcher (close code 1001, going away) and long poll
// (which answer with what they have), answers new requests with 503
// UNAVAILABLE, and waits for the watchers to finish or ctx to end. It does
// not close the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Close()
	finished := make(chan struct{})
	go func() { s.watchers.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown without waiting.
func (s *Server) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.downOnce.Do(func() { close(s.done); s.down() })
	return nil
}

func (s *Server) shuttingDown() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// request is what a handler gets: the request, its route's path
// parameters (unescaped), and the response formats.
type request struct {
	*http.Request
	w      *responseWriter
	params []string
	cbor   bool // respond in CBOR
	route  string
}

type handlerFunc func(s *Server, r *request) error

// route is one path pattern: literal segments, and "*" for a parameter.
type route struct {
	name     string
	segments []string
	methods  map[string]handlerFunc
	allow    string
}

var routes = []*route{
	newRoute("actor", "/v1/actors/*/*", map[string]handlerFunc{
		http.MethodGet: (*Server).getActor, http.MethodPost: (*Server).insertActor,
		http.MethodPut: (*Server).updateActor, http.MethodDelete: (*Server).deleteActor}),
	newRoute("actors", "/v1/actors/*", map[string]handlerFunc{http.MethodGet: (*Server).listActors}),
	newRoute("batch", "/v1/batch", map[string]handlerFunc{http.MethodPost: (*Server).batch}),
	newRoute("changes", "/v1/changes", map[string]handlerFunc{http.MethodGet: (*Server).changes}),
	newRoute("watch", "/v1/watch", map[string]handlerFunc{http.MethodGet: (*Server).watch}),
	newRoute("stats", "/v1/stats", map[string]handlerFunc{http.MethodGet: (*Server).stats}),
	newRoute("status", "/v1/status", map[string]handlerFunc{http.MethodGet: (*Server).status}),
	newRoute("snapshot", "/v1/snapshot", map[string]handlerFunc{http.MethodGet: (*Server).snapshot}),
	newRoute("restore", "/v1/restore", map[string]handlerFunc{http.MethodPost: (*Server).restore}),
	newRoute("members", "/v1/cluster/members", map[string]handlerFunc{http.MethodPost: (*Server).addMember}),
	newRoute("member", "/v1/cluster/members/*", map[string]handlerFunc{http.MethodDelete: (*Server).removeMember}),
	newRoute("leader", "/v1/cluster/leader", map[string]handlerFunc{http.MethodPost: (*Server).transferLeader}),
	newRoute("healthz", "/healthz", map[string]handlerFunc{http.MethodGet: (*Server).healthz}),
	newRoute("readyz", "/readyz", map[string]handlerFunc{http.MethodGet: (*Server).readyz}),
	newRoute("metrics", "/metrics", map[string]handlerFunc{http.MethodGet: (*Server).serveMetrics}),
}

func newRoute(name, pattern string, methods map[string]handlerFunc) *route {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if methods[m] != nil {
			allow = append(allow, m)
		}
	}
	allow = append(allow, http.MethodOptions)
	return &route{name: name, segments: strings.Split(strings.TrimPrefix(pattern, "/"), "/"),
		methods: methods, allow: strings.Join(allow, ", ")}
}

// match returns the route for the request path and its parameters,
// percent-decoded one segment at a time (so that %2F is a slash inside a
// type or id, not a separator).
func match(escapedPath string) (*route, []string, error) {
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, nil
	}
	segs := strings.Split(escapedPath[1:], "/")
	for _, rt := range routes {
		if len(rt.segments) != len(segs) {
			continue
		}
		var params []string
		ok := true
		for i, p := range rt.segments {
			if p == "*" {
				v, err := url.PathUnescape(segs[i])
				if err != nil {
					return rt, nil, errorf(http.StatusBadRequest, codeInvalidArgument, "bad percent-encoding in path segment %q", segs[i])
				}
				params = append(params, v)
			} else if p != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params, nil
		}
	}
	return nil, nil, nil
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(hw http.ResponseWriter, hr *http.Request) {
	start := time.Now()
	w := &responseWriter{ResponseWriter: hw}
	r := &request{Request: hr, w: w, cbor: wantsCBOR(hr.Header.Get("Accept")), route: "unknown"}
	err := s.serve(r)
	if err != nil {
		s.writeError(r, err)
	}
	s.observe(r, start, err)
}

func (s *Server) serve(r *request) error {
	rt, params, perr := match(r.URL.EscapedPath())
	if rt != nil {
		r.route = rt.name
	}
	if err := s.checkOrigin(r); err != nil {
		return err
	}
	if r.Method == http.MethodOptions {
		return s.preflight(r, rt)
	}
	if rt == nil {
		return errorf(http.StatusNotFound, codeNotFound, "no route %s %s", r.Method, r.URL.EscapedPath())
	}
	if rt.name != "healthz" && !s.authorized(r.Request, rt.name == "watch" && isWebSocket(r.Request)) {
		r.w.Header().Set("WWW-Authenticate", `Bearer realm="actorstore"`)
		return errorf(http.StatusUnauthorized, codeUnauthorized, "missing or wrong bearer token")
	}
	h := rt.methods[r.Method]
	if h == nil {
		r.w.Header().Set("Allow", rt.allow)
		return errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s is not allowed on %s; allowed: %s", r.Method, r.URL.EscapedPath(), rt.allow)
	}
	if perr != nil {
		return perr
	}
	if s.shuttingDown() && rt.name != "healthz" && rt.name != "metrics" {
		return errShutdown
	}
	r.params = params
	return h(s, r)
}

var errShutdown = &apiError{status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the server is shutting down"}

// authorized reports whether the request carries the token (or none is
// needed), comparing in constant time. A WebSocket upgrade (a watch) may
// carry it in Sec-WebSocket-Protocol instead, since pages cannot set
// headers on a WebSocket (see wsToken).
func (s *Server) authorized(r *http.Request, websocket bool) bool {
	if s.opts.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok && websocket && r.Header.Get("Authorization") == "" {
		got, ok = wsToken(r.Header)
	}
	if !ok {
		return false
	}
	h := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(h[:], s.token[:]) == 1
}

// WebSocket subprotocols of a watch. A page offers
// ["actorstore.v1", "actorstore.token.<token, base64url without padding>"]
// and the server answers "actorstore.v1" only: the token travels in a
// header that servers and proxies do not record (unlike a URL), and is
// never echoed back.
const (
	// WatchProtocol is the subprotocol a watch answers when offered.
	WatchProtocol = "actorstore.v1"
	// WatchTokenProtocolPrefix starts the subprotocol that carries the
	// bearer token, base64url-encoded without padding.
	WatchTokenProtocolPrefix = "actorstore.token."
)

// wsToken reads the bearer token a WebSocket upgrade offers as the
// subprotocol "actorstore.token.<base64url>".
func wsToken(h http.Header) (string, bool) {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			enc, ok := strings.CutPrefix(strings.TrimSpace(p), WatchTokenProtocolPrefix)
			if !ok {
				continue
			}
			b, err := base64.RawURLEncoding.DecodeString(enc)
			if err != nil {
				return "", false
			}
			return string(b), true
		}
	}
	return "", false
}

// checkOrigin refuses requests from pages of origins not allowed; a
// request without Origin (not from a browser) or from the server's own
// origin passes. Allowed origins get the CORS headers.
func (s *Server) checkOrigin(r *request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	h := r.w.Header()
	h.Add("Vary", "Origin")
	if !s.originAllowed(origin, r.Host) {
		return errorf(http.StatusForbidden, codeForbidden, "origin %q is not allowed", origin)
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "ETag, Location, Retry-After, "+SequenceHeader)
	return nil
}

func (s *Server) originAllowed(origin, host string) bool {
	if s.anyOrig || s.origins[origin] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// preflight answers a CORS preflight (or a plain OPTIONS) for a route.
func (s *Server) preflight(r *request, rt *route) error {
	if rt == nil {
		return errorf(http.StatusNotFound, codeNotFound, "no route OPTIONS %s", r.URL.EscapedPath())
	}
	h := r.w.Header()
	h.Set("Allow", rt.allow)
	if r.Header.Get("Origin") != "" {
		h.Set("Access-Control-Allow-Methods", rt.allow)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, If-Match, If-None-Match, Idempotency-Key")
		h.Set("Access-Control-Max-Age", "600")
	}
	r.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) healthz(r *request) error {
	r.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(r.w, "ok\n")
	return err
}

func (s *Server) serveMetrics(r *request) error {
	if s.gather == nil {
		return errorf(http.StatusNotFound, codeNotFound, "metrics are registered with a registerer this server cannot read")
	}
	s.gather.ServeHTTP(r.w, r.Request)
	return nil
}

// slogPrinter lets promhttp log through slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.l.Warn("metrics: " + strings.TrimSpace(fmt.Sprintln(v...))) }

// responseWriter records the status and bytes written, for logs and
// metrics; it lets the WebSocket upgrade hijack the connection.
type responseWriter struct {
	http.ResponseWriter
	status  int
	written int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush, hijack).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data to the client.
func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) observe(r *request, start time.Time, err error) {
	d := time.Since(start)
	status := r.w.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.observe(r.route, r.Method, status, d)
	if err != nil && (status == http.StatusInternalServerError || status == http.StatusInsufficientStorage) {
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.EscapedPath(), "route", r.route,
			"status", status, "duration", d, "error", err.Error())
		return
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		attrs := []any{"method", r.Method, "path", r.URL.EscapedPath(), "route", r.route, "status", status,
			"duration", d, "bytes", r.w.written, "remote", r.RemoteAddr}
		if err != nil {
			attrs = append(attrs, "error", err.Error())
		}
		s.log.Debug("request", attrs...)
	}
}

// isCanceled reports whether err is the request's own context ending.
func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }
