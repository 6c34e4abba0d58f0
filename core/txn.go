package core

import (
	"strconv"
	"strings"
)

// Kind is the kind of a write operation.
type Kind uint8

// Operation kinds; the values are part of the wasm ABI.
const (
	KindInsert          Kind = 1
	KindUpdate          Kind = 2
	KindUpdateVersioned Kind = 3
	KindDelete          Kind = 4
)

// Op is one write operation, alone or in a batch.
type Op struct {
	Kind     Kind
	Type, ID string
	Value    []byte // not used by KindDelete
	Expected uint64 // used by KindUpdateVersioned only
}

// txn applies operations to a tree, accounting data bytes and sequence
// numbers locally; Store.commit makes it visible.
type txn struct {
	s    *Store
	tree tree
	data int64
	seq  uint64
}

func actorBytes(a *Actor) int64 {
	return int64(len(a.Type)+len(a.ID)+len(a.Value)) + actorOverhead
}

// apply validates op completely before it changes the tree.
func (t *txn) apply(op *Op, ts int64) (Result, *Error) {
	if op.Kind < KindInsert || op.Kind > KindDelete {
		return Result{}, errorf(InvalidArgument, "invalid argument: unknown operation kind %d", int(op.Kind))
	}
	if err := checkKeyShape(op.Type, op.ID); err != nil {
		return Result{}, err
	}
	cur, found := t.s.lookup(t.tree, op.Type, op.ID)
	if !found {
		if err := checkKeyText(op.Type, op.ID); err != nil {
			return Result{}, err
		}
	}
	if op.Kind != KindDelete {
		if err := t.s.checkValue(op.Value); err != nil {
			return Result{}, err
		}
	}
	switch op.Kind {
	case KindInsert:
		if found {
			return Result{}, errorf(AlreadyExists, "already exists: %s/%s", op.Type, op.ID)
		}
		return t.put(nil, op, ts)
	case KindUpdate:
		if !found {
			return Result{}, errorf(NotFound, "not found: %s/%s", op.Type, op.ID)
		}
		return t.put(cur, op, ts)
	case KindUpdateVersioned:
		if !found {
			return Result{}, errorf(NotFound, "not found: %s/%s", op.Type, op.ID)
		}
		if cur.Version != op.Expected {
			e := errorf(VersionMismatch, "version mismatch on %s/%s: expected %d, actual %d",
				op.Type, op.ID, op.Expected, cur.Version)
			e.Expected, e.Actual = op.Expected, cur.Version
			return Result{}, e
		}
		return t.put(cur, op, ts)
	default: // KindDelete: kinds were checked on entry
		if !found {
			return Result{}, nil
		}
		t.tree.delete(cur, &t.s.hint)
		t.data -= actorBytes(cur)
		t.emit(Event{Op: EventDelete, Type: cur.Type, ID: cur.ID, Prev: cur.Value,
			PrevVersion: cur.Version, HasPrev: true, Timestamp: ts})
		return Result{Actor: *cur, Found: true, Sequence: t.seq}, nil
	}
}

// put stores a new actor value, replacing cur when it is not nil. Actors in
// the tree are never modified: a copy-on-write tree copy may share them.
func (t *txn) put(cur *Actor, op *Op, ts int64) (Result, *Error) {
	a := &Actor{Type: op.Type, ID: op.ID, Value: op.Value}
	if cur != nil {
		a.Type, a.ID, a.Version = cur.Type, cur.ID, cur.Version+1
	} else {
		a.Type = t.s.intern(op.Type)
	}
	delta := actorBytes(a)
	if cur != nil {
		delta -= actorBytes(cur)
	}
	if delta > 0 && t.data+delta > t.s.opts.MaxDataBytes {
		return Result{}, errorf(StoreFull, "store full: writing %s/%s needs %d more bytes, %d of %d are used",
			op.Type, op.ID, delta, t.data, t.s.opts.MaxDataBytes)
	}
	t.tree.set(a, &t.s.hint)
	t.data += delta
	ev := Event{Op: EventInsert, Type: a.Type, ID: a.ID, New: a.Value, NewVersion: a.Version, HasNew: true, Timestamp: ts}
	if cur != nil {
		ev.Op, ev.Prev, ev.PrevVersion, ev.HasPrev = EventUpdate, cur.Value, cur.Version, true
	}
	t.emit(ev)
	return Result{Actor: *a, Found: true, Sequence: t.seq}, nil
}

func (t *txn) emit(ev Event) {
	t.seq++
	ev.Sequence = t.seq
	t.s.pending = append(t.s.pending, ev)
}

func (s *Store) intern(typ string) string {
	if v, ok := s.types[typ]; ok {
		return v
	}
	typ = strings.Clone(typ) // the caller's string may alias a buffer
	if len(s.types) < 4096 { // a bound, should ids be used as types
		s.types[typ] = typ
	}
	return typ
}

// Batch applies ops atomically: all of them, with consecutive sequence
// numbers and one timestamp, or none. A failing operation's error carries
// its index; the store is then unchanged.
func (s *Store) Batch(ops []Op, ts int64) ([]Result, *Error) {
	if err := CheckBatchLen(len(ops)); err != nil {
		return nil, err
	}
	t := txn{s: s, tree: s.tree.copy(), data: s.data, seq: s.feed.seq}
	out := make([]Result, len(ops))
	for i := range ops {
		r, err := t.apply(&ops[i], ts)
		if err != nil {
			for j := range s.pending {
				s.pending[j] = Event{}
			}
			s.pending = s.pending[:0]
			err.Index = i
			err.Msg = "batch operation " + strconv.Itoa(i) + ": " + err.Msg
			return nil, err
		}
		out[i] = r
	}
	s.commit(&t)
	return out, nil
}

// CheckBatchLen reports a batch of n operations as too long.
func CheckBatchLen(n int) *Error {
	if n > MaxBatchOps {
		return errorf(InvalidArgument, "invalid argument: a batch of %d operations, more than %d", n, MaxBatchOps)
	}
	return nil
}
