package core

import (
	"hash/crc32"
	"strconv"
	"unicode/utf8"

	"github.com/actorstore/actorstore/internal/le"
)

// A snapshot is the whole state of a store as a byte stream that every host
// writes and reads the same way:
//
//	"ACTORSNP"            8 bytes of magic
//	u32 version           1, little-endian; 2 when it holds idempotency keys
//	frames, each:         u32 payload length | u32 CRC-32C (Castagnoli) of
//	                      the payload | payload, whose first byte is its kind
//	  meta   (1): uvarint sequence, events dropped, actors, events
//	  actors (2): actors in key order, each: uvarint len, type; uvarint len,
//	              id; uvarint version; uvarint len, value
//	  events (3): the retained replay buffer, oldest first, each: uvarint
//	              sequence; u8 operation; uvarint len, type; uvarint len, id;
//	              u8 flags (1 has previous, 2 has new); if previous: uvarint
//	              version, uvarint len, value; if new: the same; 8 bytes ts
//	  end    (4): uvarint actors, events (again, as a check); version 2:
//	              uvarint idempotency keys
//	  keys   (5): version 2 only: the idempotency table (idempotency.go)
//
// One meta frame comes first, then actor frames, then event frames, then
// (version 2) keys frames, then the end frame, after which the stream
// stops. A store without idempotency keys writes version 1. Frames hold
// about 64 KiB of records (one record may make a frame larger).
const (
	snapshotMagic   = "ACTORSNP"
	snapshotVersion = 1
	snapshotHeader  = len(snapshotMagic) + 4

	frameMeta   = 1
	frameActors = 2
	frameEvents = 3
	frameEnd    = 4

	frameHeader = 8
	// frameTarget is the payload size a frame is closed at.
	frameTarget = 64 << 10
	// maxFrame bounds a frame's payload: one record with a value at
	// MaxValueLimit and its keys fits.
	maxFrame = MaxValueLimit + 64<<10

	flagPrev = 1
	flagNew  = 2
)

// MaxSnapshotChunk bounds the bytes one Engine.SnapshotNext returns,
// beyond one frame larger than it.
const MaxSnapshotChunk = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	Sequence uint64 // the store's CurrentSequence when it was taken
	Actors   uint64
	Events   uint64 // retained events it holds
}

// Snapshot streams the state of a store as it was when Store.Snapshot was
// called: a copy-on-write copy of the tree and of the retained events, so
// the store may go on changing while it is read. While it is open the
// store frees no record (arena), so the copy's records stay as they were.
type Snapshot struct {
	s       *Store // nil once the snapshot no longer holds the store's records
	info    SnapshotInfo
	dropped uint64
	tree    tree
	iter    iter
	cur     item // the next actor to write, when more
	events  []slot
	stage   int // 0 header and meta, 1 actors, 2 events, 3 keys and end, 4 done
	more    bool
	next    int // next event to write
	keys    idemSnapshot
}

// Snapshot starts a snapshot of the current state. Taking it costs a copy
// of the replay buffer's ring (refs, not values), not of the actors.
// Close it when done: until then the store reuses no memory.
func (s *Store) Snapshot() *Snapshot {
	f := &s.feed
	sn := &Snapshot{
		s:       s,
		info:    SnapshotInfo{Sequence: f.seq, Actors: uint64(s.tree.len()), Events: uint64(f.n)},
		dropped: f.dropped,
		tree:    s.tree.copy(),
		events:  make([]slot, f.n),
		keys:    idemSnapshot{entries: s.idem.list()},
	}
	for i := range sn.events {
		sn.events[i] = *f.at(i)
	}
	s.arena.hold++
	return sn
}

// Info describes the snapshot.
func (sn *Snapshot) Info() SnapshotInfo { return sn.info }

// Close ends the snapshot, letting the store reuse the memory of what it
// showed.
func (sn *Snapshot) Close() {
	sn.stage, sn.events, sn.tree, sn.iter, sn.keys = 4, nil, tree{}, iter{}, idemSnapshot{}
	if s := sn.s; s != nil {
		sn.s = nil
		s.arena.hold--
		s.arena.release(s.feed.oldest())
	}
}

