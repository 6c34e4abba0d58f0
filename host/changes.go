package host

import (
	"context"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
)

// Operation is what a change event records.
type Operation uint8

// Operations of change events. Their values are the module's (core.EventOp).
const (
	// OpInsert records an insert: NewValue and NewVersion are set.
	OpInsert Operation = iota + 1
	// OpUpdate records an update: the previous and the new value and
	// version are set.
	OpUpdate
	// OpDelete records the delete of an actor that existed:
	// PreviousValue and PreviousVersion are set.
	OpDelete
)

// String returns "insert", "update" or "delete".
func (o Operation) String() string { return core.EventOp(o).String() }

// ChangeEvent is one change in the feed.
type ChangeEvent struct {
	// Sequence numbers events from 1, without gaps.
	Sequence  uint64
	Operation Operation
	ActorType string
	ActorID   string
	// PreviousValue and PreviousVersion are set for updates and deletes.
	PreviousValue   cbor.RawMessage
	PreviousVersion *uint64
	// NewValue and NewVersion are set for inserts and updates.
	NewValue   cbor.RawMessage
	NewVersion *uint64
	// Timestamp is the host's clock when the change was made.
	Timestamp time.Time
}

func eventOf(e *core.Event) ChangeEvent {
	ev := ChangeEvent{Sequence: e.Sequence, Operation: Operation(e.Op), ActorType: e.Type, ActorID: e.ID,
		Timestamp: time.Unix(0, e.Timestamp)}
	if e.HasPrev {
		v := e.PrevVersion
		ev.PreviousValue, ev.PreviousVersion = e.Prev, &v
	}
	if e.HasNew {
		v := e.NewVersion
		ev.NewValue, ev.NewVersion = e.New, &v
	}
	return ev
}

// Filter selects change events. The zero Filter selects all.
type Filter struct {
	// ActorType, when set, must equal the event's actor type.
	ActorType string
	// KeyPrefix, when set, must be a prefix of the event's actor id.
	KeyPrefix string
}

func (f Filter) core() core.Filter { return core.Filter{Type: f.ActorType, IDPrefix: f.KeyPrefix} }

// ChangePage is one page of Changes.
type ChangePage struct {
	// Events match the filter, in sequence order.
	Events []ChangeEvent
	// Next is the cursor to pass as since for the following page. It
	// moves past every event scanned, matching or not.
	Next uint64
}

// changesPageBytes bounds the bytes one engine round trip returns.
const changesPageBytes = 4 << 20

// DefaultChangesLimit is the page size Changes uses when limit is 0.
const DefaultChangesLimit = 1000

// Changes returns up to limit events with a sequence greater than since
// that match f (0 means DefaultChangesLimit). A page may hold fewer events
// than limit when they are large; continue from Next.
//
// # Errors
//
// A *CompactedError (errors.Is ErrCompacted) when events after since were
// evicted from the replay buffer; ErrInvalidArgument for a negative limit.
func (s *Store) Changes(ctx context.Context, since uint64, f Filter, limit int) (ChangePage, error) {
	if limit < 0 {
		return ChangePage{}, errorf(ErrInvalidArgument, "invalid argument: negative limit %d", limit)
	}
	if limit == 0 {
		limit = DefaultChangesLimit
	}
	if err := s.lock(ctx); err != nil {
		return ChangePage{}, err
	}
	defer s.mu.Unlock()
	return s.changesLocked(since, f.core(), limit)
}

func (s *Store) changesLocked(since uint64, f core.Filter, limit int) (ChangePage, error) {
	p, cerr := s.eng.changes(since, f, min(limit, 1<<30), changesPageBytes)
	if cerr != nil {
		return ChangePage{}, mapError(cerr)
	}
	if s.dur != nil && p.Next > s.dur.visible {
		// The feed shows a durable store's events once they are durable:
		// a crash never takes back an event a reader has seen.
		v := s.dur.visible
		for len(p.Events) > 0 && p.Events[len(p.Events)-1].Sequence > v {
			p.Events = p.Events[:len(p.Events)-1]
		}
		p.Next = max(v, since)
	}
	out := ChangePage{Next: p.Next, Events: make([]ChangeEvent, len(p.Events))}
	for i := range p.Events {
		out.Events[i] = eventOf(&p.Events[i])
	}
	return out, nil
}
