package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/tetratelabs/wazero/api"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
)

// rawExports are the exports FuzzRawABI calls. configure and
// configure_idempotency are left out: they replace the store; the harness
// calls configure itself, to reset.
var rawExports = []string{"input_buffer", "insert", "update", "update_versioned", "delete", "get",
	"get_all", "changes", "sequence_at_time", "batch", "stats", "abi_version", "replay",
	"snapshot_begin", "snapshot_next", "snapshot_end", "restore_begin", "restore_write", "restore_end",
	"restore_abort", "keyed_write"}

// reservedType is the actor type of the actors the harness checks after
// every input; inputs holding it are skipped, so raw calls cannot touch
// them.
const reservedType = "\x00fuzzcheck"

// rawOptions keep the guest small, and StoreFull within reach: the store
// is reset when seven eighths full.
var rawOptions = core.Options{ReplayBufferSize: 64, ReplayBufferBytes: 256 << 10,
	MaxValueBytes: 16 << 10, MaxDataBytes: 128 << 10}

// rawHarness is one module instance driven through its raw exports.
type rawHarness struct {
	e     *wasmEngine
	fns   map[string]api.Function
	inLen uint64 // the guest's input buffer length: the largest size asked
	known []core.Actor
}

var (
	rawMu  sync.Mutex
	rawCur *rawHarness
)

// rawHarnessFor returns the process's harness, instantiating the module
// and inserting the known actors the first time or after a failure.
func rawHarnessFor(t *testing.T) *rawHarness {
	if rawCur != nil {
		return rawCur
	}
	e, err := newWASM(context.Background(), "", rawOptions)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	h := &rawHarness{e: e, fns: map[string]api.Function{}, inLen: 4096}
	for _, name := range append(rawExports, "configure") {
		if h.fns[name] = e.mod.ExportedFunction(name); h.fns[name] == nil {
			t.Fatalf("module does not export %s", name)
		}
	}
	h.insertKnown(t)
	rawCur = h
	return h
}

// insertKnown inserts the reserved actors: some through insert, one of
// them updated twice, and some, of a type of their own, through batch.
func (h *rawHarness) insertKnown(t *testing.T) {
	h.known = nil
	for i := range 4 {
		a := core.Actor{Type: reservedType, ID: fmt.Sprintf("k%d", i), Value: []byte{0x82, byte(i), 0x61, 'v'}}
		h.known = append(h.known, a)
		h.mustWrite(t, "insert", a.Type, a.ID, a.Value)
	}
	for range 2 {
		h.known[3].Version++
		h.mustWrite(t, "update", reservedType, "k3", h.known[3].Value)
	}
	var req []byte
	for i := range 3 {
		a := core.Actor{Type: reservedType + "/batch", ID: fmt.Sprintf("b%d", i), Value: []byte{0x43, 1, 2, byte(i)}}
		h.known = append(h.known, a)
		req = abi.AppendOp(req, &core.Op{Kind: core.KindInsert, Type: a.Type, ID: a.ID, Value: a.Value})
	}
	h.write(t, req)
	res, err := h.fns["batch"].Call(context.Background(), 3, uint64(len(req)), 1)
	if err != nil || h.result(t, "batch", res[0])[0] != 0 {
		t.Fatalf("batch of known actors failed (%v)", err)
	}
}

// mustWrite runs insert or update of (typ, id, v), which must succeed.
func (h *rawHarness) mustWrite(t *testing.T, name, typ, id string, v []byte) {
	h.write(t, []byte(typ+id+string(v)))
	res, err := h.fns[name].Call(context.Background(), uint64(len(typ)), uint64(len(id)), uint64(len(v)), 1)
	if err != nil {
		t.Fatalf("%s trapped: %v", name, err)
	}
	if body := h.result(t, name, res[0]); body[0] != byte(core.OK) {
		t.Fatalf("%s %q/%q failed: %x", name, typ, id, body)
	}
}

