// Package core is the Actor Store itself: typed actors in a copy-on-write
// B-tree and a sequenced change feed. It is pure Go with no clock, no
// goroutines and no I/O, so the same operations always produce the same
// state and the same events; hosts pass every mutation's timestamp in.
//
// A Store is not safe for concurrent use; hosts serialize calls.
// Keys and values passed in are copied. Actors, events and results handed
// out share the store's memory: treat them as read-only, and copy what
// must outlive the next write (a write may reuse the memory of an actor
// it replaced or deleted once no retained event shows it).
package core

import "unicode/utf8"

// Actor is one record: a key (Type, ID), an opaque CBOR value and a version.
type Actor struct {
	Type, ID string
	Value    []byte
	Version  uint64
}

// Result describes one applied operation.
type Result struct {
	// Actor is the written actor, or for a delete the removed one.
	Actor Actor
	// Found is false only for a delete of an absent actor.
	Found bool
	// Sequence is the event's sequence number, 0 when no event was made.
	Sequence uint64
}

// Store holds actors and the change feed.
type Store struct {
	opts    Options
	arena   arena // the actors' records
	tree    tree  // the actors in key order
	data    int64 // bytes accounted to actors
	feed    feed
	pending []slot    // events of the batch being applied
	undo    []undo    // how to take back the batch being applied
	results []Result  // of the latest batch
	key     key       // the key of the operation being applied
	idem    idemTable // remembered idempotency keys (idempotency.go)
}

// New returns an empty store, or an InvalidArgument error for bad options.
func New(o Options) (*Store, *Error) {
	o, err := o.Normalize()
	if err != nil {
		return nil, err
	}
	s := &Store{opts: o}
	s.tree = newTree(&s.arena)
	s.feed.init(&s.arena, o.ReplayBufferSize, o.ReplayBufferBytes)
	return s, nil
}

// Options returns the normalized options the store runs with.
func (s *Store) Options() Options { return s.opts }

// CheckKey validates an actor type and id.
func CheckKey(typ, id string) *Error {
	if err := checkKeyShape(typ, id); err != nil {
		return err
	}
	return checkKeyText(typ, id)
}

// checkKeyShape checks emptiness and lengths: cheap, done before lookups.
func checkKeyShape(typ, id string) *Error {
	if uint(len(typ)-1) < MaxTypeBytes && uint(len(id)-1) < MaxIDBytes {
		return nil
	}
	return keyShapeError(typ, id)
}

func keyShapeError(typ, id string) *Error {
	switch {
	case typ == "":
		return errorf(InvalidKey, "invalid key: empty actor type")
	case id == "":
		return errorf(InvalidKey, "invalid key: empty actor id")
	case len(typ) > MaxTypeBytes:
		return errorf(InvalidKey, "invalid key: actor type is %d bytes, more than %d", len(typ), MaxTypeBytes)
	case len(id) > MaxIDBytes:
		return errorf(InvalidKey, "invalid key: actor id is %d bytes, more than %d", len(id), MaxIDBytes)
	}
	return nil
}

// checkKeyText checks that type and id are UTF-8. Keys found in the tree
// passed it when inserted, so only keys not found need it.
func checkKeyText(typ, id string) *Error {
	switch {
	case !validUTF8(typ):
		return errorf(InvalidKey, "invalid key: actor type is not valid UTF-8")
	case !validUTF8(id):
		return errorf(InvalidKey, "invalid key: actor id is not valid UTF-8")
	}
	return nil
}

// validUTF8 is utf8.ValidString with an inlined ASCII loop: most keys are
// ASCII, and calls are dear in the wasm guest.
func validUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

func (s *Store) checkValue(v []byte) *Error {
	if len(v) > s.opts.MaxValueBytes {
		return errorf(ValueTooLarge, "value too large: %d bytes, limit %d", len(v), s.opts.MaxValueBytes)
	}
	return CheckValue(v)
}

// lookup finds (typ, id), leaving its key in s.key and its path in the
// tree for replaceFound.
func (s *Store) lookup(typ, id string) (item, bool) {
	s.key = makeKey(typ, id)
	return s.tree.find(&s.key)
}

// Lookup is Get for keys from outside: an invalid key is an InvalidKey
// error rather than "absent".
func (s *Store) Lookup(typ, id string) (a Actor, found bool, err *Error) {
	if err := checkKeyShape(typ, id); err != nil {
		return Actor{}, false, err
	}
	it, ok := s.lookup(typ, id)
	if !ok { // keys in the tree are valid: only others need the text check
		return Actor{}, false, checkKeyText(typ, id)
	}
	s.arena.actor(it.ref, &a)
	return a, true, nil
}

// CheckType validates an actor type alone, as GetAll takes it.
func CheckType(typ string) *Error {
	if err := checkKeyShape(typ, "-"); err != nil {
		return err
	}
	return checkKeyText(typ, "")
}

