package tests

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/actorstore/actorstore/host"
)

// This file is the reference model of the model test: the contract of
// DESIGN.md "Semantics" written as plainly as possible, with maps and
// slices, including the replay buffer and data accounting documented in
// vectors/README.md.

// limits are the store options the model test runs with.
type limits struct {
	replayEvents int
	replayBytes  int64
	maxValue     int
	maxData      int64
}

// mkey is an actor's key.
type mkey struct{ typ, id string }

// mactor is a stored actor.
type mactor struct {
	value   []byte
	version uint64
}

// mevent is a change event; prev/next are nil when absent.
type mevent struct {
	seq       uint64
	op        host.Operation
	typ, id   string
	prev, new *mactor
	ts        int64 // ms
}

// size is what the event accounts in the replay buffer.
func (e *mevent) size() int64 {
	n := len(e.typ) + len(e.id) + 96
	if e.prev != nil {
		n += len(e.prev.value)
	}
	if e.new != nil {
		n += len(e.new.value)
	}
	return int64(n)
}

// merr is an expected error.
type merr struct {
	code             string
	expected, actual uint64 // VERSION_MISMATCH
	requested, old   uint64 // COMPACTED
	index            int    // batch operation, -1 outside batches
}

func modelErr(code string) *merr { return &merr{code: code, index: -1} }

// mresult is the outcome of one write: the actor written or removed, and
// whether a delete found it.
type mresult struct {
	key   mkey
	actor mactor
	found bool
}

// model is the reference store.
type model struct {
	lim       limits
	actors    map[mkey]mactor
	data      int64
	seq       uint64
	feed      []mevent // retained events, oldest first
	feedBytes int64
	dropped   uint64
}

func newModel(l limits) *model { return &model{lim: l, actors: map[mkey]mactor{}} }

// state is what a write changes; batches work on a copy.
type state struct {
	actors  map[mkey]mactor
	data    int64
	seq     uint64
	pending []mevent
}

func (m *model) begin() *state {
	return &state{actors: maps.Clone(m.actors), data: m.data, seq: m.seq}
}

func (m *model) commit(s *state) {
	m.actors, m.data, m.seq = s.actors, s.data, s.seq
	for _, e := range s.pending {
		m.push(e)
	}
}

// push adds an event to the replay buffer, evicting the oldest until it
// fits; an event larger than the byte budget is dropped at once.
func (m *model) push(e mevent) {
	size := e.size()
	for len(m.feed) > 0 && (len(m.feed) >= m.lim.replayEvents || m.feedBytes+size > m.lim.replayBytes) {
		m.feedBytes -= m.feed[0].size()
		m.feed = m.feed[1:]
		m.dropped++
	}
	if size > m.lim.replayBytes {
		m.dropped++
		return
	}
	m.feed = append(m.feed, e)
	m.feedBytes += size
}

// validKey reports whether a type or id is a valid key part.
func validKey(s string, max int) bool { return s != "" && len(s) <= max && utf8.ValidString(s) }

func actorCost(k mkey, value []byte) int64 { return int64(len(k.typ)+len(k.id)+len(value)) + 80 }

// write applies one write operation to s.
func (m *model) write(s *state, op *mop, ts int64) (mresult, *merr) {
	k := mkey{op.typ, op.id}
	if !validKey(op.typ, 256) || !validKey(op.id, 1024) {
		return mresult{}, modelErr("INVALID_KEY")
	}
	if op.kind != "delete" {
		if len(op.value.b) > m.lim.maxValue {
			return mresult{}, modelErr("VALUE_TOO_LARGE")
		}
		if !op.value.valid {
			return mresult{}, modelErr("INVALID_VALUE")
		}
	}
	cur, found := s.actors[k]
	switch {
	case op.kind == "insert" && found:
		return mresult{}, modelErr("ALREADY_EXISTS")
	case op.kind == "delete" && !found:
		return mresult{key: k}, nil
	case op.kind == "delete":
		return m.remove(s, k, cur, ts), nil
	case op.kind != "insert" && !found:
		return mresult{}, modelErr("NOT_FOUND")
	case op.kind == "updateVersioned" && cur.version != op.expected:
		return mresult{}, &merr{code: "VERSION_MISMATCH", expected: op.expected, actual: cur.version, index: -1}
	}
	var prev *mactor
	if found {
		prev = &cur
	}
	return m.put(s, k, prev, op.value.b, ts)
}