// Next appends the next whole frames of the stream to dst, about max bytes
// of them (at least one frame), and returns dst unchanged once the stream
// is complete.
func (sn *Snapshot) Next(dst []byte, max int) []byte {
	start := len(dst)
	for sn.stage < 4 && (len(dst) == start || len(dst)-start < max) {
		switch sn.stage {
		case 0:
			dst = append(dst, snapshotMagic...)
			dst = le.AppendUint32(dst, sn.keys.version())
			at := openFrame(&dst, frameMeta)
			for _, v := range [...]uint64{sn.info.Sequence, sn.dropped, sn.info.Actors, sn.info.Events} {
				dst = le.AppendUvarint(dst, v)
			}
			closeFrame(dst, at)
			sn.iter.seek(&sn.tree, nil)
			sn.cur, sn.more = sn.iter.next()
			sn.stage = 1
		case 1:
			if !sn.more {
				sn.stage = 2
				continue
			}
			at := openFrame(&dst, frameActors)
			var a Actor
			for sn.more && len(dst)-at < frameTarget {
				sn.tree.a.actor(sn.cur.ref, &a)
				dst = appendBytes(dst, a.Type)
				dst = appendBytes(dst, a.ID)
				dst = le.AppendUvarint(dst, a.Version)
				dst = appendBytes(dst, a.Value)
				sn.cur, sn.more = sn.iter.next()
			}
			closeFrame(dst, at)
		case 2:
			if sn.next == len(sn.events) {
				sn.stage = 3
				continue
			}
			at := openFrame(&dst, frameEvents)
			var e Event
			for sn.next < len(sn.events) && len(dst)-at < frameTarget {
				sn.tree.a.event(&sn.events[sn.next], &e)
				dst = appendEvent(dst, &e)
				sn.next++
			}
			closeFrame(dst, at)
		case 3:
			if sn.keys.more() {
				dst = sn.keys.appendFrame(dst)
				continue
			}
			at := openFrame(&dst, frameEnd)
			dst = le.AppendUvarint(dst, sn.info.Actors)
			dst = le.AppendUvarint(dst, sn.info.Events)
			dst = sn.keys.appendEnd(dst)
			closeFrame(dst, at)
			sn.Close()
		}
	}
	return dst
}

// openFrame appends a frame header to be filled by closeFrame and the
// frame's kind, returning where the header starts.
func openFrame(dst *[]byte, kind byte) int {
	at := len(*dst)
	*dst = append(*dst, 0, 0, 0, 0, 0, 0, 0, 0, kind)
	return at
}

func closeFrame(dst []byte, at int) {
	p := dst[at+frameHeader:]
	le.PutUint32(dst[at:], uint32(len(p)))
	le.PutUint32(dst[at+4:], crc32.Checksum(p, castagnoli))
}

func appendEvent(dst []byte, e *Event) []byte {
	dst = le.AppendUvarint(dst, e.Sequence)
	dst = append(dst, byte(e.Op))
	dst = appendBytes(dst, e.Type)
	dst = appendBytes(dst, e.ID)
	var flags byte
	if e.HasPrev {
		flags |= flagPrev
	}
	if e.HasNew {
		flags |= flagNew
	}
	dst = append(dst, flags)
	if e.HasPrev {
		dst = le.AppendUvarint(dst, e.PrevVersion)
		dst = appendBytes(dst, e.Prev)
	}
	if e.HasNew {
		dst = le.AppendUvarint(dst, e.NewVersion)
		dst = appendBytes(dst, e.New)
	}
	return le.AppendUint64(dst, uint64(e.Timestamp))
}

// Restorer builds a new store from a snapshot stream written to it in
// pieces of any size. The stream is checked completely (checksums, order,
// keys, limits) before Finish hands out the store. Values are checked by
// the store that writes a snapshot, and each frame's checksum guards them
// since, so a restore does not check them again unless VerifyValues asks
// it to.
type Restorer struct {
	s      *Store
	buf    []byte
	pos    int   // bytes of buf consumed
	off    int64 // stream offset of buf[0]
	stage  int   // 0 header, 1 meta, 2 actors, 3 events, 4 after end
	meta   SnapshotInfo
	actors uint64
	events uint64
	last   item // the previous actor, for the order check
	verify bool
	err    *Error
	// version is the stream's; keys reads its idempotency keys.
	version uint32
	keys    idemRestore
}

