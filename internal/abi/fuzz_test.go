package abi

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/actorstore/actorstore/core"
)

// decoder is one Read method under fuzzing. decode reads a value with it
// (arg feeds the methods that take one); encode writes the value back with
// the matching Append function. When exact, encode(decode(b)) must be the
// bytes decode read; otherwise, where a decoder drops what it does not
// keep (absent values, flags), decoding encode(v) must give v again.
type decoder struct {
	name   string
	decode func(r *Reader, arg uint32) any
	encode func(v any, arg uint32) []byte
	exact  bool
}

type getResult struct {
	a     core.Actor
	found bool
}

type getAllPage struct {
	actors []core.Actor
	more   bool
}

type statusResult struct{ err *core.Error }

type keyedResult struct {
	rs       []core.Result
	repeated bool
}

// batchOps are the operations ReadBatch decodes results for: arg%8 of
// them, a delete where bit i of arg>>3 is set.
func batchOps(arg uint32) []core.Op {
	ops := make([]core.Op, arg%8)
	for i := range ops {
		ops[i] = core.Op{Kind: core.KindUpdate, Type: "t", ID: "x", Value: []byte{byte(i)}}
		if arg>>(3+i)&1 == 1 {
			ops[i] = core.Op{Kind: core.KindDelete, Type: "t", ID: "y"}
		}
	}
	return ops
}

var decoders = []decoder{
	{"ReadStatus", func(r *Reader, _ uint32) any { return statusResult{r.ReadStatus()} },
		func(v any, _ uint32) []byte {
			if err := v.(statusResult).err; err != nil {
				return AppendError(nil, err)
			}
			return []byte{byte(core.OK)}
		}, true},
	{"ReadError", func(r *Reader, arg uint32) any { return r.ReadError(core.Code(arg)) },
		func(v any, arg uint32) []byte { return AppendError(nil, v.(*core.Error))[1:] }, true},
	{"ReadWrite", func(r *Reader, _ uint32) any { return r.ReadWrite() },
		func(v any, _ uint32) []byte { res := v.(core.Result); return AppendWrite(nil, &res) }, true},
	{"ReadGet", func(r *Reader, _ uint32) any { a, found := r.ReadGet(); return getResult{a, found} },
		func(v any, _ uint32) []byte { g := v.(getResult); return AppendGet(nil, &g.a, g.found) }, true},
	{"ReadResult", func(r *Reader, arg uint32) any { return r.ReadResult(arg&1 == 1) },
		func(v any, arg uint32) []byte { res := v.(core.Result); return AppendResult(nil, &res, arg&1 == 1) }, false},
	{"ReadGetAll", func(r *Reader, _ uint32) any { actors, more := r.ReadGetAll("t"); return getAllPage{actors, more} },
		func(v any, _ uint32) []byte {
			p := v.(getAllPage)
			b := make([]byte, GetAllHeader)
			putGetAllHeader(b, p.more, uint32(len(p.actors)))
			for i := range p.actors {
				b = appendActor(b, &p.actors[i])
			}
			return b
		}, true},
	{"ReadChanges", func(r *Reader, _ uint32) any { return r.ReadChanges() },
		func(v any, _ uint32) []byte {
			p := v.(core.Page)
			b := make([]byte, ChangesHeader)
			putChangesHeader(b, p.Next, uint32(len(p.Events)))
			for i := range p.Events {
				b = AppendEvent(b, &p.Events[i])
			}
			return b
		}, false},
	{"ReadEvent", func(r *Reader, _ uint32) any { return r.ReadEvent() },
		func(v any, _ uint32) []byte { e := v.(core.Event); return AppendEvent(nil, &e) }, false},
	{"ReadStats", func(r *Reader, _ uint32) any { return r.ReadStats() },
		func(v any, _ uint32) []byte { st := v.(core.Stats); return AppendStats(nil, &st) }, true},
	{"ReadOp", func(r *Reader, _ uint32) any { return r.ReadOp() },
		func(v any, _ uint32) []byte { op := v.(core.Op); return AppendOp(nil, &op) }, true},
	{"ReadBatchRequest", func(r *Reader, arg uint32) any { return r.ReadBatchRequest(arg) },
		func(v any, _ uint32) []byte { return AppendBatchRequest(nil, v.([]core.Op)) }, true},
	// Into a slice whose memory holds other operations: none may show.
	{"ReadBatchRequestInto", func(r *Reader, arg uint32) any {
		return r.ReadBatchRequestInto(batchOps(arg | 7)[:0], arg)
	}, func(v any, _ uint32) []byte { return AppendBatchRequest(nil, v.([]core.Op)) }, true},
	{"ReadBatch", func(r *Reader, arg uint32) any { return r.ReadBatch(batchOps(arg)) },
		func(v any, arg uint32) []byte { return AppendBatch(nil, batchOps(arg), v.([]core.Result)) }, false},
	{"ReadKeyedWrite", func(r *Reader, arg uint32) any {
		rs, rep := r.ReadKeyedWrite(batchOps(arg))
		return keyedResult{rs, rep}
	},
		func(v any, arg uint32) []byte {
			k := v.(keyedResult)
			return AppendKeyedWrite(nil, k.repeated, batchOps(arg), k.rs)
		}, false},
	{"ReadReplay", func(r *Reader, _ uint32) any { f, l := r.ReadReplay(); return [2]uint64{f, l} },
		func(v any, _ uint32) []byte { p := v.([2]uint64); return AppendReplay(nil, p[0], p[1]) }, true},
	{"ReadSnapshotBegin", func(r *Reader, _ uint32) any { return r.ReadSnapshotBegin() },
		func(v any, _ uint32) []byte { info := v.(core.SnapshotInfo); return AppendSnapshotBegin(nil, &info) }, true},
	{"ReadSnapshotNext", func(r *Reader, _ uint32) any { return r.ReadSnapshotNext() },
		func(v any, _ uint32) []byte { return bytes.Clone(v.([]byte)) }, true},
	{"ReadRestoreEnd", func(r *Reader, _ uint32) any { return r.ReadRestoreEnd() },
		func(v any, _ uint32) []byte { st := v.(core.Stats); return AppendRestoreEnd(nil, &st) }, true},
}

