package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secret = "SECRET-outside-the-served-folders"

// fakeRoot lays out a minimal repository: the files the server requires,
// one of each served kind, and secrets in places it must never serve.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                          "module x // " + secret,
		"host/actorstore.wasm":            "\x00asm\x01\x00\x00\x00",
		"web-demo/index.html":             "<!doctype html><title>board</title>",
		"web-demo/app.js":                 "export {};",
		"web-demo/style.css":              "body{}",
		"web-demo/main.go":                "package main // " + secret,
		"web-demo/e2e/vectors.html":       "<!doctype html>",
		"web-demo/.hidden":                secret,
		"js/actorstore.js":                "export {};",
		"js/lib/engine.js":                "export {};",
		"js/package.json":                 "{}",
		"js/test/vectors.js":              "export {};",
		"js/test/x.mjs":                   "export {};",
		"js/node_modules/cbor-x/index.js": "export * from './encode.js';",
		"js/node_modules/other/index.js":  secret,
		"tests/vectors/README.md":         "# vectors",
		"tests/vectors/crud.json":         `{"name":"crud"}`,
		"tests/secret.txt":                secret,
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A symbolic link inside a served folder is followed.
	if err := os.Symlink(filepath.Join("..", "host", "actorstore.wasm"), filepath.Join(root, "js", "actorstore.wasm")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	return root
}

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	h, err := newHandler(fakeRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestServesFilesWithTypes(t *testing.T) {
	srv := newTestServer(t)
	for _, c := range []struct{ path, ctype, body string }{
		{"/", "text/html; charset=utf-8", "<!doctype html><title>board</title>"},
		{"/index.html", "text/html; charset=utf-8", "<!doctype html><title>board</title>"},
		{"/app.js", "text/javascript; charset=utf-8", "export {};"},
		{"/style.css", "text/css; charset=utf-8", "body{}"},
		{"/e2e/vectors.html", "text/html; charset=utf-8", "<!doctype html>"},
		{"/actorstore/actorstore.js", "text/javascript; charset=utf-8", "export {};"},
		{"/actorstore/actorstore.wasm", "application/wasm", "\x00asm\x01\x00\x00\x00"},
		{"/actorstore/lib/engine.js", "text/javascript; charset=utf-8", "export {};"},
		{"/actorstore/test/vectors.js", "text/javascript; charset=utf-8", "export {};"},
		{"/actorstore/test/x.mjs", "text/javascript; charset=utf-8", "export {};"},
		{"/vendor/cbor-x/index.js", "text/javascript; charset=utf-8", "export * from './encode.js';"},
		{"/tests/vectors/crud.json", "application/json", `{"name":"crud"}`},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: status %d", c.path, resp.StatusCode)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", c.path, got)
		}
		if string(body) != c.body {
			t.Errorf("GET %s: body %q, want %q", c.path, body, c.body)
		}
	}
}

func TestNotFound(t *testing.T) {
	srv := newTestServer(t)
	for _, p := range []string{
		"/missing.js",
		"/main.go",          // the server's source is not part of the app
		"/.hidden",          // hidden files
		"/e2e/",             // no listings (and no index.html there)
		"/actorstore/test/", // no listings
		"/actorstore/lib/",  // no listings
		"/actorstore/node_modules/other/index.js", // only the package's files and test/
		"/actorstore/missing.wasm",
		"/tests/vectors/",
		"/tests/secret.txt", // not under a served folder
		"/vendor/other/index.js",
	} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
		}
		if strings.Contains(string(body), secret) {
			t.Errorf("GET %s: served a secret", p)
		}
	}
}

// rawGet sends the request line as written: Go's client would clean it.
func rawGet(t *testing.T, srv *httptest.Server, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestNoPathTraversal(t *testing.T) {
	srv := newTestServer(t)
	for _, target := range []string{
		"/../go.mod",
		"/actorstore/../go.mod",
		"/actorstore/../../go.mod",
		"/actorstore/%2e%2e/go.mod",
		"/actorstore/..%2fgo.mod",
		"/actorstore/test/../../go.mod",
		"/actorstore/node_modules/../../tests/secret.txt",
		"/vendor/cbor-x/../other/index.js",
		"/vendor/cbor-x/%2e%2e%2f%2e%2e%2f%2e%2e%2fgo.mod",
		"/tests/vectors/../secret.txt",
		"/tests/vectors/..%5csecret.txt",
		"/tests/vectors/%2e%2e%5c%2e%2e%5cgo.mod",
		"/e2e/../main.go",
		"/./main.go",
		"//go.mod",
		"/app.js%00.go",
	} {
		code, body := rawGet(t, srv, target)
		if code == 200 || strings.Contains(body, secret) {
			t.Errorf("GET %s: status %d, body %q", target, code, body)
		}
	}
}

func TestMethods(t *testing.T) {
	srv := newTestServer(t)
	resp, err := http.Post(srv.URL+"/app.js", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
	resp, err = http.Head(srv.URL + "/actorstore/actorstore.wasm")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("HEAD wasm: status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestMissingCBORX(t *testing.T) {
	root := fakeRoot(t)
	if err := os.RemoveAll(filepath.Join(root, "js", "node_modules")); err != nil {
		t.Fatal(err)
	}
	_, err := newHandler(root)
	if err == nil || !strings.Contains(err.Error(), "run npm ci in js/") {
		t.Fatalf("newHandler without cbor-x: %v, want a hint to run npm ci", err)
	}
}

func TestFindRoot(t *testing.T) {
	root := fakeRoot(t)
	deep := filepath.Join(root, "web-demo", "e2e")
	got, err := findRoot(deep)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(root); got != root && got != want {
		t.Errorf("findRoot(%s) = %s, want %s", deep, got, root)
	}
	// A directory with go.mod but no js/ is not the root.
	lone := t.TempDir()
	if err := os.WriteFile(filepath.Join(lone, "go.mod"), []byte("module y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := findRoot(lone); err == nil && got == lone {
		t.Errorf("findRoot(%s) = %s: a go.mod without js/ is not the root", lone, got)
	}
}