// write asks the guest for an input buffer of len(p) bytes, zeroes all of
// it, so no earlier request shows through, and writes p at its start.
func (h *rawHarness) write(t *testing.T, p []byte) {
	res, err := h.fns["input_buffer"].Call(context.Background(), uint64(len(p)))
	if err != nil || res[0] == 0 {
		t.Fatalf("input_buffer(%d) = %v, %v", len(p), res, err)
	}
	h.inLen = max(h.inLen, uint64(len(p)))
	ptr := uint32(res[0])
	if !h.e.mem.Write(ptr, make([]byte, h.inLen)) || !h.e.mem.Write(ptr, p) {
		t.Fatalf("input buffer at %d (%d bytes) outside memory", ptr, h.inLen)
	}
}

// result returns the bytes a packed result points at, after checking
// that they lie in memory and start with a known code other than Internal.
func (h *rawHarness) result(t *testing.T, name string, packed uint64) []byte {
	ptr, n := abi.Unpack(packed)
	view, ok := h.e.mem.Read(ptr, n)
	if !ok || n == 0 {
		t.Fatalf("%s: result of %d bytes at %d outside memory of %d", name, n, ptr, h.e.mem.Size())
	}
	if c := core.Code(view[0]); c > core.Internal || c == core.Internal {
		r := abi.NewReader(view[1:])
		t.Fatalf("%s: result code %d: %+v", name, c, r.ReadError(c))
	}
	return bytes.Clone(view)
}

// rawCall is one decoded call: an export, the bytes written into the input
// buffer first, and the parameters.
type rawCall struct {
	name   string
	input  []byte
	params []uint64
}

// rawInput doles out a fuzz input one byte at a time, then zeros.
type rawInput struct{ b []byte }

