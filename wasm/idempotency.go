package main

import (
	"strings"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
)

// The idempotency exports: the table's bounds, and writes that carry an
// idempotency key (core/idempotency.go).

// configure_idempotency replaces the engine with an empty one using the
// current options with these idempotency bounds (0 means the default).
//
//go:wasmexport configure_idempotency
func configureIdempotency(keys, ttl, maxBytes int64) (res uint64) {
	defer guard(&res)
	e, err := core.NewEngine(abi.ConfigureIdempotencyOptions(eng.Store().Options(), keys, ttl, maxBytes))
	if err != nil {
		return fail(err)
	}
	eng = e
	return done(ok())
}

// keyed_write applies count operations, as one write (batch 0) or a batch
// (batch 1), under the idempotency key: the input buffer holds the key
// (keyLen bytes), then size bytes of operations as batch reads them.
//
//go:wasmexport keyed_write
func keyedWrite(keyLen, count, size, batch uint32, ts int64) (res uint64) {
	defer guard(&res)
	key, ops, isBatch, err := abi.ReadKeyedRequest(in, keyLen, count, size, batch)
	if err != nil {
		return fail(err)
	}
	// The store keeps values and inserted ids: copy them out of the input
	// buffer. It copies the key it keeps.
	for i := range ops {
		op := &ops[i]
		op.Value = append([]byte(nil), op.Value...)
		if op.Kind == core.KindInsert {
			op.ID = strings.Clone(op.ID)
		}
	}
	var rs []core.Result
	var repeated bool
	if isBatch {
		rs, repeated, err = eng.Store().BatchKeyed(key, ops, ts)
	} else {
		var r core.Result
		r, repeated, err = eng.Store().ApplyKeyed(key, &ops[0], ts)
		rs = []core.Result{r}
	}
	if err != nil {
		return fail(err)
	}
	return done(abi.AppendKeyedWrite(ok(), repeated, ops, rs))
}
