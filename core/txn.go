package core

import "strconv"

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

// txn applies operations to the store's tree, accounting data bytes and
// sequence numbers locally; Store.commit makes them visible. In a batch it
// records in s.undo how to take each change back.
type txn struct {
	s     *Store
	data  int64
	seq   uint64
	batch bool
}

// undo takes back one change of a batch: old is the item replaced or
// deleted, new the item written (ref 0: none).
type undo struct{ old, new item }

func actorBytes(typ, id string, value []byte) int64 {
	return int64(len(typ)+len(id)+len(value)) + actorOverhead
}

// apply validates op completely before it changes the tree, and fills
// res. Results and events are filled in place rather than passed by
// value: copies of structs holding pointers are dear in the wasm guest.
func (t *txn) apply(op *Op, ts int64, res *Result) *Error {
	if op.Kind < KindInsert || op.Kind > KindDelete {
		return errorf(InvalidArgument, "invalid argument: unknown operation kind %d", int(op.Kind))
	}
	if err := checkKeyShape(op.Type, op.ID); err != nil {
		return err
	}
	s := t.s
	cur, found := s.lookup(op.Type, op.ID)
	if !found {
		if err := checkKeyText(op.Type, op.ID); err != nil {
			return err
		}
	}
	if op.Kind != KindDelete {
		if err := s.checkValue(op.Value); err != nil {
			return err
		}
	}
	switch op.Kind {
	case KindInsert:
		if found {
			return errorf(AlreadyExists, "already exists: %s/%s", op.Type, op.ID)
		}
		return t.put(item{}, op, ts, res)
	case KindUpdate:
		if !found {
			return errorf(NotFound, "not found: %s/%s", op.Type, op.ID)
		}
		return t.put(cur, op, ts, res)
	case KindUpdateVersioned:
		if !found {
			return errorf(NotFound, "not found: %s/%s", op.Type, op.ID)
		}
		if v := s.arena.version(cur.ref); v != op.Expected {
			e := errorf(VersionMismatch, "version mismatch on %s/%s: expected %d, actual %d",
				op.Type, op.ID, op.Expected, v)
			e.Expected, e.Actual = op.Expected, v
			return e
		}
		return t.put(cur, op, ts, res)
	default: // KindDelete: kinds were checked on entry
		if !found {
			*res = Result{}
			return nil
		}
		s.tree.deleteFound()
		a := &res.Actor
		s.arena.actor(cur.ref, a)
		t.data -= actorBytes(a.Type, a.ID, a.Value)
		res.Found, res.Sequence = true, t.seq+1
		t.emit(EventDelete, cur.ref, 0, ts)
		s.arena.retire(cur.ref, t.seq)
		if t.batch {
			s.undo = append(s.undo, undo{old: cur})
		}
		return nil
	}
}

// put writes a new record for op and puts it in the tree, in place of cur
// when cur.ref is not 0. Records are never modified: a snapshot's copy of
// the tree and retained events may show cur.
func (t *txn) put(cur item, op *Op, ts int64, res *Result) *Error {
	s := t.s
	var old Actor
	delta := actorBytes(op.Type, op.ID, op.Value)
	if cur.ref != 0 {
		s.arena.actor(cur.ref, &old)
		delta -= actorBytes(old.Type, old.ID, old.Value)
	}
	if delta > 0 && t.data+delta > s.opts.MaxDataBytes {
		return errorf(StoreFull, "store full: writing %s/%s needs %d more bytes, %d of %d are used",
			op.Type, op.ID, delta, t.data, s.opts.MaxDataBytes)
	}
	var version uint64
	if cur.ref != 0 {
		version = old.Version + 1
	}
	it := s.key.item(s.arena.put(op.Type, op.ID, op.Value, version))
	if cur.ref != 0 {
		s.tree.replaceFound(it)
	} else {
		s.tree.insertFound(it, &s.key)
	}
	t.data += delta
	a := &res.Actor
	s.arena.actor(it.ref, a)
	res.Found, res.Sequence = true, t.seq+1
	if cur.ref != 0 {
		t.emit(EventUpdate, cur.ref, it.ref, ts)
		s.arena.retire(cur.ref, t.seq)
	} else {
		t.emit(EventInsert, 0, it.ref, ts)
	}
	if t.batch {
		s.undo = append(s.undo, undo{old: cur, new: it})
	}
	return nil
}

// emit makes the next event, showing the records prev and new (0: none),
// and outside a batch pushes it to the feed at once: nothing can fail
// after an operation emits. A batch's events wait in s.pending until all
// of its operations succeed.
func (t *txn) emit(op EventOp, prev, new uint32, ts int64) {
	t.seq++
	sl := t.s.arena.slotOf(op, prev, new, t.seq, ts)
	if t.batch {
		t.s.pending = append(t.s.pending, sl)
	} else {
		t.s.feed.push(&sl)
	}
}

// Batch applies ops atomically: all of them, with consecutive sequence
// numbers and one timestamp, or none. A failing operation's error carries
// its index; the store is then unchanged. The operations are applied to
// the tree in place, and taken back in reverse order if one fails. The
// results, like what they show, share the store's memory: the next batch
// reuses it.
func (s *Store) Batch(ops []Op, ts int64) ([]Result, *Error) {
	if err := CheckBatchLen(len(ops)); err != nil {
		return nil, err
	}
	t := txn{s: s, data: s.data, seq: s.feed.seq, batch: true}
	retired := len(s.arena.later)
	if cap(s.results) < len(ops) {
		s.results = make([]Result, len(ops))
	}
	out := s.results[:len(ops)]
	for i := range ops {
		if err := t.apply(&ops[i], ts, &out[i]); err != nil {
			s.rollback(retired)
			err.Index = i
			err.Msg = "batch operation " + strconv.Itoa(i) + ": " + err.Msg
			return nil, err
		}
	}
	s.undo = s.undo[:0]
	s.commit(&t)
	return out, nil
}

// rollback takes back the changes of the batch being applied, newest
// first: the records it wrote are freed at once (nothing outside the
// batch saw them), and those it replaced or deleted, retired after the
// first retired entries, are back in the tree.
func (s *Store) rollback(retired int) {
	for i := len(s.undo) - 1; i >= 0; i-- {
		u := &s.undo[i]
		switch {
		case u.old.ref != 0 && u.new.ref != 0:
			k := s.keyOf(u.old)
			s.tree.replace(u.old, &k)
		case u.new.ref != 0:
			k := s.keyOf(u.new)
			s.tree.delete(&k)
		default:
			k := s.keyOf(u.old)
			s.tree.insert(u.old, &k, false)
		}
		if u.new.ref != 0 {
			s.arena.free(u.new.ref)
		}
	}
	s.undo = s.undo[:0]
	s.arena.later = s.arena.later[:retired]
	s.pending = s.pending[:0]
}

// keyOf returns the key of an item in the tree.
func (s *Store) keyOf(it item) key {
	typ, id := s.arena.key(it.ref)
	return key{hi: it.hi, lo: it.lo, n: it.n, typ: typ, id: id}
}

// CheckBatchLen reports a batch of n operations as too long.
func CheckBatchLen(n int) *Error {
	if n > MaxBatchOps {
		return errorf(InvalidArgument, "invalid argument: a batch of %d operations, more than %d", n, MaxBatchOps)
	}
	return nil
}
