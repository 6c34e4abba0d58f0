package core

import (
	"hash/crc32"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/actorstore/actorstore/internal/le"
)

// Idempotent writes. A write — one operation or a batch — may carry an
// idempotency key. The store applies it at most once: it remembers the key
// with the write's first answer, and a later write with the same key gets
// that answer again, changing nothing. The table of keys is part of the
// store's state, as deterministic as the rest of it:
//
//   - Entries are kept oldest first, in the order their writes were made.
//     Timestamps are the host's mutation timestamps; nothing reads a clock.
//   - A key is remembered for Options.IdempotencyTTL after its write's
//     timestamp: a write whose timestamp is that much later finds it
//     absent. When a key is remembered, entries that expired by then are
//     forgotten from the oldest on, up to the first that has not.
//   - The table holds at most Options.IdempotencyKeys entries whose
//     answers account at most Options.IdempotencyBytes (idemEntryOverhead
//     per entry, plus its key, its results, a delete's removed value and an
//     error's message); the oldest are forgotten first. The newest entry is
//     always kept, even alone over the byte bound.
//   - An entry remembers a fingerprint of the request (CRC-32s of its
//     shape, operation kinds, keys, values and expected versions): the
//     same key with another request is InvalidArgument, never another
//     write's answer.
//   - What is remembered: a write that succeeded (its versions, sequence
//     numbers, found flags and a delete's removed value) and a write the
//     state refused (AlreadyExists, NotFound, VersionMismatch, StoreFull:
//     the error, message included). Requests refused for their own
//     sake (InvalidKey, InvalidValue, ValueTooLarge, InvalidArgument) are
//     not: the key stays free for a corrected request.
//
// A keyed write that made events is logged as a format-2 mutation record
// carrying its key, so replaying the log rebuilds the table's successful
// entries; snapshots carry the whole table (snapshot format version 2). A
// refused write, or one that made no event, leaves no record: after a
// restart from a log its retry is evaluated again. A replicated log (Raft)
// applies every command, refused or not, so every node has the same table.

// MaxIdempotencyKeyBytes bounds an idempotency key's length.
const MaxIdempotencyKeyBytes = 256

// RecordFormatKeyed is the first byte of a mutation record that carries an
// idempotency key (AppendKeyedRecord).
const RecordFormatKeyed = 2

const (
	// idemEntryOverhead approximates the fixed bytes of one entry: the
	// entry and its map slot.
	idemEntryOverhead = 160
	// idemOutcomeBytes is the bytes of one operation's remembered result.
	idemOutcomeBytes = 40
	// idemErrorBytes is the fixed bytes of a remembered error.
	idemErrorBytes = 64
	// maxIdemMsgBytes bounds a remembered error's message in a snapshot:
	// messages name at most a type, an id and a few numbers.
	maxIdemMsgBytes = 4096

	// snapshotVersionKeys is the version of a snapshot that holds
	// idempotency keys (frames of kind frameKeys).
	snapshotVersionKeys = 2
	frameKeys           = 5

	outcomeFound = 1
	outcomeValue = 2
)

// idemEntry is one remembered key. Entries are immutable once in the
// table, but for their links: snapshots share them.
type idemEntry struct {
	key          string
	ts           int64
	fp           uint64
	older, newer *idemEntry
	// err is the remembered refusal; nil for a write that succeeded.
	err *Error
	// first is the sequence of the first event the write made, 0 if none;
	// its found operations made consecutive events from there.
	first uint64
	out   []idemOutcome  // one per operation
	one   [1]idemOutcome // out's storage for a single operation
	size  int64          // bytes accounted against IdempotencyBytes
}

// idemOutcome is the result of one operation of a remembered write.
type idemOutcome struct {
	version uint64
	value   []byte // a found delete's removed value
	found   bool
}

func (e *idemEntry) account() {
	n := int64(idemEntryOverhead+len(e.key)) + int64(idemOutcomeBytes)*int64(len(e.out))
	for i := range e.out {
		n += int64(len(e.out[i].value))
	}
	if e.err != nil {
		n += int64(idemErrorBytes + len(e.err.Msg))
	}
	e.size = n
}