func (r *rawInput) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *rawInput) bytes(n int) []byte {
	n = min(n, len(r.b))
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// specialParams are boundary values for parameters.
var specialParams = []uint64{0, 1, math.MaxUint32, math.MaxUint32 - 1, math.MaxInt32, 1 << 31,
	math.MaxUint64, math.MaxInt64, 1 << 63, abi.MaxRequestBytes, abi.MaxRequestBytes + 1, 4096, 4097}

// param decodes one parameter: small, near the input's length, a boundary
// value, or any 64 bits.
func (r *rawInput) param(inputLen int) uint64 {
	switch tag := r.byte(); tag % 4 {
	case 0:
		return uint64(tag / 4)
	case 1:
		return uint64(inputLen) - uint64(tag/4%8) // may wrap: that is a big value
	case 2:
		return specialParams[int(tag/4)%len(specialParams)]
	}
	var p [8]byte
	copy(p[:], r.bytes(8))
	return binary.LittleEndian.Uint64(p[:])
}

// call decodes one call; input_buffer sizes up to abi.MaxRequestBytes are
// kept below 64 KiB, so the harness can afford to zero the buffer.
func (r *rawInput) call(fns map[string]api.Function) rawCall {
	c := rawCall{name: rawExports[int(r.byte())%len(rawExports)]}
	c.input = r.bytes(int(r.byte()) | int(r.byte()&0x7f)<<8)
	for _, typ := range fns[c.name].Definition().ParamTypes() {
		p := r.param(len(c.input))
		if typ == api.ValueTypeI32 {
			p = uint64(uint32(p))
		}
		c.params = append(c.params, p)
	}
	if c.name == "input_buffer" && c.params[0] <= abi.MaxRequestBytes {
		c.params[0] %= 1 << 16
	}
	return c
}

// run makes one raw call and checks what it returns.
func (h *rawHarness) run(t *testing.T, c rawCall) {
	h.write(t, c.input)
	res, err := h.fns[c.name].Call(context.Background(), c.params...)
	if err != nil {
		t.Fatalf("%s(%v) trapped: %v", c.name, c.params, err)
	}
	switch c.name {
	case "input_buffer":
		h.checkInputBuffer(t, c.params[0], uint32(res[0]))
	case "abi_version":
		if res[0] != abi.Version {
			t.Fatalf("abi_version = %d", res[0])
		}
	case "sequence_at_time":
		if cur := h.stats(t).CurrentSequence; res[0] < 1 || res[0] > cur+1 {
			t.Fatalf("sequence_at_time(%d) = %d, current sequence %d", int64(c.params[0]), res[0], cur)
		}
	default:
		checkBody(t, c.name, h.result(t, c.name, res[0]))
	}
}

func (h *rawHarness) checkInputBuffer(t *testing.T, size uint64, ptr uint32) {
	if size > abi.MaxRequestBytes {
		if ptr != 0 {
			t.Fatalf("input_buffer(%d) = %d, want 0", size, ptr)
		}
		return
	}
	h.inLen = max(h.inLen, size)
	if ptr == 0 || uint64(ptr)+h.inLen > uint64(h.e.mem.Size()) {
		t.Fatalf("input_buffer(%d) = %d: outside memory of %d", size, ptr, h.e.mem.Size())
	}
}

func (h *rawHarness) stats(t *testing.T) core.Stats {
	res, err := h.fns["stats"].Call(context.Background())
	if err != nil {
		t.Fatalf("stats trapped: %v", err)
	}
	r := abi.NewReader(h.result(t, "stats", res[0]))
	if core.Code(r.U8()) != core.OK {
		t.Fatal("stats failed")
	}
	return r.ReadStats()
}

// checkKnown checks that every reserved actor is still there, unchanged,
// and that they are all their types hold; it resets the store once it is
// seven eighths full.
func (h *rawHarness) checkKnown(t *testing.T) {
	for _, a := range h.known {
		r := h.rawGet(t, "get", a.Type, a.ID, 0)
		code, found, version := r.U8(), r.U8(), r.U64()
		v := r.Bytes(r.U32())
		if code != 0 || found != 1 || version != a.Version || !bytes.Equal(v, a.Value) || r.Err() != nil {
			t.Fatalf("known actor %q changed: code %d found %d version %d value %x", a.ID, code, found, version, v)
		}
	}
	for _, typ := range []string{reservedType, reservedType + "/batch"} {
		h.checkKnownType(t, typ)
	}
	if st := h.stats(t); st.DataBytes > uint64(rawOptions.MaxDataBytes*7/8) || st.Actors < uint64(len(h.known)) {
		if st.Actors < uint64(len(h.known)) {
			t.Fatalf("stats %+v count fewer actors than the known ones", st)
		}
		h.reset(t)
	}
}

// rawGet writes typ‖id into the input buffer and calls get or get_all.
func (h *rawHarness) rawGet(t *testing.T, name, typ, id string, maxBytes uint64) *abi.Reader {
	h.write(t, []byte(typ+id))
	params := []uint64{uint64(len(typ)), uint64(len(id)), maxBytes}
	res, err := h.fns[name].Call(context.Background(), params[:len(h.fns[name].Definition().ParamTypes())]...)
	if err != nil {
		t.Fatalf("%s trapped: %v", name, err)
	}
	return abi.NewReader(h.result(t, name, res[0]))
}

// checkKnownType checks that get_all of a reserved type lists exactly the
// known actors of that type, in id order.
func (h *rawHarness) checkKnownType(t *testing.T, typ string) {
	r := h.rawGet(t, "get_all", typ, "", 1<<20)
	code, more, n := r.U8(), r.U8(), r.U32()
	var got []string
	for range min(n, 100) {
		ver, il, vl := r.U64(), r.U32(), r.U32()
		got = append(got, fmt.Sprintf("%s:%d:%x", r.String(il), ver, r.Bytes(vl)))
	}
	var want []string
	for _, a := range h.known {
		if a.Type == typ {
			want = append(want, fmt.Sprintf("%s:%d:%x", a.ID, a.Version, a.Value))
		}
	}
	if code != 0 || more != 0 || r.Err() != nil || r.Len() != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("get_all(%q) = code %d more %d %v, want %v", typ, code, more, got, want)
	}
}

