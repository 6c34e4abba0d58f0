package tests

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorstore/actorstore/host"
)

// The hammer test runs under -race: many goroutines increment a few
// counters with compare-and-swap while one subscriber per actor type reads
// the feed, then the store is closed under a waiting subscriber.

const (
	hammerWorkers    = 16
	hammerIncrements = 100 // successful compare-and-swaps per worker
)

// hammerActors are the counters; their types are what subscribers filter.
var hammerActors = []mkey{{"counter", "a"}, {"counter", "b"}, {"gauge", "a"}, {"gauge", "b"}}

var hammerTypes = []string{"counter", "gauge"}

// TestHammer runs the hammer on both engines, embedded and through the
// HTTP server and client.
func TestHammer(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.String(), func(t *testing.T) { hammer(t, tg) })
	}
}

func hammer(t *testing.T, tg target) {
	ctx := context.Background()
	s := openTarget(t, tg, host.Options{ReplayBufferSize: 100_000})
	subs := map[string]*collector{}
	for _, typ := range hammerTypes {
		subs[typ] = subscribe(t, s, typ)
	}
	for _, k := range hammerActors {
		if _, err := s.Insert(ctx, k.typ, k.id, uint64(0)); err != nil {
			t.Fatal(err)
		}
	}
	wins, conflicts := runWorkers(t, s)
	t.Logf("%d increments, %d version conflicts retried", hammerWorkers*hammerIncrements, conflicts)
	if conflicts == 0 {
		t.Error("no compare-and-swap conflicted: the hammer did not hammer")
	}
	checkCounters(t, s, wins)
	feed := readFeed(t, s)
	checkFeed(t, feed, wins)
	for typ, c := range subs {
		c.check(t, typ, filterType(feed, typ))
	}
	closeUnderSubscribers(t, s, subs)
}

// runWorkers runs the incrementing goroutines and returns the successful
// compare-and-swaps per actor and the conflicts retried.
func runWorkers(t *testing.T, s host.API) (map[mkey]int, int64) {
	wins := make([]atomic.Int64, len(hammerActors))
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for w := range hammerWorkers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range hammerIncrements {
				i := r.IntN(len(hammerActors))
				n, err := increment(s, hammerActors[i])
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				wins[i].Add(1)
				conflicts.Add(int64(n))
			}
		})
	}
	wg.Wait()
	out := map[mkey]int{}
	for i, k := range hammerActors {
		out[k] = int(wins[i].Load())
	}
	return out, conflicts.Load()
}

// increment adds one to a counter with get and compare-and-swap, retrying
// on version mismatches, and returns how many it retried.
func increment(s host.API, k mkey) (int, error) {
	ctx := context.Background()
	for retries := 0; ; retries++ {
		a, ok, err := s.Get(ctx, k.typ, k.id)
		if err != nil || !ok {
			return retries, fmt.Errorf("get %v: %v (found %v)", k, err, ok)
		}
		var n uint64
		if err := a.Decode(&n); err != nil {
			return retries, err
		}
		if n != a.Version {
			return retries, fmt.Errorf("%v holds %d at version %d", k, n, a.Version)
		}
		runtime.Gosched() // let others write in between: conflicts are the point
		_, err = s.UpdateVersioned(ctx, k.typ, k.id, n+1, a.Version)
		if err == nil {
			return retries, nil
		}
		var vm *host.VersionMismatchError
		if !errors.As(err, &vm) || vm.Expected != a.Version || vm.Actual <= a.Version {
			return retries, fmt.Errorf("update %v at version %d: %v", k, a.Version, err)
		}
	}
}

// checkCounters checks that each counter's version and value equal its
// successful compare-and-swaps.
func checkCounters(t *testing.T, s host.API, wins map[mkey]int) {
	for _, k := range hammerActors {
		a, ok, err := s.Get(context.Background(), k.typ, k.id)
		var n uint64
		if err == nil {
			err = a.Decode(&n)
		}
		if err != nil || !ok || a.Version != uint64(wins[k]) || n != uint64(wins[k]) {
			t.Errorf("%v: version %d value %d (found %v, %v), want %d", k, a.Version, n, ok, err, wins[k])
		}
	}
}

// readFeed reads every event from the start, page by page.
func readFeed(t *testing.T, s host.API) []host.ChangeEvent {
	var all []host.ChangeEvent
	for since := uint64(0); ; {
		p, err := s.Changes(context.Background(), since, host.Filter{}, 100)
		if err != nil {
			t.Fatalf("changes since %d: %v", since, err)
		}
		all = append(all, p.Events...)
		if p.Next == since {
			return all
		}
		since = p.Next
	}
}

