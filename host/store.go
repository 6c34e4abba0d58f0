// Package host is the Go embedding API of Actor Store. Open runs the
// committed WebAssembly module in wazero (EngineWASM, the default) or the
// core directly (EngineNative); both behave the same, byte for byte.
//
// A Store is safe for concurrent use. Calls are serialized: each one is a
// few microseconds, and the module is single-threaded.
//
// # Errors
//
// Errors are sentinels (ErrNotFound, ErrVersionMismatch, …), grouped by
// when they happen, matched with errors.Is. Those that carry detail are
// types that match their sentinel: *VersionMismatchError, *CompactedError,
// *CorruptError. A failed Batch returns a *BatchError that wraps its
// operation's error.
package host

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
)

// Engine selects what runs the store.
type Engine int

const (
	// EngineWASM runs the embedded WebAssembly module in wazero: the same
	// bytes that run in web pages.
	EngineWASM Engine = iota
	// EngineNative runs the core compiled into the Go program.
	EngineNative
)

// String returns "wasm" or "native".
func (e Engine) String() string {
	if e == EngineNative {
		return "native"
	}
	return "wasm"
}

// Options configure Open. The zero value is an in-memory store on the wasm
// engine with default limits.
type Options struct {
	// Engine selects the engine; EngineWASM by default.
	Engine Engine
	// ReplayBufferSize is how many change events are retained for Changes
	// and subscriptions; 10,000 by default.
	ReplayBufferSize int
	// ReplayBufferBytes bounds the bytes retained events account for
	// (keys, previous and new values, ~96 bytes each besides); 64 MiB by
	// default.
	ReplayBufferBytes int64
	// MaxValueBytes is the largest encoded value accepted; 1 MiB by
	// default, at most 64 MiB.
	MaxValueBytes int
	// MaxDataBytes bounds the bytes actors account for (keys, values and
	// ~80 bytes each besides); writes past it fail with ErrStoreFull.
	// 1 GiB by default, at most 1.5 GiB, which keeps the guest well inside
	// its 4 GiB of linear memory.
	MaxDataBytes int64
	// CacheDir, when set, keeps wazero's compiled module on disk so that
	// other processes open in milliseconds.
	CacheDir string
	// Clock gives each mutation its timestamp; time.Now by default.
	Clock func() time.Time

	// Dir, when set, makes the store durable: every mutation is appended
	// to a write-ahead log in this directory before the call returns, and
	// snapshots are taken there; Open recovers the state, sequence numbers
	// and replay buffer from it. Open creates the directory if needed and
	// holds it locked (ErrLocked for a second opener) until Close. An
	// existing directory must be empty or an Actor Store directory.
	Dir string
	// Sync says when a durable write returns: SyncAlways by default.
	// See SyncPolicy for what each policy can lose.
	Sync SyncPolicy
	// SyncInterval is how often SyncInterval fsyncs; 100ms by default.
	SyncInterval time.Duration
	// SnapshotLogBytes is the log size past which a durable store takes
	// a snapshot by itself (DefaultSnapshotLogBytes when 0); negative
	// turns that off (Checkpoint still takes one).
	SnapshotLogBytes int64

	// IdempotencyKeys bounds how many idempotency keys (WithIdempotencyKey)
	// the store remembers, the oldest forgotten first; 100,000 by default.
	IdempotencyKeys int
	// IdempotencyTTL is how long a key is remembered after its write,
	// measured in the writes' timestamps (Clock); 24 hours by default.
	IdempotencyTTL time.Duration
	// IdempotencyBytes bounds the bytes the remembered answers account for
	// (a delete's answer holds the removed value); 64 MiB by default.
	IdempotencyBytes int64
}

// Actor is one stored actor.
type Actor struct {
	Type, ID string
	// Value is the CBOR encoding of the actor's value.
	Value cbor.RawMessage
	// Version is 0 after Insert and grows by one with each update.
	Version uint64
}

// Decode decodes the actor's value into v, as cbor.Unmarshal does. Into an
// *any, maps decode as map[string]any, or as map[any]any when their keys
// are not all strings.
func (a *Actor) Decode(v any) error { return decode(a.Value, v) }

