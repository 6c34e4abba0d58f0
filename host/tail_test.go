package host

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestTailCompacts: a subscriber behind others gets ErrCompacted once the
// engine has evicted the event it needs next, though the shared tail held
// it when the others read it.
func TestTailCompacts(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{ReplayBufferSize: 10})
		slow, _ := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
		fast, _ := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
		for i := range 5 {
			mustInsert(t, s, "a", fmt.Sprint(i))
		}
		for want := uint64(1); want <= 5; want++ {
			if ev, err := fast.Next(ctx); err != nil || ev.Sequence != want {
				t.Fatalf("fast: %d, %v; want %d", ev.Sequence, err, want)
			}
		}
		// The tail holds 1..5; six more writes evict event 1.
		for i := range 6 {
			mustInsert(t, s, "b", fmt.Sprint(i))
		}
		if ev, err := slow.Next(ctx); !errors.Is(err, ErrCompacted) {
			t.Fatalf("slow after eviction: %d, %v, want ErrCompacted", ev.Sequence, err)
		}
		for want := uint64(6); want <= 11; want++ {
			if ev, err := fast.Next(ctx); err != nil || ev.Sequence != want {
				t.Fatalf("fast: %d, %v; want %d", ev.Sequence, err, want)
			}
		}
		// Writes until the ring holds 12..21: the events the tail can give
		// a reader at 11 are current, evicted ones are not given.
		for i := range 10 {
			mustInsert(t, s, "c", fmt.Sprint(i))
		}
		for want := uint64(12); want <= 21; want++ {
			if ev, err := fast.Next(ctx); err != nil || ev.Sequence != want {
				t.Fatalf("fast: %d, %v; want %d", ev.Sequence, err, want)
			}
		}
		// A subscriber that has read nothing from a position now evicted.
		late, _ := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
		lagging, err := s.Subscribe(ctx, SubscriptionOptions{Start: FromBeginning()}) // at 11, reads nothing yet
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			mustInsert(t, s, "d", fmt.Sprint(i))
		}
		if ev, err := late.Next(ctx); err != nil || ev.Sequence != 22 {
			t.Fatalf("late: %d, %v", ev.Sequence, err)
		}
		if ev, err := lagging.Next(ctx); !errors.Is(err, ErrCompacted) {
			t.Fatalf("lagging got %d, %v: want ErrCompacted", ev.Sequence, err)
		}
	})
}

func mustInsert(t testing.TB, s *Store, typ, id string) {
	t.Helper()
	if _, err := s.Insert(context.Background(), typ, id, id); err != nil {
		t.Fatal(err)
	}
}

// TestTailOwnValues: an event's values belong to its subscriber: changing
// them shows in no other subscriber's events.
func TestTailOwnValues(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		a, _ := s.Subscribe(ctx, SubscriptionOptions{})
		b, _ := s.Subscribe(ctx, SubscriptionOptions{})
		mustInsert(t, s, "a", "1")
		ea, err := a.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ea.NewValue {
			ea.NewValue[i] = 0xff
		}
		eb, err := b.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(eb.NewValue) != "\x611" {
			t.Fatalf("b's event shows a's change: %x", eb.NewValue)
		}
	})
}

// TestTailManySubscribers: subscribers with filters, some reading while
// the writes go on, some starting after them, far behind the tail's
// bound, each get exactly the events their filter passes, in order.
func TestTailManySubscribers(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s := mustOpen(t, e, Options{ReplayBufferSize: 20_000})
		const writes = 2*tailEvents + 100
		filters := []Filter{{}, {ActorType: "a"}, {ActorType: "b", KeyPrefix: "1"}, {KeyPrefix: "2"}}
		r := rand.New(rand.NewPCG(1, 2))
		type write struct{ typ, id string }
		ws := make([]write, writes)
		want := make([][]uint64, len(filters))
		for i := range ws {
			ws[i] = write{[]string{"a", "b"}[r.IntN(2)], fmt.Sprintf("%d-%d", r.IntN(30), i)}
			for f := range filters {
				cf := filters[f].core()
				if matches(&cf, &ChangeEvent{ActorType: ws[i].typ, ActorID: ws[i].id}) {
					want[f] = append(want[f], uint64(i+1))
				}
			}
		}
		var wg sync.WaitGroup
		read := func(name string, sub Subscription, want []uint64) {
			defer wg.Done()
			for i, w := range want {
				ev, err := sub.Next(ctx)
				if err != nil || ev.Sequence != w {
					t.Errorf("%s: event %d: %d, %v; want %d", name, i, ev.Sequence, err, w)
					return
				}
			}
		}
		subscribe := func(f Filter) Subscription {
			sub, err := s.Subscribe(ctx, SubscriptionOptions{Filter: f})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sub.Close() })
			return sub
		}
		for round := range 2 {
			for f := range filters {
				wg.Add(1)
				go read(fmt.Sprintf("live %d/%d", f, round), subscribe(filters[f]), want[f])
			}
		}
		for i, w := range ws {
			if _, err := s.Insert(ctx, w.typ, w.id, i); err != nil {
				t.Fatal(err)
			}
		}
		for f := range filters {
			wg.Add(1)
			go read(fmt.Sprintf("late %d", f), subscribe(filters[f]), want[f])
		}
		wg.Wait()
	})
}

// TestTailLetsGo: once the last subscription closes, the tail holds no
// events.
func TestTailLetsGo(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		a, _ := s.Subscribe(ctx, SubscriptionOptions{})
		b, _ := s.Subscribe(ctx, SubscriptionOptions{})
		mustInsert(t, s, "a", "1")
		if _, err := a.Next(ctx); err != nil {
			t.Fatal(err)
		}
		held := func() int {
			s.tail.mu.RLock()
			defer s.tail.mu.RUnlock()
			return len(s.tail.events)
		}
		if held() != 1 {
			t.Fatalf("the tail holds %d events, want the one read", held())
		}
		a.Close()
		if held() != 1 {
			t.Fatalf("with b open the tail holds %d events, want 1", held())
		}
		b.Close()
		if held() != 0 {
			t.Fatalf("with no subscription the tail holds %d events", held())
		}
	})
}