// checkDecoder decodes b with d and checks what decodes: the Reader
// consumed only what it reports, and the value re-encodes to those bytes
// (exact) or to bytes that decode to the same value.
func checkDecoder(t *testing.T, d *decoder, b []byte, arg uint32) {
	r := NewReader(b)
	v := d.decode(r, arg)
	if r.Err() != nil {
		if r.Err().Code != core.InvalidArgument && r.Err().Code != core.Internal {
			t.Fatalf("%s: failure of code %v", d.name, r.Err().Code)
		}
		return
	}
	read := b[:len(b)-r.Len()]
	enc := d.encode(v, arg)
	if d.exact && !bytes.Equal(enc, read) {
		t.Fatalf("%s: %x decodes to %+v, which encodes to %x", d.name, read, v, enc)
	}
	r2 := NewReader(enc)
	again := d.decode(r2, arg)
	if r2.Err() != nil || r2.Len() != 0 || !reflect.DeepEqual(again, v) {
		t.Fatalf("%s: %+v encodes to %x, which decodes to %+v (%v, %d left)", d.name, v, enc, again, r2.Err(), r2.Len())
	}
}

// seeds are encodings of every layout, for every decoder's corpus.
func seeds() [][]byte {
	s, _ := core.New(core.Options{})
	s.Insert("t", "a", []byte{0x01}, 1)
	s.Update("t", "a", []byte{0x02}, 2)
	s.Insert("t", "b", []byte{0x41, 0x00}, 3)
	s.Delete("t", "b", 4)
	getAll, _ := AppendGetAll(nil, s, "t", "", 1<<20)
	getAllMore, _ := AppendGetAll(nil, s, "t", "", 1)
	changes, _ := AppendChanges(nil, s, 0, core.Filter{}, 10, 1<<20)
	ops := []core.Op{{Kind: core.KindInsert, Type: "t", ID: "x", Value: []byte{0xa0}},
		{Kind: core.KindUpdateVersioned, Type: "t", ID: "x", Value: []byte{0xf6}, Expected: 3},
		{Kind: core.KindDelete, Type: "t", ID: "x"}}
	out := [][]byte{
		{}, {0}, {1}, {2}, bytes.Repeat([]byte{0xff}, 48),
		AppendError(nil, &core.Error{Code: core.Compacted, Requested: 3, Oldest: 9, Index: -1, Msg: "compacted"}),
		AppendError(nil, &core.Error{Code: core.VersionMismatch, Expected: 1, Actual: 2, Index: 4, Msg: "v"})[1:],
		AppendWrite(nil, &core.Result{Actor: core.Actor{Version: 1}, Sequence: 2}),
		AppendGet(nil, &core.Actor{Version: 5, Value: []byte{0xa0}}, true),
		AppendResult(nil, &core.Result{Actor: core.Actor{Version: 5, Value: []byte{0xf6}}, Found: true, Sequence: 6}, true),
		getAll, getAllMore, changes,
		AppendStats(nil, &core.Stats{TotalEvents: 9, Actors: 3}),
		AppendBatchRequest(nil, ops),
		AppendBatch(nil, ops, []core.Result{{Found: true, Sequence: 1}, {Found: true, Actor: core.Actor{Version: 1}, Sequence: 2},
			{Found: true, Actor: core.Actor{Version: 1, Value: []byte{0xf6}}, Sequence: 3}}),
		AppendKeyedWrite(nil, true, ops, []core.Result{{Found: true, Sequence: 1}, {Found: true, Actor: core.Actor{Version: 1}, Sequence: 2},
			{Found: true, Actor: core.Actor{Version: 1, Value: []byte{0xf6}}, Sequence: 3}}),
		AppendKeyedWrite(nil, false, nil, nil),
		AppendReplay(nil, 1, 2),
		AppendSnapshotBegin(nil, &core.SnapshotInfo{Sequence: 1, Actors: 2, Events: 3}),
		AppendRestoreEnd(nil, &core.Stats{CurrentSequence: 4, Actors: 5}),
	}
	for i := range sampleEvents {
		out = append(out, AppendEvent(nil, &sampleEvents[i]))
	}
	return out
}