// Store is an open Actor Store.
type Store struct {
	mu      sync.Mutex
	eng     engine
	opts    Options
	clock   func() time.Time
	closed  bool
	done    chan struct{} // closed by Close
	wake    chan struct{} // closed, and replaced, by the next commit
	waiting bool          // someone holds wake
	subs    int
	epoch   uint64 // counts restores: subscriptions end at a new one
	// feedGen moves (under mu) whenever the change feed's retained events
	// may change: a commit, a durable acknowledgement, a restore, a
	// replaced guest. The shared tail is current while it stands still.
	feedGen atomic.Uint64
	tail    tail
	noTail  bool       // subscriptions read the engine only (a benchmark's baseline)
	snapMu  sync.Mutex // one snapshot or restore at a time
	dur     *durable   // the write-ahead log and snapshots, when Dir is set
	co      core.Options
}

// Open creates a store. With EngineWASM the module is compiled once per
// process (and per CacheDir) and instantiated for each Open.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	co, cerr := core.Options{ReplayBufferSize: o.ReplayBufferSize, ReplayBufferBytes: o.ReplayBufferBytes,
		MaxValueBytes: o.MaxValueBytes, MaxDataBytes: o.MaxDataBytes, IdempotencyKeys: o.IdempotencyKeys,
		IdempotencyTTL: int64(o.IdempotencyTTL), IdempotencyBytes: o.IdempotencyBytes}.Normalize()
	if cerr != nil {
		return nil, mapError(cerr)
	}
	s := &Store{opts: o, co: co, clock: o.Clock, done: make(chan struct{}), wake: make(chan struct{})}
	s.opts.ReplayBufferSize, s.opts.ReplayBufferBytes = co.ReplayBufferSize, co.ReplayBufferBytes
	s.opts.MaxValueBytes, s.opts.MaxDataBytes = co.MaxValueBytes, co.MaxDataBytes
	s.opts.IdempotencyKeys, s.opts.IdempotencyTTL = co.IdempotencyKeys, time.Duration(co.IdempotencyTTL)
	s.opts.IdempotencyBytes = co.IdempotencyBytes
	if s.clock == nil {
		s.clock = time.Now
	}
	switch o.Engine {
	case EngineNative:
		n, err := newNative(co)
		if err != nil {
			return nil, mapError(err)
		}
		s.eng = n
	case EngineWASM:
		w, err := newWASM(ctx, o.CacheDir, co)
		if err != nil {
			return nil, err
		}
		s.eng = w
	default:
		return nil, errorf(ErrInvalidArgument, "unknown engine %d", o.Engine)
	}
	if o.Dir != "" {
		d, err := openDurable(s, o)
		if err != nil {
			s.eng.close(ctx)
			return nil, err
		}
		s.dur = d
	}
	return s, nil
}

// Options returns the options the store runs with, defaults filled in.
func (s *Store) Options() Options { return s.opts }

// lock takes the store's lock unless the store is closed or ctx is done.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if s.dur != nil && s.dur.failed != nil {
			return s.dur.failed
		}
		return ErrClosed
	}
	if s.dur != nil {
		if err := s.healLocked(ctx); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	return nil
}

// committed wakes subscribers; called with s.mu held after a mutation.
func (s *Store) committed() {
	s.feedGen.Add(1)
	if s.waiting {
		close(s.wake)
		s.wake, s.waiting = make(chan struct{}), false
	}
}

func (s *Store) now() int64 { return unixNano(s.clock()) }

// unixNano is t.UnixNano clamped to the int64 range (years 1678 to 2262)
// rather than wrapped around.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var minTime, maxTime = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