// put stores a new value for k, replacing prev when it is not nil.
func (m *model) put(s *state, k mkey, prev *mactor, value []byte, ts int64) (mresult, *merr) {
	a := mactor{value: value}
	delta := actorCost(k, value)
	if prev != nil {
		a.version = prev.version + 1
		delta -= actorCost(k, prev.value)
	}
	if delta > 0 && s.data+delta > m.lim.maxData {
		return mresult{}, modelErr("STORE_FULL")
	}
	s.actors[k] = a
	s.data += delta
	s.seq++
	e := mevent{seq: s.seq, op: host.OpInsert, typ: k.typ, id: k.id, prev: prev, new: &a, ts: ts}
	if prev != nil {
		e.op = host.OpUpdate
	}
	s.pending = append(s.pending, e)
	return mresult{key: k, actor: a, found: true}, nil
}

// remove deletes k.
func (m *model) remove(s *state, k mkey, cur mactor, ts int64) mresult {
	delete(s.actors, k)
	s.data -= actorCost(k, cur.value)
	s.seq++
	s.pending = append(s.pending, mevent{seq: s.seq, op: host.OpDelete, typ: k.typ, id: k.id, prev: &cur, ts: ts})
	return mresult{key: k, actor: cur, found: true}
}

// apply runs one write and commits it when it succeeds.
func (m *model) apply(op *mop, ts int64) (mresult, *merr) {
	s := m.begin()
	r, err := m.write(s, op, ts)
	if err == nil {
		m.commit(s)
	}
	return r, err
}

// batch runs ops atomically: all of them, or none and the failing index.
func (m *model) batch(ops []mop, ts int64) ([]mresult, *merr) {
	s := m.begin()
	out, err := m.batchIn(s, ops, ts)
	if err == nil {
		m.commit(s)
	}
	return out, err
}

// batchIn applies ops to s, stopping at the first failure.
func (m *model) batchIn(s *state, ops []mop, ts int64) ([]mresult, *merr) {
	out := make([]mresult, len(ops))
	for i := range ops {
		r, err := m.write(s, &ops[i], ts)
		if err != nil {
			err.index = i
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// get looks an actor up.
func (m *model) get(typ, id string) (mactor, bool, *merr) {
	if !validKey(typ, 256) || !validKey(id, 1024) {
		return mactor{}, false, modelErr("INVALID_KEY")
	}
	a, ok := m.actors[mkey{typ, id}]
	return a, ok, nil
}

// getAll lists the actors of typ ordered by id.
func (m *model) getAll(typ string) ([]mkey, *merr) {
	if !validKey(typ, 256) {
		return nil, modelErr("INVALID_KEY")
	}
	var keys []mkey
	for k := range m.actors {
		if k.typ == typ {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b mkey) int { return strings.Compare(a.id, b.id) })
	return keys, nil
}

// oldest is the oldest retained sequence, seq+1 when none is.
func (m *model) oldest() uint64 { return m.seq + 1 - uint64(len(m.feed)) }

// changes pages through the retained events after since.
func (m *model) changes(since uint64, f host.Filter, limit int) ([]mevent, uint64, *merr) {
	if since >= m.seq {
		return nil, since, nil
	}
	if old := m.oldest(); since+1 < old {
		return nil, 0, &merr{code: "COMPACTED", requested: since + 1, old: old, index: -1}
	}
	var out []mevent
	next := since
	for _, e := range m.feed[since+1-m.oldest():] {
		if len(out) == limit {
			break
		}
		next = e.seq
		if (f.ActorType == "" || e.typ == f.ActorType) && strings.HasPrefix(e.id, f.KeyPrefix) {
			out = append(out, e)
		}
	}
	return out, next, nil
}

// stats are the model's statistics.
func (m *model) stats() host.Stats {
	return host.Stats{TotalEvents: m.seq, CurrentSequence: m.seq, ReplayBufferSize: len(m.feed),
		EventsDropped: m.dropped, OldestSequence: m.oldest(), ReplayBufferBytes: uint64(m.feedBytes),
		Actors: uint64(len(m.actors)), DataBytes: uint64(m.data)}
}