// reset replaces the guest's store with an empty one and inserts the known
// actors again.
func (h *rawHarness) reset(t *testing.T) {
	o := rawOptions
	res, err := h.fns["configure"].Call(context.Background(), uint64(o.ReplayBufferSize),
		uint64(o.ReplayBufferBytes), uint64(o.MaxValueBytes), uint64(o.MaxDataBytes))
	if err != nil || h.result(t, "configure", res[0])[0] != 0 {
		t.Fatalf("configure: %v", err)
	}
	h.insertKnown(t)
}

// seedCall encodes one call of a FuzzRawABI input: the export's index in
// rawExports, the input buffer bytes, then the encoded parameters.
func seedCall(export int, input string, params ...[]byte) []byte {
	b := append([]byte{byte(export), byte(len(input)), byte(len(input) >> 8)}, input...)
	return append(b, bytes.Join(params, nil)...)
}

// Parameter encodings for seedCall: a small value, the input's length, a
// boundary value from specialParams, and any 64 bits.
func pSmall(v byte) []byte   { return []byte{v << 2} }
func pFull() []byte          { return []byte{1} }
func pSpecial(i byte) []byte { return []byte{i<<2 | 2} }
func pRaw(v uint64) []byte   { return binary.LittleEndian.AppendUint64([]byte{3}, v) }

// seedOp encodes a batch operation.
func seedOp(kind byte, typ, id, v string) string {
	return string(abi.AppendOp(nil, &core.Op{Kind: core.Kind(kind), Type: typ, ID: id, Value: []byte(v)}))
}

// rawSeeds are inputs for FuzzRawABI: calls of each export with sensible
// and with hostile arguments.
func rawSeeds() [][]byte {
	const v = "\xa1\x61a\x01" // {"a": 1}
	p := pSmall
	return [][]byte{
		seedCall(1, "userid1"+v, p(4), p(3), p(4), p(1)),
		append(seedCall(1, "userid2"+v, p(4), p(3), p(4), p(1)), seedCall(5, "userid2", p(4), p(3))...),
		append(seedCall(1, "tx"+v, p(1), p(1), p(4), p(1)), seedCall(2, "tx\xf6", p(1), p(1), p(1), p(9))...),
		seedCall(3, "tx\xf6", p(1), p(1), p(1), p(0), p(2)),
		seedCall(4, "tx", p(1), p(1), p(3)),
		seedCall(6, "user", p(4), p(0), p(50)),
		seedCall(7, "user", p(0), p(10), p(4), p(0), pSpecial(2)),
		seedCall(8, "", pRaw(1<<63)),
		seedCall(9, seedOp(1, "b", "1", "\x01")+seedOp(2, "b", "1", "\x02")+seedOp(4, "b", "1", ""), p(3), pFull(), p(7)),
		seedCall(9, seedOp(1, "b", "2", "\x01")+seedOp(9, "b", "2", "\x02"), p(2), pFull(), p(7)),
		seedCall(9, seedOp(1, "b", "3", "\x01"), pSpecial(2), pFull(), p(7)),
		seedCall(10, ""), seedCall(11, ""),
		seedCall(0, "", pSpecial(10)), seedCall(0, "", pSpecial(9)), seedCall(0, "", p(63)),
		seedCall(1, "x", pSpecial(2), pSpecial(2), pSpecial(2), pRaw(0x0807060504030201)),
		seedCall(7, "\xff", pSpecial(6), pSpecial(6), p(1), p(1), pSpecial(6)),
		seedCall(1, "t\x00\xc3"+v, p(1), p(2), p(4), p(0)),
		append(seedCall(20, "k1"+seedOp(1, "i", "1", "\x01"), p(2), p(1), p(21+3), p(0), p(5)),
			seedCall(20, "k1"+seedOp(1, "i", "1", "\x01"), p(2), p(1), p(21+3), p(0), p(5))...),
		seedCall(20, "kb"+seedOp(1, "i", "2", "\x01")+seedOp(4, "i", "2", ""), p(2), p(2), p(21+3+21+2), p(1), p(5)),
		seedCall(20, "k"+seedOp(2, "i", "3", "\x01"), p(1), p(1), pFull(), p(2), p(5)),
		tooLargeSeed(), storeFullSeed(), compactedSeed(),
	}
}