// VerifyValues makes the restore check every value, of actors and of
// events, as a write checks it: a value that is not well-formed CBOR is
// then an error rather than restored as it is.
func (r *Restorer) VerifyValues() { r.verify = true }

// NewRestorer starts a restore into a new store with options o.
func NewRestorer(o Options) (*Restorer, *Error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	return &Restorer{s: s}, nil
}

func (r *Restorer) fail(off int64, msg string) *Error {
	if r.err == nil {
		r.err = errorf(InvalidArgument, "invalid snapshot: %s at offset %d", msg, off)
	}
	return r.err
}

// Write consumes the next bytes of the stream. After an error the restore
// is void and every later call returns the same error.
func (r *Restorer) Write(p []byte) *Error {
	if r.err != nil {
		return r.err
	}
	if r.pos > 0 && r.pos >= len(r.buf)/2 {
		n := copy(r.buf, r.buf[r.pos:])
		r.buf, r.off, r.pos = r.buf[:n], r.off+int64(r.pos), 0
	}
	r.buf = append(r.buf, p...)
	for {
		b := r.buf[r.pos:]
		at := r.off + int64(r.pos)
		if r.stage == 0 {
			if len(b) < snapshotHeader {
				if n := min(len(b), len(snapshotMagic)); string(b[:n]) != snapshotMagic[:n] {
					return r.fail(at, "not an Actor Store snapshot")
				}
				return nil
			}
			if string(b[:len(snapshotMagic)]) != snapshotMagic {
				return r.fail(at, "not an Actor Store snapshot")
			}
			r.version = le.Uint32(b[len(snapshotMagic):])
			if r.version != snapshotVersion && r.version != snapshotVersionKeys {
				return r.fail(at, "unsupported snapshot version "+strconv.FormatUint(uint64(r.version), 10))
			}
			r.pos += snapshotHeader
			r.stage = 1
			continue
		}
		if len(b) < frameHeader {
			return nil
		}
		if r.stage == 4 {
			return r.fail(at, "bytes after the end frame")
		}
		n := le.Uint32(b)
		if n == 0 || n > maxFrame {
			return r.fail(at, "frame length "+strconv.FormatUint(uint64(n), 10)+" out of range")
		}
		if len(b) < frameHeader+int(n) {
			return nil
		}
		payload := b[frameHeader : frameHeader+int(n)]
		if crc32.Checksum(payload, castagnoli) != le.Uint32(b[4:]) {
			return r.fail(at, "bad checksum")
		}
		if err := r.frame(payload, at); err != nil {
			return err
		}
		r.pos += frameHeader + int(n)
	}
}

