package host

import (
	"context"
	"sync"
	"time"

	"github.com/actorstore/actorstore/core"
)

// StartPosition says where a subscription starts reading.
type StartPosition struct {
	kind startKind
	seq  uint64
	t    time.Time
}

type startKind uint8

const (
	startBeginning startKind = iota
	startSequence
	startNow
	startTime
)

// FromBeginning starts at the oldest retained event.
func FromBeginning() StartPosition { return StartPosition{kind: startBeginning} }

// FromSequence starts at event n: Subscribe fails with ErrCompacted if it
// was evicted.
func FromSequence(n uint64) StartPosition { return StartPosition{kind: startSequence, seq: n} }

// FromNow starts after the newest event: only changes made from now on.
func FromNow() StartPosition { return StartPosition{kind: startNow} }

// FromTime starts at the first retained event with a timestamp at or after
// t (or at the next new event when there is none).
func FromTime(t time.Time) StartPosition { return StartPosition{kind: startTime, t: t} }

// Beginning reports whether p is FromBeginning.
func (p StartPosition) Beginning() bool { return p.kind == startBeginning }

// Now reports whether p is FromNow.
func (p StartPosition) Now() bool { return p.kind == startNow }

// Sequence returns n and true when p is FromSequence(n).
func (p StartPosition) Sequence() (uint64, bool) { return p.seq, p.kind == startSequence }

// Time returns t and true when p is FromTime(t).
func (p StartPosition) Time() (time.Time, bool) { return p.t, p.kind == startTime }

// SubscriptionOptions configure Subscribe. The zero value reads every
// retained event, then new ones.
type SubscriptionOptions struct {
	Start  StartPosition
	Filter Filter
}

// Subscription reads change events in order, exactly once each. Next is
// for one goroutine at a time; Close may be called from any.
type Subscription interface {
	// Next returns the next matching event, waiting for one until ctx is
	// done.
	//
	// # Errors
	//
	// ErrCompacted (a *CompactedError) once the subscription fell out of
	// the replay buffer, and from then on; ErrRestored after a Restore;
	// ErrClosed after Close of the subscription or the store; ctx.Err()
	// when ctx ends first.
	Next(ctx context.Context) (ChangeEvent, error)
	// Close ends the subscription; a Next waiting in another goroutine
	// returns ErrClosed. Closing twice is harmless.
	Close() error
}

// subscription is a Store's Subscription. It holds no events of its own:
// it reads the store's replay buffer through Changes, so it never slows
// writers down. One that falls more than ReplayBufferSize events behind
// gets ErrCompacted.
type subscription struct {
	s      *Store
	filter core.Filter
	cursor uint64
	epoch  uint64 // the store's epoch at Subscribe
	buf    []ChangeEvent
	err    error // sticky: compaction ends a subscription

	closeOnce sync.Once
	done      chan struct{}
}

// subscriptionBatch is how many events Next fetches per round trip.
const subscriptionBatch = 256

// Subscribe starts a subscription. Close it when done.
func (s *Store) Subscribe(ctx context.Context, o SubscriptionOptions) (Subscription, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	st, cerr := s.eng.stats()
	if cerr != nil {
		return nil, mapError(cerr)
	}
	sub := &subscription{s: s, filter: o.Filter.core(), epoch: s.epoch, done: make(chan struct{})}
	switch o.Start.kind {
	case startBeginning:
		sub.cursor = st.OldestSequence - 1
	case startSequence:
		// Read the first page now: an evicted start fails here, with the
		// engine's own Compacted error.
		sub.cursor = max(o.Start.seq, 1) - 1
		p, err := s.changesLocked(sub.cursor, sub.filter, subscriptionBatch)
		if err != nil {
			return nil, err
		}
		sub.cursor, sub.buf = p.Next, p.Events
	case startNow:
		sub.cursor = st.CurrentSequence
	case startTime:
		seq, cerr := s.eng.sequenceAtTime(unixNano(o.Start.t))
		if cerr != nil {
			return nil, mapError(cerr)
		}
		sub.cursor = seq - 1
	}
	s.subs++
	return sub, nil
}

// Next implements Subscription.
func (sub *subscription) Next(ctx context.Context) (ChangeEvent, error) {
	for {
		if len(sub.buf) > 0 {
			ev := sub.buf[0]
			sub.buf[0] = ChangeEvent{}
			sub.buf = sub.buf[1:]
			return ev, nil
		}
		if sub.err != nil {
			return ChangeEvent{}, sub.err
		}
		wake, err := sub.fetch(ctx)
		if err != nil {
			return ChangeEvent{}, err
		}
		if wake == nil {
			continue
		}
		select {
		case <-wake:
		case <-sub.done:
			return ChangeEvent{}, ErrClosed
		case <-sub.s.done:
			return ChangeEvent{}, ErrClosed
		case <-ctx.Done():
			return ChangeEvent{}, ctx.Err()
		}
	}
}

// fetch reads the next page into buf, or returns the channel the next
// commit closes when there was nothing to read. Events come from the
// store's shared tail when it holds them, without the store's lock; else
// from the engine.
func (sub *subscription) fetch(ctx context.Context) (<-chan struct{}, error) {
	s := sub.s
	select {
	case <-sub.done:
		return nil, ErrClosed
	case <-s.done:
		return nil, ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.noTail && s.tail.read(sub, s.feedGen.Load(), false) {
		return nil, nil
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if sub.epoch != s.epoch {
		sub.err = ErrRestored
		return nil, sub.err
	}
	spot := tailMiss
	if !s.noTail {
		spot = s.tail.syncLocked(s, sub.cursor)
	}
	switch spot {
	case tailHas:
		s.tail.read(sub, 0, true)
		return nil, nil
	case tailEnds:
		s.waiting = true
		return s.wake, nil
	}
	p, err := s.changesLocked(sub.cursor, sub.filter, subscriptionBatch)
	if err != nil {
		sub.err = err
		return nil, err
	}
	sub.cursor = p.Next
	if len(p.Events) > 0 {
		sub.buf = p.Events
		return nil, nil
	}
	// No match means the scan reached the newest event: wait for more.
	s.waiting = true
	return s.wake, nil
}

// Close implements Subscription.
func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() {
		close(sub.done)
		s := sub.s
		s.mu.Lock()
		if s.subs--; s.subs == 0 {
			// Nobody reads the tail: let its events go.
			s.tail.mu.Lock()
			s.tail.reset(s.epoch, 0)
			s.tail.mu.Unlock()
		}
		s.mu.Unlock()
	})
	return nil
}
