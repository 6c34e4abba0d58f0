package host

import (
	"math"
	"strings"
	"sync"

	"github.com/actorstore/actorstore/core"
)

// tail is the newest part of the change feed, decoded once and shared by
// every subscription. Without it each subscriber would read each commit
// from the engine itself, under the store's lock: with a hundred
// subscribers a commit cost a hundred engine calls and writers queued
// behind them. With it, the first subscriber to need the new events reads
// them from the engine (under the lock) and the others take them from
// here under a read lock of their own.
//
// The tail is used only while it is current: when no commit, durable
// acknowledgement, restore or guest replacement has happened since it was
// brought up to date (the store's feedGen has not moved). So it never
// shows an event the engine has evicted by then: a subscriber that falls
// behind the replay buffer gets ErrCompacted exactly as it would reading
// the engine. A subscriber behind the tail's oldest event reads the engine
// as before.
type tail struct {
	mu     sync.RWMutex
	gen    uint64 // the store's feedGen when the tail was last current
	epoch  uint64 // the store's epoch the events belong to
	lo, hi uint64 // events holds sequences lo+1 .. hi, every one of them
	events []ChangeEvent
	bytes  int // the events' types, ids and values
}

// The tail keeps at most tailEvents events and about tailBytes bytes.
const (
	tailEvents = 4096
	tailBytes  = 8 << 20
)

func eventBytes(ev *ChangeEvent) int {
	return len(ev.ActorType) + len(ev.ActorID) + len(ev.PreviousValue) + len(ev.NewValue)
}

// matches reports whether ev passes f (as core.Filter.Match does).
func matches(f *core.Filter, ev *ChangeEvent) bool {
	return (f.Type == "" || ev.ActorType == f.Type) && strings.HasPrefix(ev.ActorID, f.IDPrefix)
}

// read fills sub.buf with the matching events after sub.cursor when the
// tail holds them and is current (its gen is gen, or s.mu is held:
// locked); it reports whether it did. It
// advances sub.cursor over every event it scans, so a read that finds no
// match still moves the subscription on.
func (t *tail) read(sub *subscription, gen uint64, locked bool) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if (t.gen != gen && !locked) || t.epoch != sub.epoch || sub.cursor < t.lo || sub.cursor >= t.hi {
		return false
	}
	buf := sub.buf[:0]
	for i := int(sub.cursor - t.lo); i < len(t.events) && len(buf) < subscriptionBatch; i++ {
		ev := &t.events[i]
		sub.cursor = ev.Sequence
		if matches(&sub.filter, ev) {
			// Each subscriber gets its own copy of the values, as when it
			// read the engine: what one does with them never shows in
			// another's events.
			c := *ev
			c.PreviousValue = cloneBytes(ev.PreviousValue)
			c.NewValue = cloneBytes(ev.NewValue)
			buf = append(buf, c)
		}
	}
	sub.buf = buf
	return true
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// Where a subscriber stands after syncLocked.
type tailSpot uint8

const (
	tailHas  tailSpot = iota // the tail holds events after the cursor
	tailEnds                 // the cursor is at the newest event: nothing to read
	tailMiss                 // read the engine: behind the tail, or the engine failed
)

// syncLocked brings the tail up to date for a subscriber at cursor, s.mu
// held, and says where the cursor stands.
func (t *tail) syncLocked(s *Store, cursor uint64) tailSpot {
	t.mu.Lock()
	defer t.mu.Unlock()
	gen := s.feedGen.Load()
	if t.epoch != s.epoch || t.lo == t.hi || cursor > t.hi {
		t.reset(s.epoch, cursor)
	}
	if cursor < t.lo {
		return tailMiss
	}
	if t.gen == gen {
		return t.spot(cursor, gen)
	}
	// The store's lock is held: read at most two pages, as a subscriber's
	// own reads did, so that writers wait no longer than they did. A
	// backlog larger than that leaves the tail not current; the next
	// subscriber to come reads on.
	for range 2 {
		p, err := s.changesLocked(t.hi, core.Filter{}, subscriptionBatch)
		if err != nil {
			// Evicted past the tail's end (the writers outran every
			// subscriber), or the engine failed: each subscriber finds
			// out for itself.
			t.reset(s.epoch, 0)
			return tailMiss
		}
		if len(p.Events) == 0 {
			t.gen = gen
			break
		}
		for i := range p.Events {
			t.bytes += eventBytes(&p.Events[i])
		}
		t.events = append(t.events, p.Events...)
		t.hi = p.Next
	}
	// Drop what the engine no longer holds, then what is over the bounds
	// (keeping the newest event whatever its size).
	oldest, cerr := s.eng.sequenceAtTime(math.MinInt64)
	if cerr != nil {
		t.reset(s.epoch, 0)
		return tailMiss
	}
	drop := 0
	for drop < len(t.events) && (t.events[drop].Sequence < oldest ||
		len(t.events)-drop > tailEvents || (t.bytes > tailBytes && drop < len(t.events)-1)) {
		t.bytes -= eventBytes(&t.events[drop])
		t.events[drop] = ChangeEvent{}
		drop++
	}
	t.events = t.events[drop:]
	t.lo += uint64(drop)
	if cursor < t.lo {
		return tailMiss
	}
	return t.spot(cursor, gen)
}

// spot says where cursor, in the tail's range, stands; gen is the
// store's feedGen.
func (t *tail) spot(cursor, gen uint64) tailSpot {
	if cursor < t.hi {
		return tailHas
	}
	if t.gen == gen {
		return tailEnds
	}
	return tailMiss // not caught up, yet nothing read: ask the engine
}

// reset empties the tail, to be filled from the events after cursor.
func (t *tail) reset(epoch, cursor uint64) {
	clear(t.events)
	t.events, t.bytes = t.events[:0], 0
	t.gen, t.epoch, t.lo, t.hi = notCurrent, epoch, cursor, cursor
}

// notCurrent is a tail's gen when it is not current: no feedGen has it.
const notCurrent = math.MaxUint64