// tooLargeSeed inserts a value of MaxValueBytes+1 bytes.
func tooLargeSeed() []byte {
	n := uint64(rawOptions.MaxValueBytes + 1)
	return append(seedCall(0, "", pRaw(n+2)), seedCall(1, "tl", pSmall(1), pSmall(1), pRaw(n), pSmall(0))...)
}

// storeFullSeed grows the input buffer, then inserts eight values of
// MaxValueBytes, more than MaxDataBytes in all: byte strings whose zero
// bytes are the rest of the buffer.
func storeFullSeed() []byte {
	n := rawOptions.MaxValueBytes
	b := seedCall(0, "", pRaw(uint64(n+2)))
	for i := range 8 {
		v := "\x59" + string([]byte{byte((n - 3) >> 8), byte(n - 3)})
		b = append(b, seedCall(1, "f"+string(rune('a'+i))+v, pSmall(1), pSmall(1), pRaw(uint64(n)), pSmall(0))...)
	}
	return b
}

// compactedSeed inserts more actors in one batch than the replay buffer
// holds, then asks for changes from the beginning.
func compactedSeed() []byte {
	var ops string
	for i := range rawOptions.ReplayBufferSize + 6 {
		ops += seedOp(1, "c", fmt.Sprint(i), "\xf6")
	}
	b := seedCall(9, ops, pRaw(uint64(rawOptions.ReplayBufferSize+6)), pFull(), pSmall(1))
	return append(b, seedCall(7, "", pSmall(0), pSmall(9), pSmall(0), pSmall(0), pSpecial(2))...)
}

// FuzzRawABI calls the module's exports directly with arbitrary input
// buffer contents and parameters, on one instance per process holding a few
// reserved actors. No call may trap; each packed result must lie in memory
// and start with a known code other than Internal (a recovered panic), and
// its body must have the layout of its export; values handed out must be
// well-formed CBOR. After each input, the reserved actors must be there,
// unchanged.
func FuzzRawABI(f *testing.F) {
	for _, b := range rawSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Contains(b, []byte(reservedType)) {
			t.Skip("input holds the reserved actor type")
		}
		rawMu.Lock()
		defer rawMu.Unlock()
		h := rawHarnessFor(t)
		defer func() {
			if t.Failed() {
				h.e.close(context.Background())
				rawCur = nil // next input gets a fresh instance
			}
		}()
		in := &rawInput{b}
		for i := 0; i < 16 && len(in.b) > 0; i++ {
			h.run(t, in.call(h.fns))
		}
		h.checkKnown(t)
	})
}

