package core

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// fxWellformed is fxamacker/cbor's well-formedness check with every limit
// at its maximum. Its Wellformed does not check UTF-8 (RFC 8949 calls that
// validity, not well-formedness), counts a tag chain's first tag as no
// level, and stops at 65535 levels and 2^31-1 elements.
var fxWellformed = func() func([]byte) error {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  65535,
		MaxArrayElements: math.MaxInt32,
		MaxMapPairs:      math.MaxInt32,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm.Wellformed
}()

// refItem walks the well-formed item at b[off:] recursively and returns
// the offset after it, its nesting depth counted as CheckValue counts it
// (each array, map and tag is one level) and whether it is valid: its text
// strings, chunk by chunk, valid UTF-8, and tags 0-3 holding the content
// RFC 8949 §3.4 gives them. b must be well-formed.
func refItem(b []byte, off int) (end, depth int, valid bool) {
	major, ai := b[off]>>5, b[off]&0x1f
	off++
	arg := uint64(ai)
	if ai >= 24 && ai <= 27 {
		n := 1 << (ai - 24)
		var p [8]byte
		copy(p[8-n:], b[off:off+n])
		arg, off = binary.BigEndian.Uint64(p[:]), off+n
	}
	indef := ai == 31
	switch major {
	case 2, 3:
		if !indef {
			return off + int(arg), 0, major == 2 || utf8.Valid(b[off:off+int(arg)])
		}
		valid = true
		for b[off] != 0xff {
			var chunkOK bool
			off, _, chunkOK = refItem(b, off)
			valid = valid && chunkOK
		}
		return off + 1, 0, valid
	case 4, 5:
		return refContainer(b, off, arg, indef, major == 5)
	case 6:
		tagOK := refTagContentOK(arg, b[off])
		end, depth, valid = refItem(b, off)
		return end, depth + 1, valid && tagOK
	}
	return off, 0, true
}

// refTagContentOK applies RFC 8949 §3.4 to the first byte of a tag's
// content: tag 0 holds a text string, tag 1 an integer or a float, tags 2
// and 3 a byte string; other tags hold anything.
func refTagContentOK(tag uint64, head byte) bool {
	major, ai := head>>5, head&0x1f
	switch tag {
	case 0:
		return major == 3
	case 1:
		return major == 0 || major == 1 || major == 7 && ai >= 25 && ai <= 27
	case 2, 3:
		return major == 2
	}
	return true
}

// refContainer walks the items of an array or map whose head ends at off.
func refContainer(b []byte, off int, n uint64, indef, isMap bool) (end, depth int, valid bool) {
	if isMap {
		n *= 2
	}
	valid = true
	for i := uint64(0); indef && b[off] != 0xff || !indef && i < n; i++ {
		var d int
		var ok bool
		off, d, ok = refItem(b, off)
		depth, valid = max(depth, d), valid && ok
	}
	if indef {
		off++
	}
	return off, depth + 1, valid
}

// cborSeeds are the CheckValue test vectors, for fuzz corpora.
func cborSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, h := range append(slices.Clone(wellFormedHex), malformedHex...) {
		out = append(out, unhex(t, h))
	}
	for _, h := range slices.Sorted(maps.Keys(tagContentHex)) {
		out = append(out, unhex(t, h))
	}
	for _, d := range []int{MaxNesting, MaxNesting + 1} {
		out = append(out, nested(0x81, d, []byte{0x00}, nil), nested(0x9f, d, nil, []byte{0xff}),
			nested(0xc6, d, []byte{0x61, 0x61}, nil), nested(0xa1, d, []byte{0x00, 0x00}, []byte{}))
	}
	return out
}