// seedArgs are the args seeds run with: ReadBatchRequest's count of three,
// ReadBatch's three operations (update, update, delete: 3 | 0b100<<3).
var seedArgs = []uint32{0, 1, 3, 3 | 4<<3, core.MaxBatchOps + 1, math.MaxUint32}

func fuzzDecoder(f *testing.F, name string) {
	var d *decoder
	for i := range decoders {
		if decoders[i].name == name {
			d = &decoders[i]
		}
	}
	if d == nil {
		f.Fatalf("no decoder %s", name)
	}
	for _, b := range seeds() {
		for _, arg := range seedArgs {
			f.Add(b, arg)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, arg uint32) { checkDecoder(t, d, b, arg) })
}

// One fuzz target per decoder: each must not panic on any bytes, and what
// it decodes must encode back (checkDecoder).

func FuzzReadStatus(f *testing.F)           { fuzzDecoder(f, "ReadStatus") }
func FuzzReadError(f *testing.F)            { fuzzDecoder(f, "ReadError") }
func FuzzReadWrite(f *testing.F)            { fuzzDecoder(f, "ReadWrite") }
func FuzzReadGet(f *testing.F)              { fuzzDecoder(f, "ReadGet") }
func FuzzReadResult(f *testing.F)           { fuzzDecoder(f, "ReadResult") }
func FuzzReadGetAll(f *testing.F)           { fuzzDecoder(f, "ReadGetAll") }
func FuzzReadChanges(f *testing.F)          { fuzzDecoder(f, "ReadChanges") }
func FuzzReadEvent(f *testing.F)            { fuzzDecoder(f, "ReadEvent") }
func FuzzReadStats(f *testing.F)            { fuzzDecoder(f, "ReadStats") }
func FuzzReadOp(f *testing.F)               { fuzzDecoder(f, "ReadOp") }
func FuzzReadBatchRequest(f *testing.F)     { fuzzDecoder(f, "ReadBatchRequest") }
func FuzzReadBatchRequestInto(f *testing.F) { fuzzDecoder(f, "ReadBatchRequestInto") }
func FuzzReadBatch(f *testing.F)            { fuzzDecoder(f, "ReadBatch") }
func FuzzReadReplay(f *testing.F)           { fuzzDecoder(f, "ReadReplay") }
func FuzzReadKeyedWrite(f *testing.F)       { fuzzDecoder(f, "ReadKeyedWrite") }
func FuzzReadSnapshotBegin(f *testing.F)    { fuzzDecoder(f, "ReadSnapshotBegin") }
func FuzzReadSnapshotNext(f *testing.F)     { fuzzDecoder(f, "ReadSnapshotNext") }
func FuzzReadRestoreEnd(f *testing.F)       { fuzzDecoder(f, "ReadRestoreEnd") }

// TestEveryReadMethodIsFuzzed fails when Reader gains a Read method that
// decoders (and so a fuzz target) lacks.
func TestEveryReadMethodIsFuzzed(t *testing.T) {
	have := map[string]bool{}
	for _, d := range decoders {
		have[d.name] = true
	}
	rt := reflect.TypeOf(&Reader{})
	for i := range rt.NumMethod() {
		name := rt.Method(i).Name
		if len(name) > 4 && name[:4] == "Read" && !have[name] {
			t.Errorf("Reader.%s has no entry in decoders, so no fuzz target", name)
		}
	}
}

