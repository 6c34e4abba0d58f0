package server

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/actorstore/actorstore/host"
)

// Change page sizes.
const (
	DefaultChangesLimit = 1000
	MaxChangesLimit     = 10000
)

// changes answers a page of the change feed after since. With wait it
// long-polls: an empty page waits, up to wait (capped at MaxWait), for
// the next matching event, through a subscription that starts where the
// page ended, so that it is woken by the store's next commit rather than
// by polling.
func (s *Server) changes(r *request) error {
	q, err := query(r, "since", "type", "prefix", "limit", "wait", "consistency")
	if err != nil {
		return err
	}
	since, err := uintParam(q, "since", 0)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", DefaultChangesLimit, 1, MaxChangesLimit)
	if err != nil {
		return err
	}
	var wait time.Duration
	if w, ok := q["wait"]; ok {
		if wait, err = time.ParseDuration(w[0]); err != nil || wait < 0 {
			return errorf(http.StatusBadRequest, codeInvalidArgument, "wait must be a duration such as 30s; got %q", w[0])
		}
		wait = min(wait, s.opts.MaxWait)
	}
	f := host.Filter{ActorType: q.Get("type"), KeyPrefix: q.Get("prefix")}
	ctx, err := readContext(r)
	if err != nil {
		return err
	}
	page, err := s.store.Changes(ctx, since, f, limit)
	if err != nil {
		return err
	}
	if len(page.Events) == 0 && wait > 0 && page.Next < math.MaxUint64 {
		if page, err = s.longPoll(ctx, page, f, limit, wait); err != nil {
			return err
		}
	}
	e := r.enc().object(2).key("events").array(len(page.Events))
	for i := range page.Events {
		e.event(&page.Events[i])
	}
	e.end().key("next").uint(page.Next)
	return r.respond(http.StatusOK, e.end())
}

// longPoll waits for an event after page.Next matching f, then reads the
// page from there. It returns the empty page when wait passes or the
// server shuts down first.
func (s *Server) longPoll(ctx context.Context, page host.ChangePage, f host.Filter, limit int, wait time.Duration) (host.ChangePage, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	stop := context.AfterFunc(s.downCtx, cancel)
	defer stop()
	sub, err := s.store.Subscribe(wctx, host.SubscriptionOptions{Start: host.FromSequence(page.Next + 1), Filter: f})
	if err == nil {
		defer sub.Close()
		_, err = sub.Next(wctx)
	}
	if err != nil {
		// The wait ran out, or the server is shutting down: the empty
		// page. The request's end or a store error: that.
		if ctx.Err() == nil && wctx.Err() != nil {
			return page, nil
		}
		return page, err
	}
	return s.store.Changes(ctx, page.Next, f, limit)
}
