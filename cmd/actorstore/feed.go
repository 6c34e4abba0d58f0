package main

import (
	"errors"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/actorstore/actorstore/host"
)

// parseFrom reads a start position: beginning, now, a sequence number or
// an RFC 3339 time.
func parseFrom(s string) (host.StartPosition, error) {
	switch s {
	case "beginning":
		return host.FromBeginning(), nil
	case "now":
		return host.FromNow(), nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return host.FromSequence(n), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return host.FromTime(t), nil
	}
	return host.StartPosition{}, usagef("--from %q: want beginning, now, a sequence number or an RFC 3339 time", s)
}

func newWatch(e *env) *cobra.Command {
	var from string
	var f host.Filter
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Stream change events, one JSON line each",
		Long: `Stream the change feed, one event a line as JSON, until interrupted. It starts
--from now (only new changes; the default), the beginning of the retained
feed, sequence number N, or the first event at or after an RFC 3339 time.
A lost connection is reopened where it stopped, without a gap or a
duplicate. It ends with an error (COMPACTED) if it fell out of the server's
replay buffer.`,
		Example: `  actorstore watch --from beginning --type card`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			start, err := parseFrom(from)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			c, err := e.connect()
			if err != nil {
				return err
			}
			sub, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: start, Filter: f})
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			defer sub.Close()
			for {
				ev, err := sub.Next(ctx)
				if err != nil {
					if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
						return nil
					}
					return err
				}
				j, err := eventJSON(&ev)
				if err != nil {
					return err
				}
				if err := printJSON(e.stdout, j); err != nil {
					return err
				}
			}
		},
	}
	cmd.Flags().StringVar(&from, "from", "now", "where to start: beginning, now, a sequence number or an RFC 3339 time")
	cmd.Flags().StringVar(&f.ActorType, "type", "", "only events of this actor type")
	cmd.Flags().StringVar(&f.KeyPrefix, "prefix", "", "only events of actor ids with this prefix")
	return cmd
}

func newChanges(e *env) *cobra.Command {
	var since uint64
	var limit int
	var wait time.Duration
	var f host.Filter
	cmd := &cobra.Command{
		Use:   "changes",
		Short: "Print a page of the change feed",
		Long: `Print the events after sequence --since (0: from the oldest retained) as
{"events": [...], "next": N}; pass next as --since for the following page.
--wait (such as 30s) waits for an event when there is none yet. COMPACTED
when events after --since were evicted from the replay buffer.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must be 0 (the server's default) or more")
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			p, err := c.ChangesWait(cmd.Context(), since, f, limit, wait)
			if err != nil {
				return err
			}
			out := struct {
				Events []*jsonEvent `json:"events"`
				Next   uint64       `json:"next"`
			}{Events: make([]*jsonEvent, len(p.Events)), Next: p.Next}
			for i := range p.Events {
				if out.Events[i], err = eventJSON(&p.Events[i]); err != nil {
					return err
				}
			}
			return printJSON(e.stdout, out)
		},
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "print events after this sequence number")
	cmd.Flags().StringVar(&f.ActorType, "type", "", "only events of this actor type")
	cmd.Flags().StringVar(&f.KeyPrefix, "prefix", "", "only events of actor ids with this prefix")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many events (0: the server's default, 1000)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for an event when there is none yet")
	return cmd
}