// Get returns the actor stored under (typ, id). The actor shares the
// store's memory (see the package documentation).
func (s *Store) Get(typ, id string) (a Actor, found bool) {
	it, ok := s.lookup(typ, id)
	if ok {
		s.arena.actor(it.ref, &a)
	}
	return a, ok
}

// Len returns the number of actors.
func (s *Store) Len() int { return s.tree.len() }

// Scan calls fn for each actor of type typ with an id greater than after,
// in id order, until fn returns false. The actor passed is valid during
// the call.
func (s *Store) Scan(typ, after string, fn func(*Actor) bool) {
	s.tree.scan(typ, after, fn)
}

// A page of ScanPage accounts PageHeaderBytes, and each actor on it
// len(ID)+len(Value)+PageActorBytes: the bytes of the get_all result that
// encodes it (wasm/ABI.md; internal/abi checks the two agree).
const (
	PageHeaderBytes = 6
	PageActorBytes  = 16
)

// ScanPage calls fn for the actors of type typ with ids greater than
// after, in id order, one page of them: it stops before an actor once the
// page accounts maxBytes or more, and never before the first. more reports
// that actors remain after the page. An invalid type is InvalidKey. Every
// host pages GetAll with it, so pages end at the same actors on all of
// them.
func (s *Store) ScanPage(typ, after string, maxBytes int, fn func(*Actor)) (more bool, err *Error) {
	if err := CheckType(typ); err != nil {
		return false, err
	}
	size, n := PageHeaderBytes, 0
	s.Scan(typ, after, func(a *Actor) bool {
		if n > 0 && size >= maxBytes {
			more = true
			return false
		}
		fn(a)
		size += len(a.ID) + len(a.Value) + PageActorBytes
		n++
		return true
	})
	return more, nil
}

// GetAll returns every actor of type typ, ordered by id.
func (s *Store) GetAll(typ string) []Actor {
	var out []Actor
	s.Scan(typ, "", func(a *Actor) bool {
		out = append(out, *a)
		return true
	})
	return out
}

// Insert creates (typ, id) at version 0.
func (s *Store) Insert(typ, id string, value []byte, ts int64) (Result, *Error) {
	return s.Apply(&Op{Kind: KindInsert, Type: typ, ID: id, Value: value}, ts)
}

// Update replaces the value of (typ, id) and increments its version.
func (s *Store) Update(typ, id string, value []byte, ts int64) (Result, *Error) {
	return s.Apply(&Op{Kind: KindUpdate, Type: typ, ID: id, Value: value}, ts)
}

// UpdateVersioned updates (typ, id) only if its version is expected.
func (s *Store) UpdateVersioned(typ, id string, value []byte, expected uint64, ts int64) (Result, *Error) {
	return s.Apply(&Op{Kind: KindUpdateVersioned, Type: typ, ID: id, Value: value, Expected: expected}, ts)
}

// Delete removes (typ, id); Found is false, and no event is made, when it
// was absent.
func (s *Store) Delete(typ, id string, ts int64) (Result, *Error) {
	return s.Apply(&Op{Kind: KindDelete, Type: typ, ID: id}, ts)
}

// Apply applies one write operation. It validates everything before it
// changes anything, so a failure leaves the store as it was.
func (s *Store) Apply(op *Op, ts int64) (Result, *Error) {
	t := txn{s: s, data: s.data, seq: s.feed.seq}
	var res Result
	if err := t.apply(op, ts, &res); err != nil {
		return Result{}, err
	}
	s.commit(&t)
	return res, nil
}

func (s *Store) commit(t *txn) {
	s.data = t.data
	for i := range s.pending {
		s.feed.push(&s.pending[i])
	}
	s.pending = s.pending[:0]
	s.arena.release(s.feed.oldest())
}

// Stats describe the store and its feed.
type Stats struct {
	TotalEvents     uint64 // events ever made
	CurrentSequence uint64 // sequence of the newest event, 0 if none
	OldestSequence  uint64 // oldest retained event; CurrentSequence+1 if none
	ReplayEvents    uint64 // events retained
	ReplayBytes     uint64 // bytes the retained events account for
	EventsDropped   uint64 // events evicted from the replay buffer
	Actors          uint64 // actors held
	DataBytes       uint64 // bytes the actors account for
	// IdempotencyKeys and IdempotencyBytes are the idempotency keys
	// remembered and the bytes their answers account for.
	IdempotencyKeys  uint64
	IdempotencyBytes uint64
}

// Stats returns current statistics.
func (s *Store) Stats() Stats {
	f := &s.feed
	return Stats{
		TotalEvents: f.seq, CurrentSequence: f.seq, OldestSequence: f.oldest(),
		ReplayEvents: uint64(f.n), ReplayBytes: uint64(f.bytes), EventsDropped: f.dropped,
		Actors: uint64(s.tree.len()), DataBytes: uint64(s.data),
		IdempotencyKeys: uint64(len(s.idem.m)), IdempotencyBytes: uint64(s.idem.bytes),
	}
}
