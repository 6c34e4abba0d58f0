package abi

import "github.com/actorstore/actorstore/core"

// The layouts of the idempotency exports: configure_idempotency and
// keyed_write (wasm/ABI.md).

// ConfigureIdempotencyParams are configure_idempotency's three i64
// parameters for o's idempotency bounds.
func ConfigureIdempotencyParams(o core.Options) []uint64 {
	return []uint64{uint64(o.IdempotencyKeys), uint64(o.IdempotencyTTL), uint64(o.IdempotencyBytes)}
}

// ConfigureIdempotencyOptions are o with the idempotency bounds
// configure_idempotency's parameters ask for.
func ConfigureIdempotencyOptions(o core.Options, keys, ttl, maxBytes int64) core.Options {
	o.IdempotencyKeys, o.IdempotencyTTL, o.IdempotencyBytes = int(keys), ttl, maxBytes
	return o
}

// The body of a keyed_write result: repeated, then a batch body.
const (
	KeyedRepeated = 0
	KeyedCount    = 1
	KeyedHeader   = 5
)

// AppendKeyedRequest encodes the input of keyed_write: the key, then the
// operations as a batch request holds them.
func AppendKeyedRequest(b []byte, key string, ops []core.Op) []byte {
	return AppendBatchRequest(append(b, key...), ops)
}

// ReadKeyedRequest decodes the input buffer in holding a keyed_write
// request: a key of keyLen bytes, then size bytes of count operations;
// batch is 1 for a batch, 0 for one write (count must then be 1). The key
// and operations alias in. Failures are InvalidArgument; a malformed
// operation's Index is set for a batch only.
func ReadKeyedRequest(in []byte, keyLen, count, size, batch uint32) (key string, ops []core.Op, isBatch bool, err *core.Error) {
	key, _, body, err := ReadKeyRequest(in, keyLen, 0, size)
	if err != nil {
		return "", nil, false, err
	}
	switch {
	case batch > 1:
		return "", nil, false, core.NewError(core.InvalidArgument, "invalid argument: keyed_write batch flag "+itoa(uint64(batch)))
	case batch == 0 && count != 1:
		return "", nil, false, core.NewError(core.InvalidArgument, "invalid argument: a single keyed write of "+
			itoa(uint64(count))+" operations")
	}
	r := NewReader(body)
	ops = r.ReadBatchRequest(count)
	if err := r.Err(); err != nil {
		if batch == 0 {
			err.Index = -1
		}
		return "", nil, false, err
	}
	return key, ops, batch == 1, nil
}

// AppendKeyedWrite encodes the result of keyed_write: whether the answer
// is a remembered one (nothing was applied), then the results as a batch
// result holds them.
func AppendKeyedWrite(b []byte, repeated bool, ops []core.Op, rs []core.Result) []byte {
	flag := byte(0)
	if repeated {
		flag = 1
	}
	return AppendBatch(append(b, flag), ops, rs)
}

// ReadKeyedWrite decodes what AppendKeyedWrite encodes for ops, the
// request's operations, as ReadBatch does.
func (r *Reader) ReadKeyedWrite(ops []core.Op) (rs []core.Result, repeated bool) {
	repeated = r.flag()
	return r.ReadBatch(ops), repeated
}