// succeeded fills e with the results rs of ops.
func (e *idemEntry) succeeded(ops []Op, rs []Result) {
	e.out = e.one[:min(len(rs), 1)]
	if len(rs) > 1 {
		e.out = make([]idemOutcome, len(rs))
	}
	for i := range rs {
		r, o := &rs[i], &e.out[i]
		o.found, o.version = r.Found, r.Actor.Version
		if r.Found && e.first == 0 {
			e.first = r.Sequence
		}
		if r.Found && ops[i].Kind == KindDelete {
			// A copy: the removed actor's value is in the arena, whose
			// record is reused once no retained event shows it.
			o.value = append([]byte{}, r.Actor.Value...)
		}
	}
	e.account()
}

// refused fills e with a copy of err.
func (e *idemEntry) refused(err *Error) {
	c := *err
	e.err = &c
	e.account()
}

// answer rebuilds the first answer for ops, the retried request: its
// written actors are the request's, a delete's removed value is the
// remembered one.
func (e *idemEntry) answer(ops []Op) ([]Result, *Error) {
	if e.err != nil {
		c := *e.err
		return nil, &c
	}
	out := make([]Result, len(e.out))
	seq := e.first
	for i := range e.out {
		o, op := &e.out[i], &ops[i]
		if !o.found {
			continue
		}
		out[i] = Result{Actor: Actor{Type: op.Type, ID: op.ID, Value: op.Value, Version: o.version},
			Found: true, Sequence: seq}
		if op.Kind == KindDelete {
			out[i].Actor.Value = o.value
		}
		seq++
	}
	return out, nil
}

// idemTable is the store's table of remembered keys: a map, and a list
// from the oldest entry to the newest.
type idemTable struct {
	m              map[string]*idemEntry
	oldest, newest *idemEntry
	bytes          int64
}

func expired(e *idemEntry, ts, ttl int64) bool {
	return ts > e.ts && uint64(ts)-uint64(e.ts) >= uint64(ttl)
}

// find returns the entry of key unless it is absent or expired at ts.
func (t *idemTable) find(key string, ts, ttl int64) *idemEntry {
	e := t.m[key]
	if e == nil || expired(e, ts, ttl) {
		return nil
	}
	return e
}

func (t *idemTable) link(e *idemEntry) {
	if t.m == nil {
		t.m = map[string]*idemEntry{}
	}
	e.older, e.newer = t.newest, nil
	if t.newest != nil {
		t.newest.newer = e
	} else {
		t.oldest = e
	}
	t.newest = e
	t.m[e.key] = e
	t.bytes += e.size
}

func (t *idemTable) unlink(e *idemEntry) {
	if e.older != nil {
		e.older.newer = e.newer
	} else {
		t.oldest = e.newer
	}
	if e.newer != nil {
		e.newer.older = e.older
	} else {
		t.newest = e.older
	}
	e.older, e.newer = nil, nil
	delete(t.m, e.key)
	t.bytes -= e.size
}

// put remembers e as the newest entry: it replaces an entry of the same
// key, forgets the entries expired at e's timestamp from the oldest on,
// then the oldest while the table is over its bounds.
func (t *idemTable) put(e *idemEntry, o *Options) {
	if old := t.m[e.key]; old != nil {
		t.unlink(old)
	}
	for t.oldest != nil && expired(t.oldest, e.ts, o.IdempotencyTTL) {
		t.unlink(t.oldest)
	}
	t.link(e)
	t.trim(o)
}

// trim forgets the oldest entries while the table is over its bounds,
// never the newest.
func (t *idemTable) trim(o *Options) {
	for t.oldest != t.newest && (len(t.m) > o.IdempotencyKeys || t.bytes > o.IdempotencyBytes) {
		t.unlink(t.oldest)
	}
}

// list returns the entries, oldest first.
func (t *idemTable) list() []*idemEntry {
	if len(t.m) == 0 {
		return nil
	}
	out := make([]*idemEntry, 0, len(t.m))
	for e := t.oldest; e != nil; e = e.newer {
		out = append(out, e)
	}
	return out
}