func (s *Store) write(ctx context.Context, kind core.Kind, typ, id string, value any, expected uint64) (Actor, bool, error) {
	op := core.Op{Kind: kind, Type: typ, ID: id, Expected: expected}
	if kind != core.KindDelete {
		v, err := EncodeValue(value)
		if err != nil {
			return Actor{}, false, err
		}
		op.Value = v
		if len(v) > s.opts.MaxValueBytes { // spare the engine the copy; keys are checked first, as it would
			if err := core.CheckKey(typ, id); err != nil {
				return Actor{}, false, mapError(err)
			}
			return Actor{}, false, errorf(ErrValueTooLarge, "value too large: %d bytes, limit %d", len(v), s.opts.MaxValueBytes)
		}
	}
	key, _ := IdempotencyKey(ctx)
	if err := s.lock(ctx); err != nil {
		return Actor{}, false, err
	}
	ts := s.now()
	var r core.Result
	var repeated bool
	var cerr *core.Error
	if key == "" {
		r, cerr = s.eng.apply(&op, ts)
	} else {
		var rs []core.Result
		if rs, repeated, cerr = s.eng.keyed(key, []core.Op{op}, false, ts); cerr == nil {
			r = rs[0]
		}
	}
	if cerr != nil {
		s.mu.Unlock()
		return Actor{}, false, mapError(cerr)
	}
	if err := s.commitLocked(key, false, ts, []core.Op{op}, r.Sequence, r.Sequence, repeated); err != nil {
		return Actor{}, false, err
	}
	return actorOf(&r.Actor), r.Found, nil
}

// commitLocked finishes a mutation the engine answered, releasing s.mu:
// first and last are the sequences of its first and last events (0 when
// it made none). A durable store logs it and waits, outside the lock, for
// the record to be durable. A repeated answer (an idempotency key's)
// changed nothing: it only waits, on a durable store, until the write it
// repeats is durable, so that it never acknowledges what a crash could
// take back.
func (s *Store) commitLocked(key string, batch bool, ts int64, ops []core.Op, first, last uint64, repeated bool) error {
	d := s.dur
	switch {
	case last == 0:
		s.mu.Unlock()
	case repeated:
		if d == nil || last <= d.visible {
			s.mu.Unlock()
			return nil
		}
		l, ticket := d.log, d.appended
		s.mu.Unlock()
		return s.logged(l, ticket, last)
	case d == nil:
		s.committed()
		s.mu.Unlock()
	default:
		// The events show once durable (committed, from logged), but the
		// engine may have evicted older ones already.
		s.feedGen.Add(1)
		l, ticket := d.appendLocked(first, ts, key, batch, ops)
		s.mu.Unlock()
		return s.logged(l, ticket, last)
	}
	return nil
}

func actorOf(a *core.Actor) Actor {
	return Actor{Type: a.Type, ID: a.ID, Value: a.Value, Version: a.Version}
}

// Insert creates an actor at version 0 holding value, encoded as CBOR (a
// cbor.RawMessage is taken as is).
//
// Insert, Update, UpdateVersioned, Delete and Batch honour an idempotency
// key on ctx (WithIdempotencyKey): the first write with a key is applied
// and its answer remembered — its result, or a refusal that depends on the
// store's state (ErrAlreadyExists, ErrNotFound, ErrVersionMismatch,
// ErrStoreFull) — and a later call with the same key and the same request
// gets that answer again without applying anything. The same key with
// another request is ErrInvalidArgument. Options.IdempotencyKeys,
// IdempotencyTTL and IdempotencyBytes bound what is remembered; durable
// stores log the keys of writes that made events, and snapshots carry
// them all.
//
// # Errors
//
// ErrAlreadyExists when it exists; ErrInvalidKey, ErrInvalidValue,
// ErrValueTooLarge, ErrStoreFull for input it cannot take.
func (s *Store) Insert(ctx context.Context, typ, id string, value any) (Actor, error) {
	a, _, err := s.write(ctx, core.KindInsert, typ, id, value, 0)
	return a, err
}

// Update replaces an actor's value and increments its version; ErrNotFound
// when it does not exist.
func (s *Store) Update(ctx context.Context, typ, id string, value any) (Actor, error) {
	a, _, err := s.write(ctx, core.KindUpdate, typ, id, value, 0)
	return a, err
}