// frame applies one checked frame's payload.
func (r *Restorer) frame(p []byte, at int64) *Error {
	kind := p[0]
	rd := reader{b: p[1:], what: "snapshot"}
	switch {
	case kind == frameMeta && r.stage == 1:
		r.meta.Sequence = rd.uvarint()
		dropped := rd.uvarint()
		r.meta.Actors = rd.uvarint()
		r.meta.Events = rd.uvarint()
		if !rd.done() {
			return r.fail(at, "malformed meta frame")
		}
		if r.meta.Events > r.meta.Sequence {
			return r.fail(at, "more events than sequence numbers")
		}
		r.s.feed.seq, r.s.feed.dropped = r.meta.Sequence-r.meta.Events, dropped
		r.stage = 2
	case kind == frameActors && r.stage == 2:
		for !rd.done() {
			if err := r.actor(&rd, at); err != nil {
				return err
			}
		}
	case kind == frameEvents && (r.stage == 2 || r.stage == 3) && !r.keys.seen:
		r.stage = 3
		for !rd.done() {
			if err := r.event(&rd, at); err != nil {
				return err
			}
		}
	case kind == frameKeys && r.version == snapshotVersionKeys && (r.stage == 2 || r.stage == 3):
		r.stage = 3
		if msg := r.keys.frame(r.s, &rd, r.meta.Sequence); msg != "" {
			return r.fail(at, msg)
		}
	case kind == frameEnd && r.stage >= 2:
		actors, events := rd.uvarint(), rd.uvarint()
		if r.version == snapshotVersionKeys && !r.keys.end(rd.uvarint()) {
			return r.fail(at, "idempotency keys do not match the end frame")
		}
		if !rd.done() {
			return r.fail(at, "malformed end frame")
		}
		if actors != r.meta.Actors || events != r.meta.Events || r.actors != actors || r.events != events {
			return r.fail(at, "counts do not match: meta says "+strconv.FormatUint(r.meta.Actors, 10)+
				" actors and "+strconv.FormatUint(r.meta.Events, 10)+" events, the stream holds "+
				strconv.FormatUint(r.actors, 10)+" and "+strconv.FormatUint(r.events, 10))
		}
		r.stage = 4
	default:
		return r.fail(at, "unexpected frame kind "+strconv.Itoa(int(kind)))
	}
	return nil
}

// actor restores the next actor of rd. Most actors take the fast path,
// which reads them without the reader; anything it does not expect goes
// to the reader, for its errors.
func (r *Restorer) actor(rd *reader, at int64) *Error {
	b, off := rd.b, rd.off
	var tl, il, vl uint64
	var version uint64
	if tl, off = uvar(b, off); off > 0 && tl <= MaxTypeBytes && uint64(len(b)-off) >= tl {
		typ := b[off : off+int(tl)]
		if il, off = uvar(b, off+int(tl)); off > 0 && il <= MaxIDBytes && uint64(len(b)-off) >= il {
			id := b[off : off+int(il)]
			if version, off = uvar(b, off+int(il)); off > 0 {
				if vl, off = uvar(b, off); off > 0 && vl <= MaxValueLimit && uint64(len(b)-off) >= vl {
					rd.off = off + int(vl)
					return r.add(typ, id, version, b[off:rd.off:rd.off], at)
				}
			}
		}
	}
	typ, id := rd.bytes(MaxTypeBytes), rd.bytes(MaxIDBytes)
	version = rd.uvarint()
	value := rd.bytes(MaxValueLimit)
	if rd.err != nil {
		return r.fail(at, rd.err.Msg)
	}
	return r.add(typ, id, version, value, at)
}

// uvar reads the uvarint at b[off:], returning the offset after it, or 0
// when there is none.
func uvar(b []byte, off int) (uint64, int) {
	if off < len(b) && b[off] < 0x80 {
		return uint64(b[off]), off + 1
	}
	return uvarSlow(b, off)
}

func uvarSlow(b []byte, off int) (uint64, int) {
	if off >= len(b) {
		return 0, 0
	}
	v, n := le.Uvarint(b[off:])
	if n <= 0 {
		return 0, 0
	}
	return v, off + n
}

// asciiKey reports whether typ and id are a valid key in ASCII, as most
// keys are: CheckKey decides the others.
func asciiKey(typ, id []byte) bool {
	if len(typ) == 0 || len(id) == 0 || len(typ) > MaxTypeBytes || len(id) > MaxIDBytes {
		return false
	}
	var or byte
	for _, c := range typ {
		or |= c
	}
	for _, c := range id {
		or |= c
	}
	return or < utf8.RuneSelf
}

