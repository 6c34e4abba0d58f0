// Command demo embeds Actor Store in a Go program: it inserts actors, shows
// a compare-and-swap conflict between two writers holding the same version,
// and prints the change feed live from a subscription.
//
//	go run ./cmd/demo            # the wasm engine (the default)
//	go run ./cmd/demo -native    # the same, on the native engine
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/actorstore/actorstore/host"
)

type account struct {
	Owner   string `cbor:"owner"`
	Balance int    `cbor:"balance"`
}

func main() {
	native := flag.Bool("native", false, "run the core natively instead of in wazero")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*native); err != nil {
		log.Fatal(err)
	}
}

func run(native bool) error {
	ctx := context.Background()
	// A compilation cache makes every run after the first open in milliseconds.
	opts := host.Options{CacheDir: filepath.Join(os.TempDir(), "actorstore-wazero-cache")}
	if native {
		opts.Engine = host.EngineNative
	}
	start := time.Now()
	s, err := host.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	fmt.Printf("opened the %s engine in %v\n\n", opts.Engine, time.Since(start).Round(time.Millisecond))

	sub, err := s.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromNow(), Filter: host.Filter{ActorType: "account"}})
	if err != nil {
		return err
	}
	progress := make(chan uint64, 64) // sequences printed so far
	go printFeed(ctx, sub, progress)

	for _, id := range []string{"alice", "bob"} {
		if _, err := s.Insert(ctx, "account", id, account{Owner: id, Balance: 100}); err != nil {
			return err
		}
	}
	if err := casConflict(ctx, s); err != nil {
		return err
	}
	if _, err := s.Batch(ctx,
		host.UpdateOp("account", "alice", account{Owner: "alice", Balance: 60}),
		host.UpdateOp("account", "bob", account{Owner: "bob", Balance: 140}),
	); err != nil {
		return err
	}
	if _, _, err := s.Delete(ctx, "account", "bob"); err != nil {
		return err
	}
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	for seq := range progress { // wait for the feed to print the last change
		if seq >= st.CurrentSequence {
			break
		}
	}
	sub.Close()
	fmt.Printf("\nstats: sequence %d, %d events retained, %d dropped, %d actors\n",
		st.CurrentSequence, st.ReplayBufferSize, st.EventsDropped, st.Actors)
	return nil
}

// casConflict has two writers read alice at the same version; the second
// compare-and-swap loses and retries from the fresh version.
func casConflict(ctx context.Context, s *host.Store) error {
	a, _, err := s.Get(ctx, "account", "alice")
	if err != nil {
		return err
	}
	fmt.Printf("writer 1 and writer 2 both read alice at version %d\n", a.Version)
	if _, err := s.UpdateVersioned(ctx, "account", "alice", account{"alice", 90}, a.Version); err != nil {
		return err
	}
	_, err = s.UpdateVersioned(ctx, "account", "alice", account{"alice", 80}, a.Version)
	var vm *host.VersionMismatchError
	if !errors.As(err, &vm) {
		return fmt.Errorf("expected a version mismatch, got %v", err)
	}
	fmt.Printf("writer 2 lost the race: %v\n", err)
	fresh, _, err := s.Get(ctx, "account", "alice")
	if err != nil {
		return err
	}
	var acc account
	if err := fresh.Decode(&acc); err != nil {
		return err
	}
	acc.Balance -= 10
	_, err = s.UpdateVersioned(ctx, "account", "alice", acc, fresh.Version)
	fmt.Printf("writer 2 retried at version %d: %v\n\n", fresh.Version, errOrOK(err))
	return err
}

func errOrOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// printFeed prints events as they come, reporting each one's sequence on
// progress, until the subscription is closed.
func printFeed(ctx context.Context, sub host.Subscription, progress chan<- uint64) {
	defer close(progress)
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if !errors.Is(err, host.ErrClosed) {
				fmt.Fprintln(os.Stderr, "feed:", err)
			}
			return
		}
		var v account
		detail := ""
		if ev.NewValue != nil {
			(&host.Actor{Value: ev.NewValue}).Decode(&v)
			detail = fmt.Sprintf("balance %d, version %d", v.Balance, *ev.NewVersion)
		} else {
			detail = fmt.Sprintf("removed at version %d", *ev.PreviousVersion)
		}
		fmt.Printf("  feed #%d %-6s %s/%s: %s\n", ev.Sequence, ev.Operation, ev.ActorType, ev.ActorID, detail)
		progress <- ev.Sequence
	}
}
