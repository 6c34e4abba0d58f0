package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorstore/actorstore/cluster"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// These tests run the command line in this process against a server on
// loopback: arguments in, exit status, stdout and stderr out.

// testServer serves a fresh in-memory store and returns its URL.
func testServer(t *testing.T, token string) (string, *host.Store) {
	t.Helper()
	s, err := host.Open(context.Background(), host.Options{Engine: host.EngineNative})
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(s, server.Options{Token: token, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
		s.Close(context.Background())
	})
	return srv.URL, s
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command line with stdin and returns what it did.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) check(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout, stdout) || !strings.Contains(r.stderr, stderr) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", r.code, r.stdout, r.stderr,
			code, stdout, stderr)
	}
}

func TestCLIActors(t *testing.T) {
	u, _ := testServer(t, "")
	s := "--server=" + u
	cli(t, "", "insert", "user", "u1", `{"name": "Ann"}`, s).check(t, 0, `{"type":"user","id":"u1","version":0,"value":{"name":"Ann"}}`, "")
	cli(t, "", "insert", "user", "u1", `{}`, s).check(t, 1, "", "actorstore: ALREADY_EXISTS: already exists: user/u1\n")
	cli(t, `{"name": "Ann B."}`+"\n", "update", "user", "u1", s).check(t, 0, `"version":1,"value":{"name":"Ann B."}`, "")
	cli(t, "", "update", "user", "u1", `2`, "--if-version", "0", s).check(t, 1, "", "VERSION_MISMATCH: version mismatch on user/u1: expected 0, actual 1")
	cli(t, "", "update", "user", "u1", `{"$bytes": "00ff"}`, "--if-version", "1", s).check(t, 0, `"version":2,"value":{"$bytes":"00ff"}`, "")
	cli(t, "", "get", "user", "u1", s).check(t, 0, `"value":{"$bytes":"00ff"}`, "")
	cli(t, "", "get", "user", "nobody", s).check(t, 1, "", "NOT_FOUND: user/nobody does not exist")
	cli(t, "", "update", "user", "nobody", "1", s).check(t, 1, "", "NOT_FOUND: not found: user/nobody")
	cli(t, "", "insert", "user", "u2", `{"a": `, s).check(t, 1, "", "INVALID_VALUE")
	cli(t, "", "insert", "", "u2", `1`, s).check(t, 1, "", "INVALID_KEY: invalid key: empty actor type")
	cli(t, "", "insert", "a/b", "c/d e", `"slashes"`, s).check(t, 0, `"type":"a/b","id":"c/d e"`, "")
	cli(t, "", "get", "a/b", "c/d e", s).check(t, 0, `"slashes"`, "")
	r := cli(t, "", "list", "user", s)
	var as []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &as); err != nil || len(as) != 1 || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("list: %q (%v)", r.stdout, err)
	}
	cli(t, "", "delete", "user", "u1", s).check(t, 0, `"id":"u1","version":2`, "")
	cli(t, "", "delete", "user", "u1", s).check(t, 1, "", "NOT_FOUND")
	cli(t, "", "list", "user", s).check(t, 0, "[]\n", "")
}