// FuzzCheckValue checks CheckValue against fxamacker/cbor's Wellformed.
// What fxamacker rejects, CheckValue must reject: fxamacker's own limits
// (65535 levels, 2^31-1 elements) are far above what CheckValue accepts or
// what an input of this size can hold. What fxamacker accepts, CheckValue
// must accept unless the item nests deeper than MaxNesting (counting tags,
// as fxamacker does not for a chain's first tag), holds a text string or
// text chunk that is not valid UTF-8, or a tag 0-3 whose content is not of
// the type RFC 8949 §3.4 gives it: validity rules that Wellformed leaves
// out, checked independently by refItem.
func FuzzCheckValue(f *testing.F) {
	for _, b := range cborSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := CheckValue(b)
		if got != nil && (got.Code != InvalidValue || got.Index != -1) {
			t.Fatalf("CheckValue(%x) = %+v: want code InvalidValue, index -1", b, got)
		}
		if fxErr := fxWellformed(b); fxErr != nil {
			if got == nil {
				t.Fatalf("CheckValue(%x) accepts what fxamacker rejects: %v", b, fxErr)
			}
			return
		}
		_, depth, valid := refItem(b, 0)
		if want := depth <= MaxNesting && valid; (got == nil) != want {
			t.Fatalf("CheckValue(%x) = %v; fxamacker accepts it, depth %d, UTF-8 and tags valid %v", b, got, depth, valid)
		}
	})
}

// fuzzBytes doles out a fuzz input one byte at a time, then zeros.
type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) next() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *fuzzBytes) take(n int) []byte {
	n = min(n, len(f.b))
	p := f.b[:n:n]
	f.b = f.b[n:]
	return p
}

// Keys and values FuzzStoreOps picks from: types of different lengths,
// one a prefix of another, ids sharing 16-byte prefixes, NUL bytes and
// invalid keys.
var (
	fuzzTypes = []string{"a", "b", "a\x00", "ab", "type-with-a-long-name", "type-with-a-long-name2",
		"ü", "a", "", "\xff"}
	fuzzIDs = []string{"1", "2", "10", "1\x00", "shared-prefix-0123456789-a", "shared-prefix-0123456789-b",
		"shared-prefix-0123456789", "ü", "3", "", "\xc3", strings.Repeat("i", MaxIDBytes+1)}
	fuzzPrefixes = []string{"", "1", "shared-prefix", "ü", "zz"}
	fuzzMaxBytes = []int64{0, 1, 100, 500, 1 << 40}
)

// validFuzzTypes lists the valid fuzzTypes once each.
func validFuzzTypes() []string {
	var out []string
	for _, typ := range fuzzTypes {
		if refKeyOK(typ, "x") && !slices.Contains(out, typ) {
			out = append(out, typ)
		}
	}
	return out
}

func (f *fuzzBytes) typ() string { return fuzzTypes[int(f.next())%len(fuzzTypes)] }
func (f *fuzzBytes) id() string  { return fuzzIDs[int(f.next())%len(fuzzIDs)] }

func (f *fuzzBytes) value() []byte {
	switch f.next() % 8 {
	case 0:
		return val(0, 0)
	case 1:
		return val(1, f.next())
	case 2:
		return val(20, f.next())
	case 3:
		return val(100, f.next())
	case 4:
		return val(300, f.next())
	case 5:
		return []byte{0x81}
	case 6:
		return bytes.Clone(f.take(int(f.next() % 8)))
	}
	return []byte{0xf6}
}

// op decodes one write operation, with an invalid kind now and then.
func (f *fuzzBytes) op() Op {
	op := Op{Kind: Kind(f.next() % 6), Type: f.typ(), ID: f.id()}
	if op.Kind != KindDelete {
		op.Value = f.value()
	}
	if op.Kind == KindUpdateVersioned {
		op.Expected = uint64(f.next() % 4)
	}
	return op
}

// refStore is a plain model of the store's contract: a map of actors and
// the list of every event ever made.
type refStore struct {
	o        Options
	overhead int64 // per-actor bytes beyond key and value
	actors   map[[2]string]Actor
	events   []Event
	data     int64
}

func (r *refStore) cost(a Actor) int64 {
	return int64(len(a.Type)+len(a.ID)+len(a.Value)) + r.overhead
}

func refKeyOK(typ, id string) bool {
	return typ != "" && id != "" && len(typ) <= MaxTypeBytes && len(id) <= MaxIDBytes &&
		utf8.ValidString(typ) && utf8.ValidString(id)
}

