package host

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// rebuildOp builds an op from what its accessors say, as a server does
// from a client's request.
func rebuildOp(t *testing.T, op BatchOp) BatchOp {
	t.Helper()
	v, err := op.Value()
	if err != nil {
		t.Fatal(err)
	}
	switch op.Kind() {
	case "insert":
		return InsertOp(op.Type(), op.ID(), v)
	case "update":
		return UpdateOp(op.Type(), op.ID(), v)
	case "updateVersioned":
		return UpdateVersionedOp(op.Type(), op.ID(), v, op.ExpectedVersion())
	case "delete":
		return DeleteOp(op.Type(), op.ID())
	}
	t.Fatalf("unknown kind %q", op.Kind())
	return BatchOp{}
}

func TestBatchOpReadBack(t *testing.T) {
	enc := func(v any) cbor.RawMessage { b, _ := encMode.Marshal(v); return b }
	for _, c := range []struct {
		op            BatchOp
		kind, typ, id string
		value         cbor.RawMessage
		expected      uint64
	}{
		{InsertOp("user", "u1", map[string]any{"n": 1}), "insert", "user", "u1", enc(map[string]any{"n": 1}), 0},
		{UpdateOp("user", "u2", "x"), "update", "user", "u2", enc("x"), 0},
		{UpdateVersionedOp("user", "u3", cbor.RawMessage{0x01}, 7), "updateVersioned", "user", "u3", cbor.RawMessage{0x01}, 7},
		{DeleteOp("user", "u4"), "delete", "user", "u4", nil, 0},
	} {
		v, err := c.op.Value()
		if c.op.Kind() != c.kind || c.op.Type() != c.typ || c.op.ID() != c.id || !bytes.Equal(v, c.value) ||
			(v == nil) != (c.value == nil) || err != nil || c.op.ExpectedVersion() != c.expected {
			t.Errorf("%s: read back %q %q %q %x %v %d", c.kind, c.op.Kind(), c.op.Type(), c.op.ID(), v, err, c.op.ExpectedVersion())
		}
		if got := rebuildOp(t, c.op); !reflect.DeepEqual(got, c.op) {
			t.Errorf("%s: rebuilt from its accessors: %+v, want %+v", c.kind, got, c.op)
		}
	}
	if k := (BatchOp{}).Kind(); k != "" {
		t.Errorf("zero BatchOp has kind %q", k)
	}
}

// TestBatchOpValueIsItsOwn: an op encodes its value when it is made, and
// neither the caller's value nor the bytes Value returns can change it
// afterwards.
func TestBatchOpValueIsItsOwn(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		m := map[string]any{"n": 1}
		raw := cbor.RawMessage{0x02}
		ops := []BatchOp{InsertOp("t", "a", m), InsertOp("t", "b", raw)}
		m["n"] = 2
		raw[0] = 0x03
		for _, op := range ops {
			v, _ := op.Value()
			v[0] = 0xff
		}
		if _, err := s.Batch(ctx, ops...); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]cbor.RawMessage{"a": {0xa1, 0x61, 'n', 0x01}, "b": {0x02}} {
			a, _, err := s.Get(ctx, "t", id)
			if err != nil || !bytes.Equal(a.Value, want) {
				t.Errorf("%s: stored %x (%v), want %x", id, a.Value, err, want)
			}
			for _, op := range ops {
				if v, _ := op.Value(); op.ID() == id && !bytes.Equal(v, want) {
					t.Errorf("%s: op value now %x, want %x", id, v, want)
				}
			}
		}
	})
}

// TestBatchRefusesBadOps: a zero BatchOp, or one whose value could not be
// encoded, fails the batch at its index and changes nothing.
func TestBatchRefusesBadOps(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		bad := InsertOp("t", "c", make(chan int))
		if _, err := bad.Value(); !errors.Is(err, ErrInvalidValue) {
			t.Fatalf("Value of an unencodable op: %v", err)
		}
		for want, op := range map[error]BatchOp{ErrInvalidArgument: {}, ErrInvalidValue: bad} {
			_, err := s.Batch(ctx, InsertOp("t", "a", 1), op, DeleteOp("t", "b"))
			var be *BatchError
			if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, want) {
				t.Fatalf("batch with a bad op: %v, want index 1 and %v", err, want)
			}
		}
		if st, err := s.Stats(ctx); err != nil || st.TotalEvents != 0 || st.Actors != 0 {
			t.Fatalf("store changed: %+v %v", st, err)
		}
	})
}