var ieee = crc32.IEEETable

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// fingerprint identifies a request: its shape (one write or a batch) and
// what each operation means — kind, key, value (not for a delete) and
// expected version (for updateVersioned only). It is two CRC-32s of
// those, Castagnoli's and IEEE's, side by side.
func fingerprint(batch bool, ops []Op) uint64 {
	var h [1 + 4*8]byte
	if batch {
		h[0] = 1
	}
	le.PutUint64(h[1:], uint64(len(ops)))
	c, i := crc32.Update(0, castagnoli, h[:9]), crc32.Update(0, ieee, h[:9])
	for j := range ops {
		op := &ops[j]
		var value []byte
		if op.Kind != KindDelete {
			value = op.Value
		}
		expected := uint64(0)
		if op.Kind == KindUpdateVersioned {
			expected = op.Expected
		}
		h[0] = byte(op.Kind)
		le.PutUint64(h[1:], uint64(len(op.Type)))
		le.PutUint64(h[9:], uint64(len(op.ID)))
		le.PutUint64(h[17:], uint64(len(value)))
		le.PutUint64(h[25:], expected)
		for _, p := range [...][]byte{h[:], bytesOf(op.Type), bytesOf(op.ID), value} {
			c, i = crc32.Update(c, castagnoli, p), crc32.Update(i, ieee, p)
		}
	}
	return uint64(c)<<32 | uint64(i)
}

// rememberedCode reports the refusals a key remembers: those that depend
// on the store's state, not on the request alone.
func rememberedCode(c Code) bool {
	switch c {
	case AlreadyExists, NotFound, VersionMismatch, StoreFull:
		return true
	}
	return false
}

func checkIdempotencyKey(key string) *Error {
	if len(key) > MaxIdempotencyKeyBytes {
		return errorf(InvalidArgument, "invalid argument: idempotency key of %d bytes, more than %d", len(key), MaxIdempotencyKeyBytes)
	}
	return nil
}

// ApplyKeyed is Apply under an idempotency key. The first write with a
// key is applied and its answer, success or refusal, remembered; a later
// one with the same key and the same operation gets that answer again,
// with repeated true, and changes nothing. The same key with another
// operation is InvalidArgument ("idempotency key reused for a different
// write"). An empty key is no key: Apply.
func (s *Store) ApplyKeyed(key string, op *Op, ts int64) (r Result, repeated bool, err *Error) {
	rs, repeated, err := s.keyed(key, unsafe.Slice(op, 1), false, ts)
	if err != nil {
		return Result{}, repeated, err
	}
	return rs[0], repeated, nil
}

// BatchKeyed is Batch under an idempotency key, as ApplyKeyed is Apply.
// A batch and a single write never share a key's answer, even of the same
// one operation.
func (s *Store) BatchKeyed(key string, ops []Op, ts int64) (rs []Result, repeated bool, err *Error) {
	return s.keyed(key, ops, true, ts)
}

func (s *Store) keyed(key string, ops []Op, batch bool, ts int64) ([]Result, bool, *Error) {
	if key == "" {
		rs, err := s.applyOps(ops, batch, ts)
		return rs, false, err
	}
	if err := checkIdempotencyKey(key); err != nil {
		return nil, false, err
	}
	if err := CheckBatchLen(len(ops)); err != nil {
		return nil, false, err
	}
	fp := fingerprint(batch, ops)
	if e := s.idem.find(key, ts, s.opts.IdempotencyTTL); e != nil {
		if e.fp != fp || e.err == nil && len(e.out) != len(ops) {
			return nil, false, errorf(InvalidArgument, "invalid argument: idempotency key reused for a different write")
		}
		rs, err := e.answer(ops)
		return rs, true, err
	}
	rs, err := s.applyOps(ops, batch, ts)
	if err != nil && !rememberedCode(err.Code) {
		return nil, false, err
	}
	e := &idemEntry{key: strings.Clone(key), ts: ts, fp: fp}
	if err != nil {
		e.refused(err)
	} else {
		e.succeeded(ops, rs)
	}
	s.idem.put(e, &s.opts)
	return rs, false, err
}

// applyOps applies ops as one write (batch false: ops holds one) or as a
// batch.
func (s *Store) applyOps(ops []Op, batch bool, ts int64) ([]Result, *Error) {
	if batch || len(ops) != 1 {
		return s.Batch(ops, ts)
	}
	r, err := s.Apply(&ops[0], ts)
	if err != nil {
		return nil, err
	}
	return []Result{r}, nil
}

