package core

import "github.com/tidwall/btree"

// entry is one slot of the B-tree: the first 16 bytes of the actor's key,
// as two big-endian integers, beside the actor. Most comparisons end on
// the integers, without following the pointer or calling the runtime's
// string comparison, which is what dominates lookups in the wasm guest.
//
// The key is len(type) (2 bytes), type, id, zero-padded: actors of a type
// are contiguous and ordered by id. Types sort by length, then bytes.
type entry struct {
	hi, lo uint64
	a      *Actor
}

func keyPrefix(typ, id string) (hi, lo uint64) {
	var b [16]byte
	b[0], b[1] = byte(len(typ)>>8), byte(len(typ))
	n := 2 + copy(b[2:], typ)
	copy(b[n:], id)
	for _, c := range b[:8] {
		hi = hi<<8 | uint64(c)
	}
	for _, c := range b[8:] {
		lo = lo<<8 | uint64(c)
	}
	return hi, lo
}

func lessEntry(x, y entry) bool {
	if x.hi != y.hi {
		return x.hi < y.hi
	}
	if x.lo != y.lo {
		return x.lo < y.lo
	}
	a, b := x.a, y.a
	if len(a.Type) != len(b.Type) {
		return len(a.Type) < len(b.Type)
	}
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	return a.ID < b.ID
}

// tree is the copy-on-write B-tree of actors. Actors in it are never
// modified: a copy may share them.
type tree struct{ t *btree.BTreeG[entry] }

func newTree() tree {
	return tree{btree.NewBTreeGOptions(lessEntry, btree.Options{NoLocks: true, Degree: 64})}
}

func entryOf(a *Actor) entry {
	hi, lo := keyPrefix(a.Type, a.ID)
	return entry{hi, lo, a}
}

// get finds key's actor, leaving in hint the path for a following set or
// delete of the same key.
func (t tree) get(key *Actor, hint *btree.PathHint) (*Actor, bool) {
	e, ok := t.t.GetHint(entryOf(key), hint)
	return e.a, ok
}

func (t tree) set(a *Actor, hint *btree.PathHint) { t.t.SetHint(entryOf(a), hint) }

func (t tree) delete(a *Actor, hint *btree.PathHint) { t.t.DeleteHint(entryOf(a), hint) }

func (t tree) len() int { return t.t.Len() }

// copy returns a copy-on-write copy: O(1), nodes are cloned when written.
func (t tree) copy() tree { return tree{t.t.Copy()} }

// scan calls fn for actors of type typ with ids after after, in order.
func (t tree) scan(typ, after string, fn func(*Actor) bool) {
	t.t.Ascend(entryOf(&Actor{Type: typ, ID: after}), func(e entry) bool {
		if e.a.Type != typ {
			return false
		}
		if e.a.ID == after {
			return true
		}
		return fn(e.a)
	})
}