// FuzzReader feeds the same arbitrary bytes to every decoder, and checks
// that events and ops built from the arguments survive
// AppendEvent→ReadEvent and AppendOp→ReadOp.
func FuzzReader(f *testing.F) {
	for i, b := range seeds() {
		f.Add(b, uint64(i)<<16|2, int64(i), uint8(i))
	}
	f.Add([]byte{}, uint64(math.MaxUint64), int64(math.MinInt64), uint8(255))
	f.Fuzz(func(t *testing.T, b []byte, u uint64, i int64, flags uint8) {
		for j := range decoders {
			checkDecoder(t, &decoders[j], b, uint32(u))
		}
		checkRoundTrips(t, b, u, i, flags)
	})
}

// FuzzReadKeyRequest splits arbitrary input buffers with arbitrary
// lengths: never a panic, and what it splits writes back as the bytes it
// came from.
func FuzzReadKeyRequest(f *testing.F) {
	f.Add([]byte("typeidvalue"), uint32(4), uint32(2), uint32(5))
	f.Add([]byte{}, uint32(0), uint32(0), uint32(0))
	f.Add([]byte("x"), uint32(math.MaxUint32), uint32(math.MaxUint32), uint32(2))
	f.Fuzz(func(t *testing.T, in []byte, tl, il, vl uint32) {
		typ, id, v, err := ReadKeyRequest(in, tl, il, vl)
		total := uint64(tl) + uint64(il) + uint64(vl)
		if err != nil {
			if total <= uint64(len(in)) || err.Code != core.InvalidArgument || err.Index != -1 {
				t.Fatalf("ReadKeyRequest(%d bytes, %d, %d, %d): %+v", len(in), tl, il, vl, err)
			}
			return
		}
		if KeyRequestLen(typ, id, v) != total {
			t.Fatalf("split into %d bytes, asked %d", KeyRequestLen(typ, id, v), total)
		}
		out := make([]byte, total)
		PutKeyRequest(out, typ, id, v)
		if !bytes.Equal(out, in[:total]) {
			t.Fatalf("%x splits and writes back as %x", in[:total], out)
		}
		if p, err := ReadRequest(in, uint32(min(total, math.MaxUint32))); err != nil || !bytes.Equal(p, in[:total]) {
			t.Fatalf("ReadRequest: %x, %v", p, err)
		}
	})
}

// FuzzReadKeyedRequest splits arbitrary input buffers as keyed_write
// requests with arbitrary arguments: never a panic, failures are
// InvalidArgument, and what it accepts writes back as the bytes it came
// from, with count operations.
func FuzzReadKeyedRequest(f *testing.F) {
	ops := []core.Op{{Kind: core.KindInsert, Type: "t", ID: "x", Value: []byte{0xa0}},
		{Kind: core.KindDelete, Type: "t", ID: "x"}}
	req := AppendKeyedRequest(nil, "key", ops)
	f.Add(req, uint32(3), uint32(2), uint32(len(req)-3), uint32(1))
	one := AppendKeyedRequest(nil, "k", ops[:1])
	f.Add(one, uint32(1), uint32(1), uint32(len(one)-1), uint32(0))
	f.Add(one, uint32(1), uint32(1), uint32(len(one)-1), uint32(2))
	f.Add([]byte{}, uint32(0), uint32(0), uint32(0), uint32(1))
	f.Add([]byte("x"), uint32(math.MaxUint32), uint32(math.MaxUint32), uint32(2), uint32(0))
	f.Fuzz(func(t *testing.T, in []byte, keyLen, count, size, batch uint32) {
		key, ops, isBatch, err := ReadKeyedRequest(in, keyLen, count, size, batch)
		if err != nil {
			if err.Code != core.InvalidArgument || batch == 0 && err.Index != -1 {
				t.Fatalf("ReadKeyedRequest: %+v", err)
			}
			return
		}
		total := uint64(keyLen) + uint64(size)
		if uint32(len(ops)) != count || isBatch != (batch == 1) || batch > 1 || !isBatch && count != 1 || len(key) != int(keyLen) {
			t.Fatalf("%d bytes, key %d, count %d, batch %d: %d ops, batch %v", len(in), keyLen, count, batch, len(ops), isBatch)
		}
		if b := AppendKeyedRequest(nil, key, ops); !bytes.Equal(b, in[:total]) {
			t.Fatalf("%x splits and writes back as %x", in[:total], b)
		}
	})
}