// checkBody checks that a result body has its export's layout, exactly.
func checkBody(t *testing.T, name string, body []byte) {
	r := abi.NewReader(body)
	if code := core.Code(r.U8()); code != core.OK {
		if e := r.ReadError(code); e.Code != code || e.Msg == "" || r.Len() != 0 || !knownFailure(code) {
			t.Fatalf("%s: malformed error result %x", name, body)
		}
		return
	}
	switch name {
	case "insert", "update", "update_versioned":
		r.U64()
		if r.U64() == 0 {
			t.Fatalf("%s: sequence 0 after a write", name)
		}
	case "delete":
		readResultBody(t, r, true)
	case "get":
		if r.U8() == 1 {
			r.U64()
			checkValue(t, name, r.Bytes(r.U32()))
		}
	case "get_all":
		readGetAll(t, r)
	case "changes":
		readChanges(t, r)
	case "batch":
		for n := r.U32(); n > 0 && r.Err() == nil; n-- {
			readResultBody(t, r, false)
		}
	case "keyed_write":
		if rep := r.U8(); rep > 1 {
			t.Fatalf("keyed_write: repeated %d", rep)
		}
		for n := r.U32(); n > 0 && r.Err() == nil; n-- {
			readResultBody(t, r, false)
		}
	case "stats":
		r.ReadStats()
	case "replay", "restore_end":
		r.U64()
		r.U64()
	case "snapshot_begin":
		r.U64()
		r.U64()
		r.U64()
	case "snapshot_next":
		r.Bytes(uint32(r.Len()))
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("%s: result %x does not have the export's layout (%v, %d bytes left)", name, body, r.Err(), r.Len())
	}
}

// knownFailure reports whether a raw call may fail with code. Each code is
// its own branch, which guides the fuzzer towards every outcome.
func knownFailure(code core.Code) bool {
	switch code {
	case core.InvalidKey:
		return true
	case core.AlreadyExists:
		return true
	case core.NotFound:
		return true
	case core.VersionMismatch:
		return true
	case core.Compacted:
		return true
	case core.InvalidValue:
		return true
	case core.ValueTooLarge:
		return true
	case core.StoreFull:
		return true
	case core.InvalidArgument:
		return true
	}
	return false // OK, Closed (hosts only), Internal (a bug), unknown
}

// readResultBody reads a delete or batch result: found exactly when an
// event was made, with the removed value for a found delete.
func readResultBody(t *testing.T, r *abi.Reader, isDelete bool) {
	found, _, seq := r.U8(), r.U64(), r.U64()
	v := r.Bytes(r.U32())
	if r.Err() != nil {
		return
	}
	if found > 1 || (found == 1) != (seq != 0) {
		t.Fatalf("result found %d with sequence %d", found, seq)
	}
	if isDelete && found == 1 || len(v) > 0 {
		checkValue(t, "result", v)
	}
}

func readGetAll(t *testing.T, r *abi.Reader) {
	r.U8()
	prev := ""
	for n := r.U32(); n > 0 && r.Err() == nil; n-- {
		r.U64()
		il, vl := r.U32(), r.U32()
		id := r.String(il)
		if id == "" || id <= prev && prev != "" || !utf8.ValidString(id) {
			t.Fatalf("get_all: id %q after %q", id, prev)
		}
		prev = id
		checkValue(t, "get_all", r.Bytes(vl))
	}
}

func readChanges(t *testing.T, r *abi.Reader) {
	next, last := r.U64(), uint64(0)
	for n := r.U32(); n > 0 && r.Err() == nil; n-- {
		e := r.ReadEvent()
		if r.Err() != nil {
			return
		}
		if core.CheckKey(e.Type, e.ID) != nil || e.Sequence > next || e.Sequence <= last ||
			e.Op < core.EventInsert || e.Op > core.EventDelete {
			t.Fatalf("changes: bad event %+v (next %d, previous %d)", e, next, last)
		}
		last = e.Sequence
		if e.HasPrev {
			checkValue(t, "changes", e.Prev)
		}
		if e.HasNew {
			checkValue(t, "changes", e.New)
		}
	}
}

// checkValue fails the test when a stored value handed out is not one
// well-formed CBOR item: the store checks every value it takes.
func checkValue(t *testing.T, name string, v []byte) {
	if err := core.CheckValue(v); err != nil {
		t.Fatalf("%s: stored value %x is malformed: %v", name, v, err)
	}
}

// valueStores are one store per engine, shared by FuzzHostValues inputs.
var valueStores struct {
	once  sync.Once
	wasm  *Store
	nat   *Store
	err   error
	count int
}

