package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/actorstore/actorstore/host"
)

// fakeCluster is a store that reports itself a cluster node, recording
// the membership calls it gets.
type fakeCluster struct {
	host.API
	members []Member
	leader  string
	ready   error
}

func (f *fakeCluster) Status(ctx context.Context) (Status, error) {
	return Status{NodeID: "n1", Role: "follower", Leader: Peer{ID: "n2", HTTP: "http://n2:7070"}, Term: 7,
		CommitIndex: 40, AppliedIndex: 39, Sequence: 12, Members: f.members}, nil
}

func (f *fakeCluster) Ready(ctx context.Context) error { return f.ready }

func (f *fakeCluster) AddMember(ctx context.Context, m Member) error {
	f.members = append(f.members, m)
	return nil
}

func (f *fakeCluster) RemoveMember(ctx context.Context, id string) error {
	for i, m := range f.members {
		if m.ID == id {
			f.members = append(f.members[:i], f.members[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("no member %q: %w", id, host.ErrNotFound)
}

func (f *fakeCluster) TransferLeadership(ctx context.Context, id string) error {
	f.leader = id
	return nil
}

func TestClusterRoutes(t *testing.T) {
	fc := &fakeCluster{API: openStore(t), ready: fmt.Errorf("no leader yet: %w", ErrUnavailable)}
	url := newLoopback(t, New(fc, Options{Registerer: newRegistry(), Logger: testLogger(t)}))
	do := func(method, path, body string) *response {
		t.Helper()
		return doURL(t, method, url+path, body)
	}
	r := do("GET", "/readyz", "")
	expectError(t, r, 503, "UNAVAILABLE")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	fc.ready = nil
	expectStatus(t, do("GET", "/readyz", ""), 200)
	expectStatus(t, do("POST", "/v1/cluster/members", `{"id":"n3","raft":"10.0.0.3:7071","http":"http://10.0.0.3:7070","voter":false}`), 200)
	r = do("GET", "/v1/status", "")
	want := `{"nodeId":"n1","role":"follower","leader":{"id":"n2","http":"http://n2:7070"},"term":7,"commitIndex":40,"appliedIndex":39,"sequence":12,` +
		`"members":[{"id":"n3","raft":"10.0.0.3:7071","http":"http://10.0.0.3:7070","voter":false}]}` + "\n"
	if string(r.body) != want {
		t.Errorf("status %s, want %s", r.body, want)
	}
	for _, b := range []string{`{"id":"n4"}`, `{"id":"n4","raft":"x","bogus":1}`, `[1]`, `{`} {
		expectError(t, do("POST", "/v1/cluster/members", b), 400, "INVALID_ARGUMENT")
	}
	expectStatus(t, do("POST", "/v1/cluster/leader", `{"id":"n3"}`), 200)
	expectStatus(t, do("POST", "/v1/cluster/leader", ``), 200)
	if fc.leader != "" {
		t.Errorf("leader %q after a transfer to any", fc.leader)
	}
	expectStatus(t, do("DELETE", "/v1/cluster/members/n3", ""), 200)
	expectError(t, do("DELETE", "/v1/cluster/members/n3", ""), 404, "NOT_FOUND")
	if len(fc.members) != 0 {
		t.Errorf("members %v", fc.members)
	}
}

func doURL(t testing.TB, method, url, body string) *response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// failingStore fails every call with err.
type failingStore struct {
	host.API
	err error
}

func (f failingStore) Get(ctx context.Context, typ, id string) (host.Actor, bool, error) {
	return host.Actor{}, false, f.err
}

func TestStoreFailures(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{host.ErrInternal, 500, "INTERNAL"},
		{errors.New("disk on fire"), 500, "INTERNAL"},
		{fmt.Errorf("wrapped: %w", ErrUnavailable), 503, "UNAVAILABLE"},
		{host.ErrClosed, 503, "UNAVAILABLE"},
		{context.DeadlineExceeded, 503, "UNAVAILABLE"},
		{&host.BatchError{Index: 3, Err: host.ErrStoreFull}, 507, "STORE_FULL"},
	} {
		url := newLoopback(t, New(failingStore{API: openStore(t), err: c.err}, Options{Registerer: newRegistry(), Logger: testLogger(t)}))
		r := doURL(t, "GET", url+"/v1/actors/a/1", "")
		m := expectError(t, r, c.status, c.code)
		if m["message"] != c.err.Error() {
			t.Errorf("message %v, want %q", m["message"], c.err.Error())
		}
	}
}

func TestStoreFull(t *testing.T) {
	ts := newTestServer(t, host.Options{MaxDataBytes: 4096}, Options{})
	for i := 0; ; i++ {
		r := ts.do("POST", fmt.Sprintf("/v1/actors/a/%d", i), []byte(`"`+strings.Repeat("x", 500)+`"`))
		if r.status == 507 {
			expectError(t, r, 507, "STORE_FULL")
			break
		}
		expectStatus(t, r, 201)
		if i > 100 {
			t.Fatal("never full")
		}
	}
	m := expectError(t, ts.do("POST", "/v1/batch", []byte(`{"ops":[{"op":"delete","type":"a","id":"0"},{"op":"insert","type":"a","id":"big","value":"`+strings.Repeat("y", 2000)+`"}]}`)), 507, "STORE_FULL")
	if m["index"] != json.Number("1") {
		t.Errorf("index %v", m["index"])
	}
}

// TestWatchRestored: a restore ends watchers with 4409 RESTORED.
func TestWatchRestored(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	ts.write(t, "a", "1", 1)
	snap := ts.do("GET", "/v1/snapshot", nil)
	expectStatus(t, snap, 200)
	c := ts.dial(t, "?from=now")
	waitSubscribers(t, ts, 1)
	expectStatus(t, ts.do("POST", "/v1/restore", snap.body), 200)
	ts.write(t, "a", "2", 1)
	expectClose(t, c, 4409, "RESTORED: ")
}