func TestCLIListPages(t *testing.T) {
	u, st := testServer(t, "")
	for i := range 2500 {
		if _, err := st.Insert(context.Background(), "n", fmt.Sprintf("%04d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	for args, want := range map[string][2]string{
		"":                          {"0000", "2499"},
		"--limit=3":                 {"0000", "0002"},
		"--after=1000":              {"1001", "2499"},
		"--after=1000 --limit=1500": {"1001", "2499"},
	} {
		r := cli(t, "", append([]string{"list", "n", "--server=" + u}, strings.Fields(args)...)...)
		var as []struct{ ID string }
		if err := json.Unmarshal([]byte(r.stdout), &as); err != nil || len(as) == 0 || as[0].ID != want[0] || as[len(as)-1].ID != want[1] {
			t.Errorf("list %s: %d actors, %v; want %s to %s", args, len(as), err, want[0], want[1])
		}
	}
}

func TestCLIBatchAndFeed(t *testing.T) {
	u, _ := testServer(t, "")
	s := "--server=" + u
	cli(t, `{"ops": [{"op": "insert", "type": "t", "id": "a", "value": 1}, {"op": "insert", "type": "t", "id": "b", "value": [true]}]}`,
		"batch", s).check(t, 0, `{"results":[{"actor":{"type":"t","id":"a","version":0,"value":1},"found":true},`, "")
	cli(t, "", "batch", `[{"op": "delete", "type": "t", "id": "zz"}, {"op": "updateVersioned", "type": "t", "id": "a", "value": 2, "expectedVersion": 0}]`, s).
		check(t, 0, `{"results":[{"actor":null,"found":false},{"actor":{"type":"t","id":"a","version":1,"value":2},"found":true}]}`, "")
	cli(t, "", "batch", `[{"op": "update", "type": "t", "id": "b", "value": 0}, {"op": "insert", "type": "t", "id": "a", "value": 0}]`, s).
		check(t, 1, "", "ALREADY_EXISTS: batch operation 1: already exists: t/a")
	cli(t, "", "batch", `[{"op": "upsert", "type": "t", "id": "b", "value": 0}]`, s).check(t, 2, "", "upsert")
	cli(t, "", "changes", "--since=1", "--limit=1", s).check(t, 0, `{"events":[{"sequence":2,"operation":"insert","type":"t","id":"b","previousVersion":null,"previousValue":null,"newVersion":0,"newValue":[true],"timestamp":"`, "")
	cli(t, "", "changes", "--since=3", s).check(t, 0, `{"events":[],"next":3}`, "")
	cli(t, "", "stats", s).check(t, 0, `{"totalEvents":3,"currentSequence":3,`, "")
	cli(t, "", "status", s).check(t, 0, `"role":"leader"`, "")
	cli(t, "", "members", s).check(t, 1, "", "NOT_A_CLUSTER")
}

// TestCLIWatch streams events until the context ends.
func TestCLIWatch(t *testing.T) {
	u, st := testServer(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "--from=beginning", "--type=t", "--server=" + u}, strings.NewReader(""), &out, &errb)
	}()
	for i, id := range []string{"a", "b", "c"} {
		if _, err := st.Insert(context.Background(), "t", id, i); err != nil {
			t.Fatal(err)
		}
		st.Insert(context.Background(), "other", id, i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("watch exited %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("watch printed %q", out.String())
	}
	for i, l := range lines {
		var ev struct {
			Sequence uint64
			Type, ID string
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Type != "t" || ev.Sequence != uint64(2*i+1) {
			t.Errorf("line %d: %s (%v)", i, l, err)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCLISnapshotRestore(t *testing.T) {
	u, st := testServer(t, "")
	s := "--server=" + u
	cli(t, "", "insert", "t", "a", "1", s).check(t, 0, "", "")
	file := filepath.Join(t.TempDir(), "snap")
	cli(t, "", "snapshot", file, s).check(t, 0, "", "")
	var want bytes.Buffer
	if err := st.Snapshot(context.Background(), &want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("snapshot file: %d bytes (%v), the store's snapshot %d", len(got), err, want.Len())
	}
	cli(t, "", "insert", "t", "b", "2", s).check(t, 0, "", "")
	cli(t, string(got), "restore", s).check(t, 0, "", "")
	cli(t, "", "get", "t", "b", s).check(t, 1, "", "NOT_FOUND")
	cli(t, "", "get", "t", "a", s).check(t, 0, `"value":1`, "")
	cli(t, "not a snapshot", "restore", "-", s).check(t, 1, "", "")
	cli(t, "", "restore", filepath.Join(t.TempDir(), "missing"), s).check(t, 1, "", "no such file")
}

func TestCLIAuth(t *testing.T) {
	u, _ := testServer(t, "s3cret")
	cli(t, "", "stats", "--server="+u).check(t, 1, "", "UNAUTHORIZED")
	cli(t, "", "stats", "--server="+u, "--token=wrong").check(t, 1, "", "UNAUTHORIZED")
	cli(t, "", "stats", "--server="+u, "--token=s3cret").check(t, 0, `"actors":0`, "")
	t.Setenv("ACTORSTORE_TOKEN", "s3cret")
	t.Setenv("ACTORSTORE_SERVER", u)
	cli(t, "", "stats").check(t, 0, `"actors":0`, "")
}

func TestCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		{"get", "t"}, {"get", "a", "b", "c"}, {"frob"}, {"get", "--bogus", "a", "b"}, {"watch", "--from=yesterday"},
		{"update", "t", "a", "1", "--if-version=x"}, {"update", "t", "a", "1", "--if-version=-1"}, {"serve", "--engine=jit"}, {"serve", "--sync=sometimes"},
		{"insert", "t", "a"}, {"list", "t", "--limit=-1"}, {"stats", "--server=ftp://x"},
	} {
		r := cli(t, "", args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "actorstore: ") || !strings.Contains(r.stderr, "--help") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a usage message", args, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{{"--help"}, {"get", "--help"}, {"serve", "--help"}, {"completion", "bash"}} {
		if r := cli(t, "", args...); r.code != 0 || r.stdout == "" {
			t.Errorf("%q: exit %d, %d bytes of output", args, r.code, len(r.stdout))
		}
	}
}

// TestCLIUnreachable checks the message when no server answers.
func TestCLIUnreachable(t *testing.T) {
	cli(t, "", "stats", "--server=http://127.0.0.1:1").check(t, 1, "", "connection refused")
}

// TestCLIMembers lists the members of a two-member cluster served in this
// process, through either node.
func TestCLIMembers(t *testing.T) {
	ctx := context.Background()
	var urls []string
	for i := range 2 {
		srv := httptest.NewUnstartedServer(nil)
		o := cluster.Options{Dir: t.TempDir(), NodeID: fmt.Sprintf("m%d", i+1), RaftAddr: "127.0.0.1:0",
			HTTP: "http://" + srv.Listener.Addr().String(), Store: host.Options{Engine: host.EngineNative},
			HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
			LeaderLeaseTimeout: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
		if i > 0 {
			o.Join = urls[:1]
		}
		n, err := cluster.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		h := server.New(n, server.Options{Logger: slog.New(slog.DiscardHandler)})
		srv.Config.Handler = h
		srv.Start()
		urls = append(urls, srv.URL)
		t.Cleanup(func() {
			h.Close()
			srv.Close()
			n.Close(ctx)
		})
		if i == 0 {
			// The first node leads its cluster of one before the second joins.
			if _, err := n.Stats(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, u := range urls {
		r := cli(t, "", "members", "--server="+u)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 2 {
			t.Fatalf("members through %s: exit %d, %q, %q", u, r.code, r.stdout, r.stderr)
		}
		for i, l := range lines {
			var m struct {
				ID, Raft, HTTP string
				Voter          bool
			}
			if err := json.Unmarshal([]byte(l), &m); err != nil || m.ID != fmt.Sprintf("m%d", i+1) || m.HTTP != urls[i] ||
				!strings.HasPrefix(m.Raft, "127.0.0.1:") || !m.Voter {
				t.Errorf("member %d through %s: %s (%v)", i, u, l, err)
			}
		}
	}
}