// apply applies op as the contract says, returning the result or the
// error code, with a VersionMismatch's fields.
func (r *refStore) apply(op *Op, ts int64) (Result, *Error) {
	fail := func(c Code) (Result, *Error) { return Result{}, &Error{Code: c, Index: -1} }
	if op.Kind < KindInsert || op.Kind > KindDelete { // before anything else
		return fail(InvalidArgument)
	}
	if !refKeyOK(op.Type, op.ID) {
		return fail(InvalidKey)
	}
	if op.Kind != KindDelete && len(op.Value) > r.o.MaxValueBytes {
		return fail(ValueTooLarge)
	}
	if op.Kind != KindDelete && CheckValue(op.Value) != nil {
		return fail(InvalidValue)
	}
	key := [2]string{op.Type, op.ID}
	cur, found := r.actors[key]
	switch {
	case op.Kind == KindInsert && found:
		return fail(AlreadyExists)
	case op.Kind != KindInsert && op.Kind != KindDelete && !found:
		return fail(NotFound)
	case op.Kind == KindUpdateVersioned && cur.Version != op.Expected:
		return Result{}, &Error{Code: VersionMismatch, Index: -1, Expected: op.Expected, Actual: cur.Version}
	case op.Kind == KindDelete && !found:
		return Result{}, nil
	case op.Kind == KindDelete:
		delete(r.actors, key)
		r.data -= r.cost(cur)
		return Result{Actor: cur, Found: true, Sequence: r.emit(Event{Op: EventDelete, Type: op.Type, ID: op.ID,
			Prev: cur.Value, PrevVersion: cur.Version, HasPrev: true, Timestamp: ts})}, nil
	}
	a := Actor{Type: op.Type, ID: op.ID, Value: op.Value}
	e := Event{Op: EventInsert, Type: op.Type, ID: op.ID, New: op.Value, HasNew: true, Timestamp: ts}
	delta := r.cost(a)
	if found {
		a.Version, delta = cur.Version+1, delta-r.cost(cur)
		e.Op, e.Prev, e.PrevVersion, e.NewVersion, e.HasPrev = EventUpdate, cur.Value, cur.Version, a.Version, true
	}
	if delta > 0 && r.data+delta > r.o.MaxDataBytes {
		return fail(StoreFull)
	}
	r.actors[key], r.data = a, r.data+delta
	return Result{Actor: a, Found: true, Sequence: r.emit(e)}, nil
}

func (r *refStore) emit(e Event) uint64 {
	e.Sequence = uint64(len(r.events)) + 1
	r.events = append(r.events, e)
	return e.Sequence
}

// batch applies ops to a copy of the model, kept only if all succeed.
func (r *refStore) batch(ops []Op, ts int64) ([]Result, *Error) {
	c := *r
	c.actors, c.events = maps.Clone(r.actors), slices.Clip(r.events)
	out := make([]Result, len(ops))
	for i := range ops {
		res, err := c.apply(&ops[i], ts)
		if err != nil {
			err.Index = i
			return nil, err
		}
		out[i] = res
	}
	*r = c
	return out, nil
}

func (r *refStore) retained() []Event {
	return wantRetained(r.events, r.o.ReplayBufferSize, r.o.ReplayBufferBytes)
}

// changes is the contract's changes(since, filter, limit, maxBytes).
func (r *refStore) changes(since uint64, f Filter, limit int, maxBytes int64) ([]Event, uint64, *Error) {
	seq, ret := uint64(len(r.events)), r.retained()
	if since >= seq {
		return nil, since, nil
	}
	if oldest := seq + 1 - uint64(len(ret)); since+1 < oldest {
		return nil, 0, &Error{Code: Compacted, Index: -1, Requested: since + 1, Oldest: oldest}
	}
	var out []Event
	next, size := since, int64(0)
	for _, e := range ret[len(ret)-int(seq-since):] {
		if len(out) >= limit || len(out) > 0 && size >= maxBytes {
			break
		}
		next = e.Sequence
		if (f.Type == "" || e.Type == f.Type) && strings.HasPrefix(e.ID, f.IDPrefix) {
			out, size = append(out, e), size+e.Size()
		}
	}
	return out, next, nil
}

func (r *refStore) sequenceAtTime(ts int64) uint64 {
	for _, e := range r.retained() {
		if e.Timestamp >= ts {
			return e.Sequence
		}
	}
	return uint64(len(r.events)) + 1
}

// sameError reports whether two errors agree on code, index and fields.
func sameError(a, b *Error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Code == b.Code && a.Index == b.Index && a.Expected == b.Expected && a.Actual == b.Actual &&
		a.Requested == b.Requested && a.Oldest == b.Oldest
}

