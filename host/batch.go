package host

import (
	"context"

	"github.com/actorstore/actorstore/core"
)

// BatchKind is the kind of a batch operation.
type BatchKind uint8

// Batch operation kinds.
const (
	BatchInsert          = BatchKind(core.KindInsert)
	BatchUpdate          = BatchKind(core.KindUpdate)
	BatchUpdateVersioned = BatchKind(core.KindUpdateVersioned)
	BatchDelete          = BatchKind(core.KindDelete)
)

// BatchOp is one operation of a Batch; build it with InsertOp, UpdateOp,
// UpdateVersionedOp or DeleteOp.
type BatchOp struct {
	Kind     BatchKind
	Type, ID string
	// Value is encoded as for Insert; unused by deletes.
	Value any
	// ExpectedVersion is compared by BatchUpdateVersioned.
	ExpectedVersion uint64
}

// InsertOp is a batch insert.
func InsertOp(typ, id string, value any) BatchOp {
	return BatchOp{Kind: BatchInsert, Type: typ, ID: id, Value: value}
}

// UpdateOp is a batch update.
func UpdateOp(typ, id string, value any) BatchOp {
	return BatchOp{Kind: BatchUpdate, Type: typ, ID: id, Value: value}
}

// UpdateVersionedOp is a batch compare-and-swap update.
func UpdateVersionedOp(typ, id string, value any, expected uint64) BatchOp {
	return BatchOp{Kind: BatchUpdateVersioned, Type: typ, ID: id, Value: value, ExpectedVersion: expected}
}

// DeleteOp is a batch delete.
func DeleteOp(typ, id string) BatchOp { return BatchOp{Kind: BatchDelete, Type: typ, ID: id} }

// BatchResult is the outcome of one batch operation: the actor written, or
// for a delete the actor removed (Found false when it was absent).
type BatchResult struct {
	Actor Actor
	Found bool
}

// Batch applies ops atomically, in order: later operations see earlier
// ones. All succeed, with consecutive sequence numbers and one timestamp,
// or none does and the store is unchanged.
//
// # Errors
//
// A *BatchError naming the failing operation's index and wrapping its
// error (so errors.Is(err, ErrNotFound) and the like work).
func (s *Store) Batch(ctx context.Context, ops ...BatchOp) ([]BatchResult, error) {
	if err := core.CheckBatchLen(len(ops)); err != nil {
		return nil, mapError(err)
	}
	cops := make([]core.Op, len(ops))
	for i, op := range ops {
		cops[i] = core.Op{Kind: core.Kind(op.Kind), Type: op.Type, ID: op.ID, Expected: op.ExpectedVersion}
		switch op.Kind {
		case BatchInsert, BatchUpdate, BatchUpdateVersioned:
			v, err := s.encode(op.Value)
			if err != nil {
				return nil, &BatchError{Index: i, Err: err}
			}
			cops[i].Value = v
		case BatchDelete:
		default:
			return nil, &BatchError{Index: i, Err: errorf(ErrInvalidArgument, "invalid argument: batch operation %d has unknown kind %d", i, op.Kind)}
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	ts := s.now()
	rs, cerr := s.eng.batch(cops, ts)
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
	if last == 0 {
		s.mu.Unlock()
	} else if s.dur == nil {
		s.committed()
		s.mu.Unlock()
	} else {
		l, ticket := s.dur.appendLocked(first, ts, cops)
		s.mu.Unlock()
		if err := s.logged(l, ticket, last); err != nil {
			return nil, err
		}
	}
	return out, nil
}
