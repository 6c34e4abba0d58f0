package host

import (
	"bytes"
	"context"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
)

// BatchOp is one operation of a Batch. Build it with InsertOp, UpdateOp,
// UpdateVersionedOp or DeleteOp, which encode its value at once; read it
// back with its methods (a remote client sends an op that way, and a
// server rebuilds it with the constructor its Kind names). The zero
// BatchOp is not an operation: Batch refuses it with ErrInvalidArgument.
type BatchOp struct {
	kind     core.Kind
	typ, id  string
	value    []byte // the CBOR encoding; nil for a delete or when err is set
	err      error  // the value could not be encoded
	expected uint64
}

// InsertOp is a batch insert of value, encoded as for Insert.
func InsertOp(typ, id string, value any) BatchOp {
	return valueOp(core.KindInsert, typ, id, value, 0)
}

// UpdateOp is a batch update to value, encoded as for Update.
func UpdateOp(typ, id string, value any) BatchOp {
	return valueOp(core.KindUpdate, typ, id, value, 0)
}

// UpdateVersionedOp is a batch compare-and-swap update to value, applied
// only when the actor is at version expected.
func UpdateVersionedOp(typ, id string, value any, expected uint64) BatchOp {
	return valueOp(core.KindUpdateVersioned, typ, id, value, expected)
}

// DeleteOp is a batch delete.
func DeleteOp(typ, id string) BatchOp { return BatchOp{kind: core.KindDelete, typ: typ, id: id} }

func valueOp(kind core.Kind, typ, id string, value any, expected uint64) BatchOp {
	b, err := EncodeValue(value)
	return BatchOp{kind: kind, typ: typ, id: id, value: b, err: err, expected: expected}
}

// batchKinds names the kinds, as the JS API spells them.
var batchKinds = [...]string{
	core.KindInsert:          "insert",
	core.KindUpdate:          "update",
	core.KindUpdateVersioned: "updateVersioned",
	core.KindDelete:          "delete",
}

// Kind returns the operation's name, as the JS API's batch spells it:
// "insert", "update", "updateVersioned" or "delete"; "" for the zero
// BatchOp.
func (op BatchOp) Kind() string {
	if int(op.kind) < len(batchKinds) {
		return batchKinds[op.kind]
	}
	return ""
}

// Type returns the actor type the operation writes.
func (op BatchOp) Type() string { return op.typ }

// ID returns the actor id the operation writes.
func (op BatchOp) ID() string { return op.id }

// Value returns the CBOR encoding of the value an insert or update
// writes, the bytes Batch stores (a new copy at each call), or nil for a
// delete. Its error, matching ErrInvalidValue, says the value could not be
// encoded; Batch then fails with it.
func (op BatchOp) Value() (cbor.RawMessage, error) { return bytes.Clone(op.value), op.err }

// ExpectedVersion returns the version an updateVersioned operation
// expects, 0 for the other kinds.
func (op BatchOp) ExpectedVersion() uint64 { return op.expected }

// BatchResult is the outcome of one batch operation: the actor written, or
// for a delete the actor removed (Found false when it was absent).
type BatchResult struct {
	Actor Actor
	Found bool
}

// Batch applies ops atomically, in order: later operations see earlier
// ones. All succeed, with consecutive sequence numbers and one timestamp,
// or none does and the store is unchanged. It honours an idempotency key
// on ctx as Insert does; a batch never shares a key's answer with a single
// write.
//
// # Errors
//
// A *BatchError naming the failing operation's index and wrapping its
// error (so errors.Is(err, ErrNotFound) and the like work): among them
// ErrInvalidValue for an op whose value could not be encoded and
// ErrInvalidArgument for a zero BatchOp.
func (s *Store) Batch(ctx context.Context, ops ...BatchOp) ([]BatchResult, error) {
	if err := core.CheckBatchLen(len(ops)); err != nil {
		return nil, mapError(err)
	}
	cops := make([]core.Op, len(ops))
	for i, op := range ops {
		if op.Kind() == "" {
			return nil, &BatchError{Index: i, Err: errorf(ErrInvalidArgument,
				"invalid argument: batch operation %d was not made by InsertOp, UpdateOp, UpdateVersionedOp or DeleteOp", i)}
		}
		if op.err != nil {
			return nil, &BatchError{Index: i, Err: op.err}
		}
		cops[i] = core.Op{Kind: op.kind, Type: op.typ, ID: op.id, Value: op.value, Expected: op.expected}
	}
	key, _ := IdempotencyKey(ctx)
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	ts := s.now()
	var rs []core.Result
	var repeated bool
	var cerr *core.Error
	if key == "" {
		rs, cerr = s.eng.batch(cops, ts)
	} else {
		rs, repeated, cerr = s.eng.keyed(key, cops, true, ts)
	}
	if cerr != nil {
		s.mu.Unlock()
		return nil, mapError(cerr)
	}
	out := make([]BatchResult, len(rs))
	var first, last uint64
	for i := range rs {
		out[i] = BatchResult{Actor: actorOf(&rs[i].Actor), Found: rs[i].Found}
		if seq := rs[i].Sequence; seq != 0 {
			if first == 0 {
				first = seq
			}
			last = seq
		}
	}
	if err := s.commitLocked(key, true, ts, cops, first, last, repeated); err != nil {
		return nil, err
	}
	return out, nil
}
