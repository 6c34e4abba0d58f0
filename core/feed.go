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
// and by bytes, growing on demand up to its count bound.
type feed struct {
	buf      []Event
	head, n  int // oldest event at buf[head], n events retained
	maxN     int
	maxBytes int64
	bytes    int64
	seq      uint64 // newest sequence number made
	dropped  uint64
}

func (f *feed) init(maxN int, maxBytes int64) {
	f.maxN, f.maxBytes = maxN, maxBytes
	f.buf = make([]Event, min(maxN, 64))
}

// oldest returns the oldest retained sequence, or seq+1 if none is.
func (f *feed) oldest() uint64 { return f.seq + 1 - uint64(f.n) }

func (f *feed) at(i int) *Event { return &f.buf[(f.head+i)%len(f.buf)] }

func (f *feed) push(e *Event) {
	f.seq = e.Sequence
	size := e.Size()
	for f.n > 0 && (f.n >= f.maxN || f.bytes+size > f.maxBytes) {
		f.evict()
	}
	if size > f.maxBytes { // too big to retain at all: dropped at once
		f.dropped++
		return
	}
	if f.n == len(f.buf) {
		f.grow()
	}
	*f.at(f.n) = *e
	f.n++
	f.bytes += size
}

func (f *feed) evict() {
	e := f.at(0)
	f.bytes -= e.Size()
	*e = Event{}
	f.head = (f.head + 1) % len(f.buf)
	f.n--
	f.dropped++
}

func (f *feed) grow() {
	nb := make([]Event, min(max(2*len(f.buf), 64), f.maxN))
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
// it fails with Compacted. Events passed to fn are valid during the call.
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
	for i := int(since + 1 - fd.oldest()); i < fd.n && got < limit && (got == 0 || bytes < maxBytes); i++ {
		e := fd.at(i)
		next = e.Sequence
		if f.Match(e) {
			fn(e)
			got++
			bytes += e.Size()
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
		if e := fd.at(i); e.Timestamp >= ts {
			return e.Sequence
		}
	}
	return fd.seq + 1
}