func sameResult(a, b *Result) bool {
	return a.Found == b.Found && a.Sequence == b.Sequence && sameActor(&a.Actor, &b.Actor)
}

func sameActor(a, b *Actor) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Version == b.Version && bytes.Equal(a.Value, b.Value)
}

// storeOpsCase runs one FuzzStoreOps input: a store and its model.
type storeOpsCase struct {
	t   *testing.T
	s   *Store
	ref *refStore
	in  *fuzzBytes
	ts  int64
}

func newStoreOpsCase(t *testing.T, b []byte) *storeOpsCase {
	in := &fuzzBytes{b}
	o := Options{ReplayBufferSize: 1 + int(in.next()%16), ReplayBufferBytes: 100 + 8*int64(in.next()),
		MaxValueBytes: 16 + 2*int(in.next())}
	overhead := actorCost(t, "t", "i", val(0, 0)) - 3
	o.MaxDataBytes = maxDataBytes(in.next(), overhead)
	return &storeOpsCase{t: t, s: newStore(t, o), in: in,
		ref: &refStore{o: o, overhead: overhead, actors: map[[2]string]Actor{}}}
}

// maxDataBytes decodes a data budget: for even b, exactly what 1 to 8
// actors with one-byte type and id and a 20-byte value account for, so
// that writes fill it to the byte.
func maxDataBytes(b byte, overhead int64) int64 {
	if b%2 == 0 {
		return int64(b/2%8+1) * (2 + int64(len(val(20, 0))) + overhead)
	}
	return 100 + 16*int64(b)
}

// step decodes and runs one operation on both, comparing the outcomes.
func (c *storeOpsCase) step() {
	c.ts += int64(c.in.next()) - 64 // timestamps need not be monotonic
	switch code := c.in.next() % 8; code {
	case 0, 1, 2:
		op := c.in.op()
		got, gerr := c.s.Apply(&op, c.ts)
		want, werr := c.ref.apply(&op, c.ts)
		if !sameError(gerr, werr) || gerr == nil && !sameResult(&got, &want) {
			c.t.Fatalf("Apply(%+v): %+v, %+v; want %+v, %+v", op, got, gerr, want, werr)
		}
	case 3:
		ops := make([]Op, c.in.next()%6)
		for i := range ops {
			ops[i] = c.in.op()
		}
		got, gerr := c.s.Batch(ops, c.ts)
		want, werr := c.ref.batch(ops, c.ts)
		if !sameError(gerr, werr) || len(got) != len(want) {
			c.t.Fatalf("Batch(%+v): %+v, %+v; want %+v, %+v", ops, got, gerr, want, werr)
		}
		for i := range got {
			if !sameResult(&got[i], &want[i]) {
				c.t.Fatalf("Batch(%+v) result %d: %+v, want %+v", ops, i, got[i], want[i])
			}
		}
	case 4:
		c.changes()
	case 5:
		if got, want := c.s.SequenceAtTime(c.ts), c.ref.sequenceAtTime(c.ts); got != want {
			c.t.Fatalf("SequenceAtTime(%d) = %d, want %d", c.ts, got, want)
		}
	case 6:
		typ, id := c.in.typ(), c.in.id()
		got, found := c.s.Get(typ, id)
		want, wfound := c.ref.actors[[2]string{typ, id}]
		if found != wfound || found && !sameActor(&got, &want) {
			c.t.Fatalf("Get(%q, %q) = %+v %v, want %+v %v", typ, id, got, found, want, wfound)
		}
	default:
		c.check()
	}
}

// changes runs one Changes call on both.
func (c *storeOpsCase) changes() {
	seq := uint64(len(c.ref.events))
	since := uint64(c.in.next()) % (seq + 3)
	f := Filter{IDPrefix: fuzzPrefixes[int(c.in.next())%len(fuzzPrefixes)]}
	if t := c.in.next(); t%2 == 0 {
		f.Type = fuzzTypes[int(t/2)%len(fuzzTypes)]
	}
	limit := int(c.in.next() % 6)
	if limit == 5 {
		limit = math.MaxInt
	}
	maxBytes := fuzzMaxBytes[int(c.in.next())%len(fuzzMaxBytes)]
	got, gerr := c.s.Changes(since, f, limit, maxBytes)
	want, next, werr := c.ref.changes(since, f, limit, maxBytes)
	if !sameError(gerr, werr) || got.Next != next || !sameEvents(got.Events, want) {
		c.t.Fatalf("Changes(%d, %+v, %d, %d) = %+v, %+v; want %+v next %d, %+v",
			since, f, limit, maxBytes, got, gerr, want, next, werr)
	}
}