// checkFeed checks that the feed holds the inserts and every update, with
// gap-free sequences, and per actor versions 1..n in order, each update
// starting from the previous one's value.
func checkFeed(t *testing.T, feed []host.ChangeEvent, wins map[mkey]int) {
	total := len(hammerActors)
	for _, n := range wins {
		total += n
	}
	if len(feed) != total {
		t.Fatalf("feed has %d events, want %d", len(feed), total)
	}
	last := map[mkey]*host.ChangeEvent{}
	for i := range feed {
		ev := &feed[i]
		if ev.Sequence != uint64(i+1) {
			t.Fatalf("event %d has sequence %d", i, ev.Sequence)
		}
		k := mkey{ev.ActorType, ev.ActorID}
		if err := checkChain(last[k], ev); err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		last[k] = ev
	}
	for k, n := range wins {
		if last[k] == nil || *last[k].NewVersion != uint64(n) {
			t.Errorf("%v: last event %v, want version %d", k, last[k], n)
		}
	}
}

// checkChain checks that ev follows prev, the actor's previous event.
func checkChain(prev, ev *host.ChangeEvent) error {
	if prev == nil {
		if ev.Operation != host.OpInsert || *ev.NewVersion != 0 {
			return fmt.Errorf("first event %v version %s", ev.Operation, fmtVersion(ev.NewVersion))
		}
		return nil
	}
	switch {
	case ev.Operation != host.OpUpdate || ev.PreviousVersion == nil || ev.NewVersion == nil:
		return fmt.Errorf("event #%d is a %v", ev.Sequence, ev.Operation)
	case *ev.PreviousVersion != *prev.NewVersion || *ev.NewVersion != *prev.NewVersion+1:
		return fmt.Errorf("event #%d goes from version %d to %d after version %d", ev.Sequence,
			*ev.PreviousVersion, *ev.NewVersion, *prev.NewVersion)
	case string(ev.PreviousValue) != string(prev.NewValue):
		return fmt.Errorf("event #%d starts from value %x, the previous one left %x", ev.Sequence,
			[]byte(ev.PreviousValue), []byte(prev.NewValue))
	}
	return nil
}

func filterType(feed []host.ChangeEvent, typ string) []host.ChangeEvent {
	var out []host.ChangeEvent
	for _, ev := range feed {
		if ev.ActorType == typ {
			out = append(out, ev)
		}
	}
	return out
}

// collector is a subscriber goroutine's record.
type collector struct {
	mu     sync.Mutex
	events []host.ChangeEvent
	err    error         // what ended Next
	done   chan struct{} // closed when the goroutine returns
}

// subscribe starts a subscriber of one actor type, from the beginning.
func subscribe(t *testing.T, s host.API, typ string) *collector {
	sub, err := s.Subscribe(context.Background(), host.SubscriptionOptions{Filter: host.Filter{ActorType: typ}})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			ev, err := sub.Next(context.Background())
			c.mu.Lock()
			if err != nil {
				c.err = err
				c.mu.Unlock()
				return
			}
			c.events = append(c.events, ev)
			c.mu.Unlock()
		}
	}()
	return c
}

// snapshot returns the events seen so far and the error, if any.
func (c *collector) snapshot() ([]host.ChangeEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]host.ChangeEvent(nil), c.events...), c.err
}

// check waits until the subscriber saw as many events as want, then
// checks that they are want, exactly once each and in order, and that
// nothing more arrives.
func (c *collector) check(t *testing.T, typ string, want []host.ChangeEvent) {
	deadline := time.Now().Add(10 * time.Second)
	got, err := c.snapshot()
	for len(got) < len(want) && err == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		got, err = c.snapshot()
	}
	time.Sleep(50 * time.Millisecond)
	got, err = c.snapshot()
	if err != nil || len(got) != len(want) {
		t.Fatalf("%s subscriber saw %d events (%v), want %d", typ, len(got), err, len(want))
	}
	for i := range want {
		if got[i].Sequence != want[i].Sequence || *got[i].NewVersion != *want[i].NewVersion ||
			string(got[i].NewValue) != string(want[i].NewValue) {
			t.Fatalf("%s subscriber event %d: #%d v%d, want #%d v%d", typ, i, got[i].Sequence,
				*got[i].NewVersion, want[i].Sequence, *want[i].NewVersion)
		}
	}
}

// closeUnderSubscribers closes the store while the subscribers wait in
// Next, which must then return ErrClosed, as every later call must.
func closeUnderSubscribers(t *testing.T, s host.API, subs map[string]*collector) {
	ctx := context.Background()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	for typ, c := range subs {
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s subscriber still waits in Next after Close", typ)
		}
		if _, err := c.snapshot(); !errors.Is(err, host.ErrClosed) {
			t.Errorf("%s subscriber's Next returned %v after Close, want ErrClosed", typ, err)
		}
	}
	if _, _, err := s.Get(ctx, "counter", "a"); !errors.Is(err, host.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
}
