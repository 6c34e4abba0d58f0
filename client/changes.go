package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/actorstore/actorstore/host"
)

// Changes returns up to limit events with a sequence greater than since
// that match f (0 means host.DefaultChangesLimit), as
// host.Store.Changes does; continue from the page's Next.
//
// # Errors
//
// A *host.CompactedError (errors.Is host.ErrCompacted) when events after
// since were evicted; host.ErrInvalidArgument for a negative limit.
func (c *Client) Changes(ctx context.Context, since uint64, f host.Filter, limit int) (host.ChangePage, error) {
	return c.ChangesWait(ctx, since, f, limit, 0)
}

// maxChangesPage is the most events the server gives per request; larger
// limits are read in several requests.
const maxChangesPage = 10_000

// ChangesWait is Changes as a long poll: when no event matches yet it
// waits up to wait (the server caps it) for one, and returns an empty
// page with the same Next if none came.
func (c *Client) ChangesWait(ctx context.Context, since uint64, f host.Filter, limit int, wait time.Duration) (host.ChangePage, error) {
	if limit < 0 {
		return host.ChangePage{}, localError(host.ErrInvalidArgument, "INVALID_ARGUMENT",
			fmt.Sprintf("invalid argument: negative limit %d", limit))
	}
	if limit == 0 {
		limit = host.DefaultChangesLimit
	}
	out := host.ChangePage{Events: []host.ChangeEvent{}, Next: since}
	for {
		n := min(limit-len(out.Events), maxChangesPage)
		p, err := c.changesPage(ctx, out.Next, f, n, wait)
		if err != nil {
			return host.ChangePage{}, err
		}
		out.Events = append(out.Events, p.Events...)
		out.Next = p.Next
		// A short page ends the feed, or was cut by size: the store's
		// own page would end there too.
		if len(p.Events) < n || len(out.Events) >= limit {
			return out, nil
		}
		wait = 0
	}
}

// changesPage reads one page of at most maxChangesPage events.
func (c *Client) changesPage(ctx context.Context, since uint64, f host.Filter, limit int, wait time.Duration) (host.ChangePage, error) {
	q := url.Values{"since": {strconv.FormatUint(since, 10)}, "limit": {strconv.Itoa(limit)}}
	if f.ActorType != "" {
		q.Set("type", f.ActorType)
	}
	if f.KeyPrefix != "" {
		q.Set("prefix", f.KeyPrefix)
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	r, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/changes", query: q, read: true})
	if err != nil {
		return host.ChangePage{}, err
	}
	return read(r, func(b []byte) (host.ChangePage, error) {
		evs, m, err := readList(b, "events", readEvent)
		p := host.ChangePage{Events: evs}
		if err == nil {
			err = field(m, "next", &p.Next)
		}
		return p, err
	})
}

// Stats returns the store's statistics.
func (c *Client) Stats(ctx context.Context) (host.Stats, error) {
	r, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/stats", read: true})
	if err != nil {
		return host.Stats{}, err
	}
	var w wireStats
	if err := decode(r, &w); err != nil {
		return host.Stats{}, err
	}
	return w.stats(), nil
}

// Status describes the node the client talks to (GET /v1/status).
type Status struct {
	NodeID       string   `cbor:"nodeId" json:"nodeId"`
	Role         string   `cbor:"role" json:"role"` // "leader", "follower", "candidate" or "learner"
	Leader       *Peer    `cbor:"leader" json:"leader"`
	Term         uint64   `cbor:"term" json:"term"`
	CommitIndex  uint64   `cbor:"commitIndex" json:"commitIndex"`
	AppliedIndex uint64   `cbor:"appliedIndex" json:"appliedIndex"`
	Sequence     uint64   `cbor:"sequence" json:"sequence"`
	Members      []Member `cbor:"members" json:"members"`
}

// Peer names a node: its id and HTTP address.
type Peer struct {
	ID   string `cbor:"id" json:"id"`
	HTTP string `cbor:"http" json:"http"`
}

// Member is a member of a cluster.
type Member struct {
	ID    string `cbor:"id" json:"id"`
	Raft  string `cbor:"raft" json:"raft"`
	HTTP  string `cbor:"http" json:"http"`
	Voter bool   `cbor:"voter" json:"voter"`
}

// Status returns the contacted node's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	r, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/status"})
	if err != nil {
		return Status{}, err
	}
	var s Status
	if err := decode(r, &s); err != nil {
		return Status{}, err
	}
	return s, nil
}

// Snapshot writes the store's portable snapshot stream to w (the format
// of host.Store.Snapshot). It is not retried once bytes have been
// written to w.
func (c *Client) Snapshot(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, &request{method: http.MethodGet, path: "/v1/snapshot", stream: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("actorstore: snapshot: %v", err)
	}
	return nil
}

// Restore replaces the store's contents with the snapshot stream read
// from r, as host.Store.Restore does; open subscriptions end with
// host.ErrRestored. The stream is sent once: a network error is not
// retried, as r cannot be read again.
func (c *Client) Restore(ctx context.Context, r io.Reader) error {
	if c.isClosed() {
		return host.ErrClosed
	}
	key := idempotencyKey(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/restore", nil), r)
	if err != nil {
		return fmt.Errorf("actorstore: restore: %v", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", cborType)
	req.Header.Set("Idempotency-Key", key)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.netError(&request{method: http.MethodPost, path: "/v1/restore"}, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return decodeError(resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return nil
}
