package core

import "strings"

// EventOp is the operation an event records; values are part of the ABI.
type EventOp uint8

// Event operations.
const (
	EventInsert EventOp = 1
	EventUpdate EventOp = 2
	EventDelete EventOp = 3
)

// String returns "insert", "update" or "delete".
func (o EventOp) String() string {
	switch o {
	case EventInsert:
		return "insert"
	case EventUpdate:
		return "update"
	case EventDelete:
		return "delete"
	}
	return "unknown"
}

// Event is one change. Prev* are set when HasPrev (update, delete), New*
// when HasNew (insert, update). Timestamp is the host's, in Unix
// nanoseconds.
type Event struct {
	Sequence    uint64
	Op          EventOp
	Type, ID    string
	Prev, New   []byte
	PrevVersion uint64
	NewVersion  uint64
	HasPrev     bool
	HasNew      bool
	Timestamp   int64
}

// Size is the bytes an event accounts for in the replay buffer.
func (e *Event) Size() int64 {
	return int64(len(e.Type)+len(e.ID)+len(e.Prev)+len(e.New)) + eventOverhead
}

// feed is the replay buffer: a ring of the newest events, bounded by count
// and by bytes, growing on demand up to its count bound. The ring holds no
// pointers, so the collector never scans it: an event is its sequence,
// timestamp and operation and the refs of the arena records it shows as
// previous and new (their type, id, value and version). The arena keeps a
// record while a retained event shows it (arena.retire).
type feed struct {
	a        *arena
	buf      []slot
	head, n  int // oldest event at buf[head], n events retained
	maxN     int
	maxBytes int64
	bytes    int64
	seq      uint64 // newest sequence number made
	dropped  uint64
}

// slot is one event in the ring.
type slot struct {
	seq       uint64
	ts        int64
	prev, new uint32 // records shown as previous and new; 0: none
	size      uint32 // Event.Size
	op        EventOp
	// owned marks a restored event's records, copies that belong to it
	// alone: they are retired when it leaves the ring. (Other events show
	// records of the tree, retired when replaced.)
	owned bool
}

func (f *feed) init(a *arena, maxN int, maxBytes int64) {
	f.a, f.maxN, f.maxBytes = a, maxN, maxBytes
	f.buf = make([]slot, min(maxN, 64))
}

// oldest returns the oldest retained sequence, or seq+1 if none is.
func (f *feed) oldest() uint64 { return f.seq + 1 - uint64(f.n) }

func (f *feed) at(i int) *slot { return &f.buf[(f.head+i)%len(f.buf)] }

// slotOf returns the slot of an event showing the records prev and new
// (0: none), its size computed from them.
func (a *arena) slotOf(op EventOp, prev, new uint32, seq uint64, ts int64) slot {
	size := uint32(eventOverhead)
	if new != 0 {
		h := head(a.bytes(new))
		size += uint32(h.tlen) + 1 + uint32(h.ilen) + h.vlen
	}
	if prev != 0 {
		h := head(a.bytes(prev))
		size += h.vlen
		if new == 0 {
			size += uint32(h.tlen) + 1 + uint32(h.ilen)
		}
	}
	return slot{seq: seq, ts: ts, prev: prev, new: new, size: size, op: op}
}

// event sets e to the event of sl, its strings and values sharing the
// arena.
func (a *arena) event(sl *slot, e *Event) {
	*e = Event{Sequence: sl.seq, Op: sl.op, Timestamp: sl.ts}
	var x Actor
	if sl.prev != 0 {
		a.actor(sl.prev, &x)
		e.Type, e.ID, e.Prev, e.PrevVersion, e.HasPrev = x.Type, x.ID, x.Value, x.Version, true
	}
	if sl.new != 0 {
		a.actor(sl.new, &x)
		e.Type, e.ID, e.New, e.NewVersion, e.HasNew = x.Type, x.ID, x.Value, x.Version, true
	}
}

func (f *feed) push(sl *slot) {
	f.seq = sl.seq
	size := int64(sl.size)
	for f.n > 0 && (f.n >= f.maxN || f.bytes+size > f.maxBytes) {
		f.evict()
	}
	if size > f.maxBytes { // too big to retain at all: dropped at once
		f.dropped++
		f.leave(sl)
		return
	}
	if f.n == len(f.buf) {
		f.grow()
	}
	*f.at(f.n) = *sl
	f.n++
	f.bytes += size
}

func (f *feed) evict() {
	sl := f.at(0)
	f.bytes -= int64(sl.size)
	f.leave(sl)
	f.head = (f.head + 1) % len(f.buf)
	f.n--
	f.dropped++
}

// leave retires the records an event owns as it leaves the ring.
func (f *feed) leave(sl *slot) {
	if sl.owned {
		for _, ref := range [2]uint32{sl.prev, sl.new} {
			if ref != 0 {
				f.a.retire(ref, sl.seq)
			}
		}
	}
}

func (f *feed) grow() {
	nb := make([]slot, min(max(2*len(f.buf), 64), f.maxN))
	for i := 0; i < f.n; i++ {
		nb[i] = *f.at(i)
	}
	f.buf, f.head = nb, 0
}

// Filter selects events: Type matches exactly when set, IDPrefix is a
// prefix of the actor id when set.
type Filter struct {
	Type     string
	IDPrefix string
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	return (f.Type == "" || e.Type == f.Type) && strings.HasPrefix(e.ID, f.IDPrefix)
}

// ScanChanges calls fn for up to limit events with sequence > since that
// match f, stopping early once the events passed account for maxBytes (at
// least one is always passed). It returns the cursor to continue from: the
// last event scanned, matching or not. If events after since were evicted
// it fails with Compacted. The event passed to fn is valid during the
// call, what it shows until the next write.
func (s *Store) ScanChanges(since uint64, f Filter, limit int, maxBytes int64, fn func(*Event)) (uint64, *Error) {
	fd := &s.feed
	if since >= fd.seq {
		return since, nil
	}
	if oldest := fd.oldest(); since+1 < oldest {
		e := errorf(Compacted, "compacted: events from %d were evicted, oldest retained is %d", since+1, oldest)
		e.Requested, e.Oldest = since+1, oldest
		return 0, e
	}
	next, got, bytes := since, 0, int64(0)
	var e Event
	for i := int(since + 1 - fd.oldest()); i < fd.n && got < limit && (got == 0 || bytes < maxBytes); i++ {
		sl := fd.at(i)
		next = sl.seq
		fd.a.event(sl, &e)
		if f.Match(&e) {
			fn(&e)
			got++
			bytes += int64(sl.size)
		}
	}
	return next, nil
}

// Changes is ScanChanges collecting the events; the page's Next is the
// cursor to pass as since on the next call.
func (s *Store) Changes(since uint64, f Filter, limit int, maxBytes int64) (Page, *Error) {
	var p Page
	next, err := s.ScanChanges(since, f, limit, maxBytes, func(e *Event) { p.Events = append(p.Events, *e) })
	p.Next = next
	return p, err
}

// Page is one result of Changes.
type Page struct {
	Events []Event
	Next   uint64
}

// SequenceAtTime returns the sequence of the first retained event with a
// timestamp at or after ts, or CurrentSequence+1 when there is none.
func (s *Store) SequenceAtTime(ts int64) uint64 {
	fd := &s.feed
	for i := 0; i < fd.n; i++ {
		if sl := fd.at(i); sl.ts >= ts {
			return sl.seq
		}
	}
	return fd.seq + 1
}
