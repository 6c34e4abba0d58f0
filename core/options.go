package core

// Defaults for Options fields left at zero.
const (
	DefaultReplayBufferSize  = 10_000
	DefaultReplayBufferBytes = 64 << 20
	DefaultMaxValueBytes     = 1 << 20
	DefaultMaxDataBytes      = 1 << 30

	// MaxReplayBufferSize is the largest ReplayBufferSize a store accepts.
	MaxReplayBufferSize = 10_000_000

	// MaxTypeBytes and MaxIDBytes bound the two parts of a key.
	MaxTypeBytes = 256
	MaxIDBytes   = 1024

	// MaxBatchOps is the most operations one batch may hold: a batch is
	// applied in memory at once, with its results and events.
	MaxBatchOps = 100_000

	// Defaults of the idempotency table (idempotency.go): how many keys it
	// remembers, for how long (nanoseconds of the mutation timestamps the
	// host passes in) and how many bytes their answers may account for.
	DefaultIdempotencyKeys  = 100_000
	DefaultIdempotencyTTL   = 24 * 60 * 60 * 1_000_000_000
	DefaultIdempotencyBytes = 64 << 20

	// MaxIdempotencyKeys is the largest IdempotencyKeys a store accepts.
	MaxIdempotencyKeys = 10_000_000

	// MaxValueLimit is the largest MaxValueBytes a store accepts.
	MaxValueLimit = 64 << 20
	// MaxDataLimit is the largest MaxDataBytes a store accepts: guest
	// memory is 4 GiB, and the garbage collector needs room to work.
	MaxDataLimit = 1536 << 20

	// actorOverhead approximates the bytes an actor costs beyond its key
	// and value: the struct, its slot in the tree and allocator rounding.
	actorOverhead = 80
	// eventOverhead approximates the fixed bytes of one retained event.
	eventOverhead = 96
)

// Options configure a Store. Zero fields take the defaults above.
type Options struct {
	// ReplayBufferSize is how many events the change feed retains.
	ReplayBufferSize int
	// ReplayBufferBytes bounds the bytes retained events account for.
	ReplayBufferBytes int64
	// MaxValueBytes is the largest value accepted.
	MaxValueBytes int
	// MaxDataBytes bounds the bytes actors account for (keys, values and
	// per-actor overhead); writes past it fail with StoreFull.
	MaxDataBytes int64
	// IdempotencyKeys bounds how many idempotency keys the store
	// remembers; the oldest are forgotten first.
	IdempotencyKeys int
	// IdempotencyTTL is how long, in nanoseconds of mutation timestamps,
	// a key is remembered after the write that used it.
	IdempotencyTTL int64
	// IdempotencyBytes bounds the bytes the remembered answers account
	// for; the oldest are forgotten first.
	IdempotencyBytes int64
}

// Normalize fills defaults and reports options out of range.
func (o Options) Normalize() (Options, *Error) {
	if o.ReplayBufferSize == 0 {
		o.ReplayBufferSize = DefaultReplayBufferSize
	}
	if o.ReplayBufferBytes == 0 {
		o.ReplayBufferBytes = DefaultReplayBufferBytes
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.MaxDataBytes == 0 {
		o.MaxDataBytes = DefaultMaxDataBytes
	}
	if o.IdempotencyKeys == 0 {
		o.IdempotencyKeys = DefaultIdempotencyKeys
	}
	if o.IdempotencyTTL == 0 {
		o.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if o.IdempotencyBytes == 0 {
		o.IdempotencyBytes = DefaultIdempotencyBytes
	}
	switch {
	case o.ReplayBufferSize < 1 || o.ReplayBufferSize > MaxReplayBufferSize:
		return o, errorf(InvalidArgument, "invalid options: ReplayBufferSize %d not in 1..%d", o.ReplayBufferSize, MaxReplayBufferSize)
	case o.ReplayBufferBytes < 1 || o.ReplayBufferBytes > MaxDataLimit:
		return o, errorf(InvalidArgument, "invalid options: ReplayBufferBytes %d not in 1..%d", o.ReplayBufferBytes, MaxDataLimit)
	case o.MaxValueBytes < 1 || o.MaxValueBytes > MaxValueLimit:
		return o, errorf(InvalidArgument, "invalid options: MaxValueBytes %d not in 1..%d", o.MaxValueBytes, MaxValueLimit)
	case o.MaxDataBytes < 1 || o.MaxDataBytes > MaxDataLimit:
		return o, errorf(InvalidArgument, "invalid options: MaxDataBytes %d not in 1..%d", o.MaxDataBytes, MaxDataLimit)
	case o.IdempotencyKeys < 1 || o.IdempotencyKeys > MaxIdempotencyKeys:
		return o, errorf(InvalidArgument, "invalid options: IdempotencyKeys %d not in 1..%d", o.IdempotencyKeys, MaxIdempotencyKeys)
	case o.IdempotencyTTL < 1:
		return o, errorf(InvalidArgument, "invalid options: IdempotencyTTL %d is not positive", o.IdempotencyTTL)
	case o.IdempotencyBytes < 1 || o.IdempotencyBytes > MaxDataLimit:
		return o, errorf(InvalidArgument, "invalid options: IdempotencyBytes %d not in 1..%d", o.IdempotencyBytes, MaxDataLimit)
	}
	return o, nil
}
