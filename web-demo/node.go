package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// node runs one `actorstore serve` for the board, on a durable store in
// dir, and can stop and start it again (on the same address and
// directory): the page's "Stop server" pulls the plug on every replica.
type node struct {
	bin, dir string
	args     []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	addr string // host:port, kept across restarts
	done chan struct{}
}

var servingLine = regexp.MustCompile(`msg=serving http=http://(\S+)`)

// start starts the node unless it runs, and waits until it serves.
func (n *node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil
	}
	addr := n.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// Raft listens on a port of its own choosing: the demo's node is a
	// one-member cluster, and nothing dials it.
	args := append([]string{"serve", "--dir", n.dir, "--http", addr, "--raft", "127.0.0.1:0"}, n.args...)
	cmd := exec.Command(n.bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", n.bin, err)
	}
	served := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(os.Stderr, "actorstore:", line)
			if m := servingLine.FindStringSubmatch(line); m != nil {
				select {
				case served <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case a := <-served:
		n.cmd, n.addr, n.done = cmd, a, done
		return nil
	case <-done:
		return fmt.Errorf("%s serve exited before serving (see its log above)", n.bin)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return fmt.Errorf("%s serve did not serve within 30 s", n.bin)
	}
}

// stop stops the node (SIGTERM, then SIGKILL after 10 s) and waits.
func (n *node) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

func (n *node) url() *url.URL {
	n.mu.Lock()
	defer n.mu.Unlock()
	return &url.URL{Scheme: "http", Host: n.addr}
}

// proxy passes /v1/ (HTTP and the watch's WebSocket) to the node, so that
// pages reach it on their own origin. While the node is stopped it
// answers 503 UNAVAILABLE, as the node itself does when it cannot serve.
func (n *node) proxy() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(n.url())
			r.Out.Host = r.In.Host // the node checks Origin against its Host: same origin
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			unavailable(w)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.running() {
			unavailable(w)
			return
		}
		rp.ServeHTTP(w, r)
	})
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"code":"UNAVAILABLE","message":"the board's actorstore node is stopped"}`+"\n")
}

// control serves the page's switch: GET /demo/node → {"running"}; POST
// /demo/node/stop, /demo/node/start.
func (n *node) control() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/demo/node" && r.Method == http.MethodGet:
		case r.URL.Path == "/demo/node/stop" && r.Method == http.MethodPost:
			n.stop()
			log.Print("actorstore node stopped from the page")
		case r.URL.Path == "/demo/node/start" && r.Method == http.MethodPost:
			if err := n.start(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			log.Print("actorstore node started from the page")
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{"running": n.running()})
	})
}

// withNode routes /v1/ to the node and /demo/node to its switch, the
// rest to h.
func withNode(n *node, h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", n.proxy())
	mux.Handle("/demo/node", n.control())
	mux.Handle("/demo/node/", n.control())
	mux.Handle("/", h)
	return mux
}