// replayOps applies a record's operations. A keyed record's key is
// remembered with their results whatever the table held for it: the log
// says the write was applied. A record that makes no event leaves the
// table as it was (ReplayRecord refuses it).
func (s *Store) replayOps(r *Record) *Error {
	before := s.feed.seq
	rs, err := s.applyOps(r.Ops, r.Batch, r.TS)
	if err != nil || r.Key == "" || s.feed.seq == before { // no event: the replay fails
		return err
	}
	e := &idemEntry{key: strings.Clone(r.Key), ts: r.TS, fp: fingerprint(r.Batch || len(r.Ops) != 1, r.Ops)}
	e.succeeded(r.Ops, rs)
	s.idem.put(e, &s.opts)
	return nil
}

// AppendKeyedRecord appends the record of a keyed write: as AppendRecord,
// in format 2 with the key and whether the write was a batch (a batch of
// one operation is answered as a batch). An empty key appends a format-1
// record, which AppendRecord would. Format 2:
//
//	u8      0x02              RecordFormatKeyed
//	uvarint firstSeq
//	8 bytes ts
//	uvarint len, key          1..MaxIdempotencyKeyBytes
//	u8      batch             0 one write (n = 1), 1 a batch
//	uvarint n, then the operations as in format 1
func AppendKeyedRecord(dst []byte, firstSeq uint64, ts int64, key string, batch bool, ops []Op) []byte {
	if key == "" {
		return AppendRecord(dst, firstSeq, ts, ops)
	}
	dst = le.AppendUvarint(append(dst, RecordFormatKeyed), firstSeq)
	dst = le.AppendUint64(dst, uint64(ts))
	dst = appendBytes(dst, key)
	flag := byte(0)
	if batch {
		flag = 1
	}
	return appendOps(append(dst, flag), ops)
}

// recordKey reads the key and the batch flag of a format-2 record.
func (r *reader) recordKey() (key string, batch bool) {
	k := r.bytes(MaxIdempotencyKeyBytes)
	if r.err == nil && len(k) == 0 {
		r.fail("empty idempotency key")
	}
	switch r.byte() {
	case 0:
	case 1:
		batch = true
	default:
		r.off--
		r.fail("batch flag neither 0 nor 1")
	}
	return string(k), batch
}

// Snapshots: a store with keys writes a version-2 snapshot whose keys
// frames (kind 5) come after the event frames, and whose end frame counts
// the entries after the actors and events. A frame holds whole items: an
// entry's header, then one item per result of a successful write (so an
// entry of a large batch spans frames):
//
//	header:  uvarint len, key; 8 bytes ts; 8 bytes fingerprint; u8 code
//	         code 0 (success): uvarint first sequence; uvarint results
//	         otherwise (refusal): uvarint expected; uvarint actual;
//	                              uvarint index+1; uvarint len, message
//	result:  u8 flags (1 found, 2 has value); uvarint version;
//	         if has value: uvarint len, value (a delete's removed value)

// idemSnapshot streams a copy of the table's entries.
type idemSnapshot struct {
	entries []*idemEntry
	i, j    int  // the entry being written, its next result
	open    bool // entries[i]'s header is written
}

func (k *idemSnapshot) version() uint32 {
	if len(k.entries) > 0 {
		return snapshotVersionKeys
	}
	return snapshotVersion
}

func (k *idemSnapshot) more() bool { return k.i < len(k.entries) }

// appendEnd appends the entries' count to the end frame of a version-2
// snapshot.
func (k *idemSnapshot) appendEnd(dst []byte) []byte {
	if len(k.entries) == 0 {
		return dst
	}
	n := len(k.entries)
	k.entries = nil
	return le.AppendUvarint(dst, uint64(n))
}

// appendFrame appends one keys frame.
func (k *idemSnapshot) appendFrame(dst []byte) []byte {
	at := openFrame(&dst, frameKeys)
	for k.i < len(k.entries) && len(dst)-at < frameTarget {
		e := k.entries[k.i]
		if !k.open {
			dst = appendIdemHeader(dst, e)
			k.open, k.j = true, 0
		} else {
			o := &e.out[k.j]
			flags := byte(0)
			if o.found {
				flags |= outcomeFound
			}
			if o.value != nil {
				flags |= outcomeValue
			}
			dst = le.AppendUvarint(append(dst, flags), o.version)
			if o.value != nil {
				dst = appendBytes(dst, o.value)
			}
			k.j++
		}
		if e.err != nil || k.j == len(e.out) {
			k.i, k.open = k.i+1, false
		}
	}
	closeFrame(dst, at)
	return dst
}