// add checks one actor of the stream and puts it in the store.
func (r *Restorer) add(typ, id []byte, version uint64, value []byte, at int64) *Error {
	s := r.s
	// The key's strings share the frame, for the checks only: the record
	// is a copy.
	t, i := view(typ), view(id)
	if !asciiKey(typ, id) {
		if err := CheckKey(t, i); err != nil {
			return r.fail(at, err.Msg)
		}
	}
	if len(value) > s.opts.MaxValueBytes { // valid, but not for these options
		r.err = errorf(ValueTooLarge, "value too large: the snapshot's actor %s/%s has %d bytes, MaxValueBytes is %d",
			t, i, len(value), s.opts.MaxValueBytes)
		return r.err
	}
	if r.verify {
		if err := CheckValue(value); err != nil {
			return r.fail(at, "actor "+t+"/"+i+": "+err.Msg)
		}
	}
	k := makeKey(t, i)
	if r.actors > 0 && s.tree.cmp(&k, &r.last) <= 0 {
		return r.fail(at, "actors out of order at "+t+"/"+i)
	}
	if s.data += actorBytes(t, i, value); s.data > s.opts.MaxDataBytes {
		r.err = errorf(StoreFull, "store full: the snapshot's actors need more than MaxDataBytes (%d)", s.opts.MaxDataBytes)
		return r.err
	}
	r.actors++
	if r.actors > r.meta.Actors {
		return r.fail(at, "more actors than the meta frame says")
	}
	r.last = k.item(s.arena.put(t, i, value, version))
	s.tree.insert(r.last, &k, true)
	return nil
}

func (r *Restorer) event(rd *reader, at int64) *Error {
	var e Event
	e.Sequence = rd.uvarint()
	e.Op = EventOp(rd.byte())
	typ, id := rd.bytes(MaxTypeBytes), rd.bytes(MaxIDBytes)
	flags := rd.byte()
	if flags&flagPrev != 0 {
		e.HasPrev, e.PrevVersion = true, rd.uvarint()
		e.Prev = rd.bytes(MaxValueLimit)
	}
	if flags&flagNew != 0 {
		e.HasNew, e.NewVersion = true, rd.uvarint()
		e.New = rd.bytes(MaxValueLimit)
	}
	e.Timestamp = int64(rd.fixed64())
	if rd.err != nil {
		return r.fail(at, rd.err.Msg)
	}
	var want byte
	switch e.Op {
	case EventInsert:
		want = flagNew
	case EventUpdate:
		want = flagPrev | flagNew
	case EventDelete:
		want = flagPrev
	}
	if want == 0 || flags != want {
		return r.fail(at, "malformed event "+strconv.FormatUint(e.Sequence, 10))
	}
	if e.Sequence != r.s.feed.seq+1 {
		return r.fail(at, "event "+strconv.FormatUint(e.Sequence, 10)+" out of sequence")
	}
	t, i := view(typ), view(id)
	if err := CheckKey(t, i); err != nil {
		return r.fail(at, err.Msg)
	}
	for j, v := range [2][]byte{e.Prev, e.New} {
		if r.verify && flags&(1<<j) != 0 {
			if err := CheckValue(v); err != nil {
				return r.fail(at, "event "+strconv.FormatUint(e.Sequence, 10)+": "+err.Msg)
			}
		}
	}
	r.events++
	if r.events > r.meta.Events {
		return r.fail(at, "more events than the meta frame says")
	}
	// The event's values go into the arena as records of its own, retired
	// when it leaves the ring.
	a := &r.s.arena
	var prev, new uint32
	if e.HasPrev {
		prev = a.put(t, i, e.Prev, e.PrevVersion)
	}
	if e.HasNew {
		new = a.put(t, i, e.New, e.NewVersion)
	}
	sl := a.slotOf(e.Op, prev, new, e.Sequence, e.Timestamp)
	sl.owned = true
	r.s.feed.push(&sl)
	return nil
}

// Finish checks the stream is complete and returns the restored store.
func (r *Restorer) Finish() (*Store, *Error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.stage != 4 {
		return nil, r.fail(r.off+int64(len(r.buf)), "truncated snapshot")
	}
	if r.pos != len(r.buf) {
		return nil, r.fail(r.off+int64(r.pos), "bytes after the end frame")
	}
	r.s.feed.seq = r.meta.Sequence
	r.s.arena.release(r.s.feed.oldest())
	r.s.idem.trim(&r.s.opts)
	s := r.s
	r.s, r.buf, r.err = nil, nil, errorf(InvalidArgument, "invalid argument: restore already finished")
	return s, nil
}
