package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// shutdownGrace bounds each step of a graceful shutdown: ending watchers
// and long polls, finishing requests in progress.
const shutdownGrace = 10 * time.Second

type serveFlags struct {
	dir, http, engine, sync, token     string
	replaySize                         int
	replayBytes, maxValue, maxDataSize int64
	origins                            []string
}

func newServe(e *env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a durable store over HTTP",
		Long: `Serve the store kept in --dir (created if needed, recovered if it exists) over
the HTTP API on --http. With --token (or ACTORSTORE_TOKEN) every request must
carry "Authorization: Bearer TOKEN". SIGINT or SIGTERM shuts it down cleanly:
it stops taking requests, tells watchers it is going away (WebSocket close
1001), finishes the requests in progress and closes the store. Logs go to
stderr.

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
			return serve(cmd.Context(), e, o, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "./actorstore-data", "the store's directory")
	fl.StringVar(&f.http, "http", "127.0.0.1:7070", "the address to serve HTTP on")
	fl.StringVar(&f.engine, "engine", "wasm", "what runs the store: wasm (the WebAssembly module, in wazero) or native")
	fl.StringVar(&f.sync, "sync", "always", "when a write returns: always (fsynced), interval (fsync every 100 ms) or never")
	fl.StringVar(&f.token, "token", "", "the bearer token every request must carry (default $ACTORSTORE_TOKEN)")
	fl.IntVar(&f.replaySize, "replay-buffer-size", 0, "change events retained for the feed (0: 10,000)")
	fl.Int64Var(&f.replayBytes, "replay-buffer-bytes", 0, "bytes the retained events may hold (0: 64 MiB)")
	fl.Int64Var(&f.maxValue, "max-value-bytes", 0, "the largest encoded value accepted (0: 1 MiB)")
	fl.Int64Var(&f.maxDataSize, "max-data-bytes", 0, "bytes the actors may hold (0: 1 GiB)")
	fl.StringArrayVar(&f.origins, "allow-origin", nil, "let pages from this origin call the API and watch (repeatable; * for any)")
	return cmd
}

// options checks the flags and turns them into the store's options.
func (f *serveFlags) options() (host.Options, error) {
	o := host.Options{Dir: f.dir, ReplayBufferSize: f.replaySize, ReplayBufferBytes: f.replayBytes,
		MaxValueBytes: int(f.maxValue), MaxDataBytes: f.maxDataSize}
	switch f.engine {
	case "wasm":
		o.Engine = host.EngineWASM
	case "native":
		o.Engine = host.EngineNative
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
	if f.replaySize < 0 || f.replayBytes < 0 || f.maxValue < 0 || f.maxDataSize < 0 {
		return o, usagef("the store's limits must be positive (0 for the default)")
	}
	if cache, err := os.UserCacheDir(); err == nil {
		// wazero's compiled module: later starts take milliseconds.
		o.CacheDir = filepath.Join(cache, "actorstore", "wazero")
	}
	return o, nil
}

// serve runs the server until SIGINT or SIGTERM.
func serve(ctx context.Context, e *env, o host.Options, f serveFlags) error {
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
	store, err := host.Open(ctx, o)
	if errors.Is(err, host.ErrLocked) {
		return fmt.Errorf("%s is in use by another process (%v)", o.Dir, err)
	}
	if err != nil {
		return fmt.Errorf("opening the store in %s: %w", o.Dir, err)
	}
	closeStore := func() {
		cctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := store.Close(cctx); err != nil {
			log.Error("closing the store", "err", err)
			return
		}
		log.Info("store closed", "dir", o.Dir)
	}
	st, err := store.Stats(ctx)
	if err != nil {
		closeStore()
		return err
	}
	ln, err := net.Listen("tcp", f.http)
	if err != nil {
		closeStore()
		return fmt.Errorf("--http %s: %v", f.http, err)
	}
	h := server.New(store, server.Options{Token: f.token, Logger: log, AllowOrigins: f.origins})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	abs, _ := filepath.Abs(o.Dir)
	log.Info("serving", "http", "http://"+ln.Addr().String(), "dir", abs, "engine", o.Engine.String(),
		"sync", o.Sync.String(), "actors", st.Actors, "sequence", st.CurrentSequence,
		"auth", f.token != "", "started_in", time.Since(start).Round(time.Millisecond))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		closeStore()
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
	closeStore()
	log.Info("stopped")
	return nil
}