func appendIdemHeader(dst []byte, e *idemEntry) []byte {
	dst = appendBytes(dst, e.key)
	dst = le.AppendUint64(dst, uint64(e.ts))
	dst = le.AppendUint64(dst, e.fp)
	if e.err == nil {
		dst = append(dst, byte(OK))
		dst = le.AppendUvarint(dst, e.first)
		return le.AppendUvarint(dst, uint64(len(e.out)))
	}
	dst = append(dst, byte(e.err.Code))
	dst = le.AppendUvarint(dst, e.err.Expected)
	dst = le.AppendUvarint(dst, e.err.Actual)
	dst = le.AppendUvarint(dst, uint64(e.err.Index+1))
	return appendBytes(dst, e.err.Msg)
}

// idemRestore reads keys frames into a restoring store's table.
type idemRestore struct {
	seen  bool       // a keys frame was read: no event frame may follow
	count uint64     // entries read
	cur   *idemEntry // the entry whose results are being read
	next  int        // its next result
	found uint64     // its found results so far
}

// frame reads one keys frame's payload into s's table; seq is the
// snapshot's sequence. It returns a description of what is wrong, or "".
func (k *idemRestore) frame(s *Store, rd *reader, seq uint64) string {
	k.seen = true
	for !rd.done() {
		if k.cur == nil {
			if msg := k.header(s, rd); msg != "" {
				return msg
			}
		} else if msg := k.result(rd); msg != "" {
			return msg
		}
		if e := k.cur; e != nil && (e.err != nil || k.next == len(e.out)) {
			if e.err == nil && (e.first == 0) != (k.found == 0) || e.first > seq || k.found > seq-e.first+1 {
				return "idempotency key results: sequence numbers out of range"
			}
			e.account()
			s.idem.link(e)
			k.cur = nil
		}
	}
	return ""
}

func (k *idemRestore) header(s *Store, rd *reader) string {
	key := rd.bytes(MaxIdempotencyKeyBytes)
	e := &idemEntry{key: string(key), ts: int64(rd.fixed64()), fp: rd.fixed64()}
	code := Code(rd.byte())
	if code == OK {
		e.first = rd.uvarint()
		n := rd.uvarint()
		if rd.err == nil && n > MaxBatchOps {
			return "idempotency key with " + strconv.FormatUint(n, 10) + " results"
		}
		e.out = e.one[:min(n, 1)]
		if n > 1 {
			e.out = make([]idemOutcome, n)
		}
	} else {
		err := &Error{Code: code, Expected: rd.uvarint(), Actual: rd.uvarint()}
		index := rd.uvarint()
		err.Msg = string(rd.bytes(maxIdemMsgBytes))
		if rd.err == nil && (!rememberedCode(code) || index > MaxBatchOps || !utf8.ValidString(err.Msg)) {
			return "malformed idempotency key refusal"
		}
		err.Index = int(index) - 1
		e.err = err
	}
	if rd.err != nil {
		return rd.err.Msg
	}
	if len(key) == 0 || s.idem.m[e.key] != nil {
		return "empty or repeated idempotency key"
	}
	k.cur, k.next, k.found = e, 0, 0
	k.count++
	return ""
}

func (k *idemRestore) result(rd *reader) string {
	o := &k.cur.out[k.next]
	flags := rd.byte()
	o.version = rd.uvarint()
	o.found = flags&outcomeFound != 0
	var value []byte
	if flags&outcomeValue != 0 {
		value = rd.bytes(MaxValueLimit)
	}
	if rd.err != nil {
		return rd.err.Msg
	}
	if flags&^(outcomeFound|outcomeValue) != 0 || !o.found && (flags != 0 || o.version != 0) {
		return "malformed idempotency key result"
	}
	if flags&outcomeValue != 0 {
		if err := CheckValue(value); err != nil {
			return "idempotency key result: " + err.Msg
		}
		o.value = append([]byte(nil), value...)
	}
	if o.found {
		k.found++
	}
	k.next++
	return ""
}

// end checks the count the end frame gives against the entries read.
func (k *idemRestore) end(n uint64) bool { return k.cur == nil && n == k.count && n > 0 }
