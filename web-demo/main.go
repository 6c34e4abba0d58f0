// Command web-demo serves the browser demo of Actor Store: a shared task
// board driven by the JS host (js/actorstore.js) and the same
// actorstore.wasm the Go host runs.
//
//	go build -o /tmp/actorstore ./cmd/actorstore
//	go run ./web-demo -actorstore /tmp/actorstore   # http://localhost:8080 (./build.sh demo does this)
//	go run ./web-demo -addr 127.0.0.1:0             # any free port; the real one is printed
//
// With -actorstore it runs the board's server: one `actorstore serve` node
// on a durable store in -data (./demo-data), which every page's replica
// follows, and which the page can stop and start again ("pull the plug").
//
// It serves, from the repository root:
//
//	/                 web-demo/ (the app and the e2e test pages; no .go files)
//	/actorstore/      js/: actorstore.js, lib/, actorstore.wasm, … and js/test/
//	/vendor/cbor-x/   js/node_modules/cbor-x/ (the page maps "cbor-x" here)
//	/tests/vectors/   tests/vectors/ (the conformance vectors)
//	/v1/              the node's HTTP API and watch (proxied: pages reach it on their own origin)
//	/demo/node        the node's switch: GET {"running"}, POST /demo/node/stop, /demo/node/start
//
// Every response says Cache-Control: no-cache, so a rebuilt module or an
// edited script is picked up on reload. Only files are served (no listings);
// URL paths with "..", backslashes or hidden (dot) segments are refused, so
// nothing outside those folders is reachable through a URL. Symbolic links
// inside them are followed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on (port 0 picks a free one)")
	rootFlag := flag.String("root", "", "repository root (default: the nearest directory above the working directory holding go.mod and js/)")
	nodeBin := flag.String("actorstore", "", "the actorstore binary: run the board's server node with it (without it, /v1/ answers 503)")
	dataDir := flag.String("data", "demo-data", "the board's store directory (with -actorstore)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("web-demo: ")

	root := *rootFlag
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			log.Fatal(err)
		}
		if root, err = findRoot(wd); err != nil {
			log.Fatal(err)
		}
	}
	h, err := newHandler(root)
	if err != nil {
		log.Fatal(err)
	}
	// The board's node: a replay buffer as small as the pages' (100 events,
	// 32 KiB), so that a page offline for long enough re-syncs.
	n := &node{bin: *nodeBin, dir: *dataDir, args: []string{"--replay-buffer-size", "100", "--replay-buffer-bytes", "32768"}}
	if *nodeBin != "" {
		if err := n.start(); err != nil {
			log.Fatal(err)
		}
		log.Printf("the board's actorstore node serves %s, data in %s", n.url(), *dataDir)
	}
	err = serve(*addr, withNode(n, h))
	n.stop()
	if err != nil {
		log.Fatal(err)
	}
}

// serve listens on addr, prints the URL once listening and serves until
// SIGINT or SIGTERM.
func serve(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	// Print the real port (with -addr host:0), keeping the host as given.
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if host == "" {
		host = "localhost"
	}
	fmt.Printf("serving http://%s\n", net.JoinHostPort(host, port))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	}
}

// findRoot walks up from dir to the first directory holding go.mod and js/.
func findRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if isFile(filepath.Join(d, "go.mod")) && isDir(filepath.Join(d, "js")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no directory holding go.mod and js/ at or above %s: run from the repository or pass -root", dir)
		}
		d = parent
	}
}

// mount serves the files of dir under the URL prefix (which ends in "/").
type mount struct {
	prefix string
	dir    string
	// allow, when set, says whether a relative slash path may be served.
	allow func(rel string) bool
}

type handler struct{ mounts []mount } // longest prefix first

// newHandler checks that root holds what the demo needs and returns the
// handler serving it.
func newHandler(root string) (http.Handler, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	need := []struct{ rel, hint string }{
		{"web-demo/index.html", "is -root the repository root?"},
		{"js/actorstore.js", "is -root the repository root?"},
		{"js/actorstore.wasm", "run ./build.sh wasm"},
		{"js/node_modules/cbor-x/index.js", "run npm ci in js/ — ./build.sh demo does it"},
		{"tests/vectors/README.md", "is -root the repository root?"},
	}
	for _, n := range need {
		if !isFile(filepath.Join(root, filepath.FromSlash(n.rel))) {
			return nil, fmt.Errorf("%s is missing under %s: %s", n.rel, root, n.hint)
		}
	}
	j := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	return &handler{mounts: []mount{
		{prefix: "/vendor/cbor-x/", dir: j("js/node_modules/cbor-x")},
		{prefix: "/tests/vectors/", dir: j("tests/vectors")},
		// The package's own files (lib/ included) and its test helpers, not node_modules.
		{prefix: "/actorstore/", dir: j("js"), allow: func(rel string) bool {
			return !strings.Contains(rel, "/") || strings.HasPrefix(rel, "lib/") || strings.HasPrefix(rel, "test/")
		}},
		{prefix: "/", dir: j("web-demo"), allow: func(rel string) bool {
			return path.Ext(rel) != ".go"
		}},
	}}, nil
}

// contentTypes pins the types the browser is strict about (module scripts,
// streaming wasm compilation) instead of trusting the system's mime tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".wasm": "application/wasm",
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".ts":   "text/plain; charset=utf-8",
	".md":   "text/markdown; charset=utf-8",
	".map":  "application/json",
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	for _, m := range h.mounts {
		if rel, ok := strings.CutPrefix(p, m.prefix); ok {
			h.serveFile(w, r, m, rel)
			return
		}
		if p+"/" == m.prefix { // "/actorstore" → "/actorstore/"
			http.Redirect(w, r, m.prefix, http.StatusMovedPermanently)
			return
		}
	}
	http.NotFound(w, r)
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, m mount, rel string) {
	if rel == "" || strings.HasSuffix(rel, "/") {
		rel += "index.html"
	}
	if !safeRel(rel) || (m.allow != nil && !m.allow(rel)) {
		http.NotFound(w, r)
		return
	}
	name := filepath.Join(m.dir, filepath.FromSlash(rel))
	if !strings.HasPrefix(name, m.dir+string(filepath.Separator)) { // belt and braces
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(name)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Printf("%s: %v", r.URL.Path, err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() { // no directory listings
		http.NotFound(w, r)
		return
	}
	ext := strings.ToLower(path.Ext(rel))
	ct, ok := contentTypes[ext]
	if !ok {
		if ct = mime.TypeByExtension(ext); ct == "" {
			ct = "application/octet-stream"
		}
	}
	w.Header().Set("Content-Type", ct)
	http.ServeContent(w, r, rel, st.ModTime(), f)
}

// safeRel reports whether rel is a plain relative slash path: non-empty
// segments, none "." or ".." or hidden, no backslashes or NULs.
func safeRel(rel string) bool {
	if strings.ContainsAny(rel, "\\\x00") {
		return false
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if seg == "" || strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

func isFile(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.Mode().IsRegular()
}

func isDir(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.IsDir()
}
