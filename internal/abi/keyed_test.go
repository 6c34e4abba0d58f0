package abi

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/actorstore/actorstore/core"
)

func TestConfigureIdempotencyRoundTrip(t *testing.T) {
	base := core.Options{ReplayBufferSize: 7, MaxDataBytes: 9}
	for _, o := range []core.Options{base, {IdempotencyKeys: 1, IdempotencyTTL: 2, IdempotencyBytes: 3},
		{IdempotencyKeys: math.MaxInt, IdempotencyTTL: math.MinInt64, IdempotencyBytes: math.MaxInt64}} {
		p := ConfigureIdempotencyParams(o)
		if len(p) != 3 {
			t.Fatalf("%d parameters", len(p))
		}
		got := ConfigureIdempotencyOptions(base, int64(p[0]), int64(p[1]), int64(p[2]))
		want := base
		want.IdempotencyKeys, want.IdempotencyTTL, want.IdempotencyBytes = o.IdempotencyKeys, o.IdempotencyTTL, o.IdempotencyBytes
		if got != want {
			t.Errorf("ConfigureIdempotencyOptions(ConfigureIdempotencyParams(%+v)) = %+v", o, got)
		}
	}
}

func TestKeyedRequestRoundTrip(t *testing.T) {
	ops := []core.Op{{Kind: core.KindInsert, Type: "t", ID: "a", Value: []byte{0xf6}},
		{Kind: core.KindUpdateVersioned, Type: "t", ID: "b", Value: []byte{0x01}, Expected: 4},
		{Kind: core.KindDelete, Type: "u", ID: "c"}}
	req := AppendKeyedRequest(nil, "the-key", ops)
	in := append(bytes.Clone(req), "garbage after the request"...)
	key, got, batch, err := ReadKeyedRequest(in, 7, 3, uint32(len(req)-7), 1)
	if err != nil || key != "the-key" || !batch || !sameOps(got, ops) {
		t.Fatalf("batch: %q %+v %v %v", key, got, batch, err)
	}
	one := AppendKeyedRequest(nil, "k", ops[1:2])
	key, got, batch, err = ReadKeyedRequest(one, 1, 1, uint32(len(one)-1), 0)
	if err != nil || key != "k" || batch || !sameOps(got, ops[1:2]) {
		t.Fatalf("single: %q %+v %v %v", key, got, batch, err)
	}
	for _, c := range []struct {
		keyLen, count, size, batch uint32
		index                      int
	}{
		{1, 3, uint32(len(one) - 1), 1, -1},        // count beyond the bytes
		{1, 1, uint32(len(one) - 2), 1, 0},         // truncated op of a batch
		{1, 2, uint32(len(one) - 1), 0, -1},        // a single write of two
		{1, 1, uint32(len(one) - 1), 2, -1},        // batch flag 2
		{1, 1, uint32(len(one)), 0, -1},            // size past the buffer
		{1, 1, uint32(len(one) - 2), 0, -1},        // truncated op
		{math.MaxUint32, 1, math.MaxUint32, 1, -1}, // lengths overflow
	} {
		_, _, _, err := ReadKeyedRequest(one, c.keyLen, c.count, c.size, c.batch)
		if err == nil || err.Code != core.InvalidArgument || err.Index != c.index {
			t.Errorf("%+v: %+v", c, err)
		}
	}
}

func TestKeyedWriteLayout(t *testing.T) {
	ops := []core.Op{{Kind: core.KindInsert, Type: "t", ID: "a", Value: []byte{0xf6}}, {Kind: core.KindDelete, Type: "t", ID: "b"}}
	rs := []core.Result{{Actor: core.Actor{Type: "t", ID: "a", Value: []byte{0xf6}, Version: 0}, Found: true, Sequence: 7},
		{Actor: core.Actor{Type: "t", ID: "b", Value: []byte("v"), Version: 3}, Found: true, Sequence: 8}}
	b := AppendKeyedWrite(nil, true, ops, rs)
	if b[KeyedRepeated] != 1 || u32At(b, KeyedCount) != 2 || !bytes.Equal(b[KeyedCount:], AppendBatch(nil, ops, rs)) ||
		KeyedHeader != KeyedCount+BatchHeader || u64At(b[KeyedHeader:], ResultSequence) != 7 {
		t.Fatalf("keyed_write layout %x", b)
	}
	r := NewReader(b)
	got, repeated := r.ReadKeyedWrite(ops)
	done(t, "keyed_write", r)
	if !repeated || !reflect.DeepEqual(got, rs) {
		t.Fatalf("%+v %v", got, repeated)
	}
	r = NewReader(AppendKeyedWrite(nil, false, ops[:1], rs[:1]))
	if _, repeated := r.ReadKeyedWrite(ops[:1]); repeated || r.Err() != nil || r.Len() != 0 {
		t.Fatalf("not repeated: %v %v", repeated, r.Err())
	}
	r = NewReader([]byte{2, 0, 0, 0, 0})
	if r.ReadKeyedWrite(nil); r.Err() == nil {
		t.Fatal("repeated flag 2 accepted")
	}
}

func sameOps(a, b []core.Op) bool {
	return slices.EqualFunc(a, b, func(x, y core.Op) bool { return sameOp(&x, &y) })
}