// UpdateVersioned updates the actor only if its version equals expected
// (compare-and-swap).
//
// # Errors
//
// A *VersionMismatchError (errors.Is ErrVersionMismatch) carrying the
// actual version when it differs; ErrNotFound when the actor is absent.
func (s *Store) UpdateVersioned(ctx context.Context, typ, id string, value any, expected uint64) (Actor, error) {
	a, _, err := s.write(ctx, core.KindUpdateVersioned, typ, id, value, expected)
	return a, err
}

// Delete removes an actor and returns it; ok is false, and no event is
// made, when it was absent.
func (s *Store) Delete(ctx context.Context, typ, id string) (a Actor, ok bool, err error) {
	return s.write(ctx, core.KindDelete, typ, id, nil, 0)
}

// Get returns the actor, or ok false when it does not exist.
func (s *Store) Get(ctx context.Context, typ, id string) (a Actor, ok bool, err error) {
	if err := s.lock(ctx); err != nil {
		return Actor{}, false, err
	}
	defer s.mu.Unlock()
	ca, ok, cerr := s.eng.get(typ, id)
	if cerr != nil {
		return Actor{}, false, mapError(cerr)
	}
	return actorOf(&ca), ok, nil
}

// getAllPage is the bytes the engine returns per round trip of GetAll.
const getAllPage = 1 << 20

// GetAll returns every actor of type typ ordered by id, as one consistent
// view: no write lands in between.
func (s *Store) GetAll(ctx context.Context, typ string) ([]Actor, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []Actor
	after := ""
	for {
		page, more, cerr := s.eng.scan(typ, after, getAllPage)
		if cerr != nil {
			return nil, mapError(cerr)
		}
		if out == nil {
			out = make([]Actor, 0, len(page))
		}
		for i := range page {
			out = append(out, actorOf(&page[i]))
		}
		if !more || len(page) == 0 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// Stats describe a store.
type Stats struct {
	// TotalEvents is the number of change events ever made.
	TotalEvents uint64
	// CurrentSequence is the newest event's sequence number, 0 if none.
	CurrentSequence uint64
	// ReplayBufferSize is the number of events retained.
	ReplayBufferSize int
	// ActiveSubscriptions counts open subscriptions.
	ActiveSubscriptions int
	// EventsDropped counts events evicted from the replay buffer.
	EventsDropped uint64
	// OldestSequence is the oldest retained event, CurrentSequence+1 if
	// none is retained.
	OldestSequence uint64
	// ReplayBufferBytes is what the retained events account for.
	ReplayBufferBytes uint64
	// Actors is the number of actors held.
	Actors uint64
	// DataBytes is what the actors account for against MaxDataBytes.
	DataBytes uint64
	// IdempotencyKeys is the number of idempotency keys remembered, and
	// IdempotencyBytes what their answers account for.
	IdempotencyKeys  uint64
	IdempotencyBytes uint64
}

// Stats returns the store's statistics.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	if err := s.lock(ctx); err != nil {
		return Stats{}, err
	}
	defer s.mu.Unlock()
	st, cerr := s.eng.stats()
	if cerr != nil {
		return Stats{}, mapError(cerr)
	}
	return Stats{TotalEvents: st.TotalEvents, CurrentSequence: st.CurrentSequence,
		ReplayBufferSize: int(st.ReplayEvents), ActiveSubscriptions: s.subs, EventsDropped: st.EventsDropped,
		OldestSequence: st.OldestSequence, ReplayBufferBytes: st.ReplayBytes, Actors: st.Actors,
		DataBytes: st.DataBytes, IdempotencyKeys: st.IdempotencyKeys, IdempotencyBytes: st.IdempotencyBytes}, nil
}

// Close releases the store: its module instance, and its subscriptions,
// whose Next returns ErrClosed. Calls after Close return ErrClosed.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	err := s.eng.close(ctx)
	if s.dur != nil {
		// Background snapshots need the lock to see the store closed.
		s.mu.Unlock()
		if e := s.dur.close(); err == nil {
			err = e
		}
		s.mu.Lock()
	}
	return err
}
