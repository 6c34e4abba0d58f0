package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/actorstore/actorstore/cluster"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// shutdownGrace bounds each step of a graceful shutdown: ending watchers
// and long polls, finishing requests in progress.
const shutdownGrace = 10 * time.Second

type serveFlags struct {
	dir, http, raft, nodeID, engine, sync, token string
	join                                         []string
	replaySize                                   int
	replayBytes, maxValue, maxDataSize           int64
	origins                                      []string
}

func newServe(e *env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a store, as a member of a Raft cluster, over HTTP",
		Long: `Serve the store kept in --dir over the HTTP API on --http, as a member of a
Raft cluster whose nodes talk on --raft. A node with an empty directory and no
--join starts a one-member cluster of its own; with --join URL[,URL...] it asks
a member (any: followers forward to the leader) to add it as a voter. A
restart with the same --dir rejoins as the same member (its id is kept in the
directory, or given by --node-id), with its data: the newest Raft snapshot
and the log after it.

With --token (or ACTORSTORE_TOKEN) every request must carry "Authorization:
Bearer TOKEN", and nodes prove the same token to each other. SIGINT or
SIGTERM shuts the node down cleanly: it stops taking requests, tells watchers
it is going away (WebSocket close 1001), finishes the requests in progress,
hands leadership to another voter if it leads, and closes. Logs go to stderr.

--sync is when Raft's log is fsynced: always (after every append, before the
node acknowledges it), interval (every 100 ms) or never (as log segments
close). A write is acknowledged once a majority has it in its log; with
interval or never it survives the crash of any minority of processes, but not
a majority of machines losing power at once.

The store's limits default to the embedded store's: a replay buffer of 10,000
events and 64 MiB, values of up to 1 MiB, 1 GiB of data.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("token") {
				f.token = os.Getenv("ACTORSTORE_TOKEN")
			}
			o.Token = f.token
			return serve(cmd.Context(), e, o, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "./actorstore-data", "the node's directory: its Raft log, snapshots and id")
	fl.StringVar(&f.http, "http", "127.0.0.1:7070", "the address to serve HTTP on")
	fl.StringVar(&f.raft, "raft", "127.0.0.1:7071", "the address Raft listens on; other members dial it")
	fl.StringVar(&f.nodeID, "node-id", "", "the node's id in the cluster (default: the one kept in --dir, or a new one)")
	fl.StringSliceVar(&f.join, "join", nil, "HTTP URLs of members to join the cluster through (comma-separated); ignored when --dir has state")
	fl.StringVar(&f.engine, "engine", "wasm", "what runs the store: wasm (the WebAssembly module, in wazero) or native")
	fl.StringVar(&f.sync, "sync", "always", "when Raft's log is fsynced: always (every append), interval (every 100 ms) or never")
	fl.StringVar(&f.token, "token", "", "the bearer token every request, and every node, must carry (default $ACTORSTORE_TOKEN)")
	fl.IntVar(&f.replaySize, "replay-buffer-size", 0, "change events retained for the feed (0: 10,000)")
	fl.Int64Var(&f.replayBytes, "replay-buffer-bytes", 0, "bytes the retained events may hold (0: 64 MiB)")
	fl.Int64Var(&f.maxValue, "max-value-bytes", 0, "the largest encoded value accepted (0: 1 MiB)")
	fl.Int64Var(&f.maxDataSize, "max-data-bytes", 0, "bytes the actors may hold (0: 1 GiB)")
	fl.StringArrayVar(&f.origins, "allow-origin", nil, "let pages from this origin call the API and watch (repeatable; * for any)")
	return cmd
}

// options checks the flags and turns them into the node's options.
func (f *serveFlags) options() (cluster.Options, error) {
	s := host.Options{ReplayBufferSize: f.replaySize, ReplayBufferBytes: f.replayBytes,
		MaxValueBytes: int(f.maxValue), MaxDataBytes: f.maxDataSize}
	o := cluster.Options{Dir: f.dir, NodeID: f.nodeID}
	switch f.engine {
	case "wasm":
		s.Engine = host.EngineWASM
	case "native":
		s.Engine = host.EngineNative
	default:
		return o, usagef("--engine %q: want wasm or native", f.engine)
	}
	switch f.sync {
	case "always":
		o.Sync = host.SyncAlways
	case "interval":
		o.Sync = host.SyncInterval
	case "never":
		o.Sync = host.SyncNever
	default:
		return o, usagef("--sync %q: want always, interval or never", f.sync)
	}
	if f.dir == "" {
		return o, usagef("--dir must name a directory")
	}
	if f.raft == "" {
		return o, usagef("--raft must name an address")
	}
	if f.replaySize < 0 || f.replayBytes < 0 || f.maxValue < 0 || f.maxDataSize < 0 {
		return o, usagef("the store's limits must be positive (0 for the default)")
	}
	for _, u := range f.join {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		if _, err := url.Parse(u); err != nil {
			return o, usagef("--join %q: %v", u, err)
		}
		o.Join = append(o.Join, u)
	}
	if cache, err := os.UserCacheDir(); err == nil {
		// wazero's compiled module: later starts take milliseconds.
		s.CacheDir = filepath.Join(cache, "actorstore", "wazero")
	}
	o.Store = s
	return o, nil
}

// advertised turns a listener's address into one other machines can
// dial: an unspecified host (":7070", "0.0.0.0:7070") becomes this
// machine's name.
func advertised(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

// serve runs the node until SIGINT or SIGTERM.
func serve(ctx context.Context, e *env, o cluster.Options, f serveFlags) error {
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sig os.Signal
	go func() {
		select {
		case sig = <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()

	start := time.Now()
	ln, err := net.Listen("tcp", f.http)
	if err != nil {
		return fmt.Errorf("--http %s: %v", f.http, err)
	}
	rl, err := net.Listen("tcp", f.raft)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--raft %s: %v", f.raft, err)
	}
	o.RaftListener = rl
	o.RaftAdvertise = advertised(rl.Addr())
	o.HTTP = "http://" + advertised(ln.Addr())
	o.Logger = log

	// HTTP is served from the start, so that health checks see the
	// process; requests wait for the node (503 until it is open).
	lh := &lateHandler{starting: server.Starting(server.Options{AllowOrigins: f.origins, Logger: log}, "the node is starting")}
	srv := &http.Server{Handler: lh, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	node, err := cluster.Open(ctx, o)
	if err != nil {
		srv.Close()
		rl.Close()
		if errors.Is(err, host.ErrLocked) {
			return fmt.Errorf("%s is in use by another process (%v)", o.Dir, err)
		}
		return fmt.Errorf("starting the node in %s: %w", o.Dir, err)
	}
	closeNode := func() {
		cctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := node.Close(cctx); err != nil {
			log.Error("closing the node", "err", err)
			return
		}
		log.Info("store closed", "dir", o.Dir)
	}
	h := server.New(node, server.Options{Token: f.token, Logger: log, AllowOrigins: f.origins})
	lh.set(h)
	abs, _ := filepath.Abs(o.Dir)
	log.Info("serving", "http", o.HTTP, "raft", node.RaftAddr(), "node", node.ID(), "dir", abs,
		"engine", o.Store.Engine.String(), "sync", o.Sync.String(), "auth", f.token != "", "started_in", time.Since(start).Round(time.Millisecond))

	select {
	case err := <-served:
		closeNode()
		return fmt.Errorf("serving HTTP: %v", err)
	case <-ctx.Done():
	}
	signal.Stop(sigs) // a second signal ends the process at once
	what := "context ended"
	if sig != nil {
		what = sig.String()
	}
	log.Info("shutting down: ending watchers and long polls, finishing requests", "signal", what)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		log.Warn("watchers did not all end in time", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests did not all finish in time", "err", err)
		srv.Close()
	}
	closeNode()
	log.Info("stopped")
	return nil
}

// lateHandler answers as server.Starting does until its handler is set:
// while the node opens (a join may take seconds), /healthz included.
type lateHandler struct {
	h        atomic.Pointer[server.Server]
	starting http.Handler
}

func (l *lateHandler) set(h *server.Server) { l.h.Store(h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	l.starting.ServeHTTP(w, r)
}