func sameEvents(a, b []Event) bool {
	return slices.EqualFunc(a, b, func(x, y Event) bool { return sameEvent(&x, &y) })
}

// check compares everything the store shows with the model and checks the
// invariants: actors counted, data bytes recomputed from the actors, a
// gap-free replay buffer ending at the current sequence.
func (c *storeOpsCase) check() {
	st, r := c.s.Stats(), c.ref
	ret := r.retained()
	var n, data uint64
	for _, typ := range validFuzzTypes() {
		all := c.s.GetAll(typ)
		want := slices.SortedFunc(maps.Values(r.actors), func(a, b Actor) int { return strings.Compare(a.ID, b.ID) })
		want = slices.DeleteFunc(want, func(a Actor) bool { return a.Type != typ })
		if !slices.EqualFunc(all, want, func(a, b Actor) bool { return sameActor(&a, &b) }) {
			c.t.Fatalf("GetAll(%q) = %+v, want %+v", typ, all, want)
		}
		for _, a := range all {
			n, data = n+1, data+uint64(r.cost(a))
		}
	}
	seq, bytes := uint64(len(r.events)), uint64(0)
	for i := range ret {
		bytes += uint64(ret[i].Size())
	}
	want := Stats{TotalEvents: seq, CurrentSequence: seq, OldestSequence: seq + 1 - uint64(len(ret)),
		ReplayEvents: uint64(len(ret)), ReplayBytes: bytes, EventsDropped: seq - uint64(len(ret)),
		Actors: n, DataBytes: data}
	if st != want || n != uint64(len(r.actors)) || data != uint64(r.data) || c.s.Len() != int(n) {
		c.t.Fatalf("stats %+v, want %+v (model: %d actors, %d bytes)", st, want, len(r.actors), r.data)
	}
	got, gerr := c.s.Changes(want.OldestSequence-1, Filter{}, math.MaxInt, math.MaxInt64)
	if gerr != nil || !sameEvents(got.Events, ret) || got.Next != max(seq, want.OldestSequence-1) {
		c.t.Fatalf("retained events %+v (%v), want %+v", got, gerr, ret)
	}
}

// storeOpsSeeds are inputs for FuzzStoreOps: options, then operations.
var storeOpsSeeds = [][]byte{
	{},
	{3, 10, 50, 20, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 2, 0, 7},
	{0, 0, 255, 255, 0, 1, 1, 1, 2, 2, 0, 0, 1, 3, 0, 2, 1, 1, 4, 0, 7, 0, 3, 3, 1, 0, 0, 2, 4, 1, 1, 3, 7},
	{15, 255, 255, 255, 0, 3, 5, 1, 0, 0, 2, 1, 1, 1, 3, 2, 0, 4, 0, 0, 1, 4, 7, 0, 4, 1, 0, 0, 2, 3, 7},
	{1, 1, 1, 1, 0, 0, 1, 2, 3, 4, 0, 0, 1, 4, 5, 4, 0, 4, 0, 1, 1, 3, 7, 0, 0, 4, 0, 0, 0, 5, 1},
	[]byte(strings.Repeat("\x00\x01\x02\x03\x04\x05\x06\x07", 20)),
	[]byte(strings.Repeat("\x10\x00\x01\x00\x00\x02\x03\x04\x00\x05\x06\x00\x01\x07", 12)),
}

// FuzzStoreOps runs a sequence of operations decoded from the input on a
// Store with small limits (so eviction and StoreFull happen) and on
// refStore, a plain model of the contract, comparing every result and
// error, then checks the invariants: actors counted and data bytes match
// what GetAll over every type shows, versions and events match the model,
// and the replay buffer is gap-free up to the current sequence.
func FuzzStoreOps(f *testing.F) {
	for _, b := range storeOpsSeeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newStoreOpsCase(t, b)
		for i := 0; i < 300 && len(c.in.b) > 0; i++ {
			c.step()
		}
		c.check()
	})
}
