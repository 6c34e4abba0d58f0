package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestNode runs the board's node (a real actorstore serve, built here)
// behind the proxy: the API and the watch on the page's origin, the
// switch stopping it (503 UNAVAILABLE with Retry-After, no data lost) and
// starting it again on the same address and directory.
func TestNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/actorstore")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "actorstore")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/actorstore").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	n := &node{bin: bin, dir: filepath.Join(dir, "data")}
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	srv := httptest.NewServer(withNode(n, http.NotFoundHandler()))
	t.Cleanup(srv.Close)

	do := func(method, path, body string, headers ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	// A page's request carries its own origin: the node takes it as same-origin.
	if code, _, body := do("POST", "/v1/actors/card/c1", `{"t":1}`, "Origin", srv.URL); code != 201 {
		t.Fatalf("insert through the proxy: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/watch?from=1",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {srv.URL}}})
	if err != nil {
		t.Fatalf("watch through the proxy: %v", err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), `"id":"c1"`) {
		t.Fatalf("watch read %q, %v", msg, err)
	}
	ws.CloseNow()

	if code, _, body := do("POST", "/demo/node/stop", ""); code != 200 || !strings.Contains(body, `"running":false`) {
		t.Fatalf("stop: %d %s", code, body)
	}
	code, h, body := do("GET", "/v1/stats", "")
	var e struct{ Code string }
	json.Unmarshal([]byte(body), &e)
	if code != 503 || e.Code != "UNAVAILABLE" || h.Get("Retry-After") == "" {
		t.Fatalf("stopped: %d %v %s", code, h, body)
	}
	if code, _, body := do("POST", "/demo/node/start", ""); code != 200 || !strings.Contains(body, `"running":true`) {
		t.Fatalf("start: %d %s", code, body)
	}
	if code, _, body := do("GET", "/v1/actors/card/c1", ""); code != 200 || !strings.Contains(body, `"t":1`) {
		t.Fatalf("after a restart: %d %s", code, body)
	}
	if code, _, body := do("GET", "/demo/node", ""); code != 200 || !strings.Contains(body, `"running":true`) {
		t.Fatalf("switch state: %d %s", code, body)
	}
	if code, _, _ := do("GET", "/demo/node/stop", ""); code != 404 {
		t.Errorf("GET on the switch: %d, want 404", code)
	}
}