func openValueStores() (*Store, *Store, error) {
	v := &valueStores
	v.once.Do(func() {
		clock := func() time.Time { return time.Unix(0, 42) }
		ctx := context.Background()
		if v.wasm, v.err = Open(ctx, Options{Clock: clock}); v.err == nil {
			v.nat, v.err = Open(ctx, Options{Engine: EngineNative, Clock: clock})
		}
	})
	return v.wasm, v.nat, v.err
}

// sentinelOf names the sentinel err matches, "" for nil.
func sentinelOf(err error) string {
	if err == nil {
		return ""
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "unknown: " + err.Error()
}

// wantValueError is what inserting v must give, per the contract.
func wantValueError(v []byte) error {
	if len(v) > core.DefaultMaxValueBytes {
		return ErrValueTooLarge
	}
	if core.CheckValue(v) != nil {
		return ErrInvalidValue
	}
	return nil
}

// FuzzHostValues inserts arbitrary bytes as a cbor.RawMessage on a wasm
// and a native store: both must fail with the error the contract gives
// (ErrValueTooLarge, ErrInvalidValue) or both succeed, and then Get, the
// change event and Delete must return the very bytes on both; the stores'
// stats must stay equal.
func FuzzHostValues(f *testing.F) {
	for _, v := range [][]byte{{}, {0x00}, {0xa1, 0x61, 'a', 0x01}, {0x81}, {0x61, 0xff}, {0x9f, 0xff},
		{0xf8, 0x10}, {0x5f, 0x41, 0x00, 0xff}, {0xc1, 0x1a, 0, 0, 0, 1}, {0xff}, {0x00, 0x00},
		bytes.Repeat([]byte{0x81}, 600), append(bytes.Repeat([]byte{0x81}, 511), 0)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		ws, ns, err := openValueStores()
		if err != nil {
			t.Fatal(err)
		}
		valueStores.count++
		id := fmt.Sprint("v", valueStores.count)
		want := wantValueError(v)
		for _, s := range []*Store{ws, ns} {
			if _, err := s.Insert(context.Background(), "val", id, cbor.RawMessage(v)); sentinelOf(err) != sentinelOf(want) {
				t.Fatalf("%v: Insert(%x) = %v, want %v", s.opts.Engine, v, err, want)
			}
		}
		if want == nil {
			checkValueRoundTrip(t, ws, ns, id, v)
		}
		wst, err1 := ws.Stats(context.Background())
		nst, err2 := ns.Stats(context.Background())
		if err1 != nil || err2 != nil || wst != nst {
			t.Fatalf("stats differ: wasm %+v (%v), native %+v (%v)", wst, err1, nst, err2)
		}
	})
}

// checkValueRoundTrip checks Get, the insert event and Delete of the actor
// (val, id) holding v on both stores.
func checkValueRoundTrip(t *testing.T, ws, ns *Store, id string, v []byte) {
	ctx := context.Background()
	for _, s := range []*Store{ws, ns} {
		a, found, err := s.Get(ctx, "val", id)
		if err != nil || !found || !bytes.Equal(a.Value, v) || a.Version != 0 {
			t.Fatalf("%v: Get = %+v, %v, %v; want the value %x", s.opts.Engine, a, found, err, v)
		}
		st, _ := s.Stats(ctx)
		p, err := s.Changes(ctx, st.CurrentSequence-1, Filter{}, 1)
		if err != nil || len(p.Events) != 1 || !bytes.Equal(p.Events[0].NewValue, v) || p.Events[0].ActorID != id {
			t.Fatalf("%v: insert event %+v, %v", s.opts.Engine, p, err)
		}
		a, found, err = s.Delete(ctx, "val", id)
		if err != nil || !found || !bytes.Equal(a.Value, v) {
			t.Fatalf("%v: Delete = %+v, %v, %v", s.opts.Engine, a, found, err)
		}
	}
}
