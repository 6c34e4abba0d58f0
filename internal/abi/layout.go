package abi

// Byte offsets of the fixed-size fields of every result and request, and
// the sizes of their fixed parts. wasm/ABI.md documents them; the JS host
// reads them from js/lib/abi.js, which go generate writes from these
// constants (gen/).
//
// Every result starts with one status byte. The error layout counts from
// that byte; success layouts count from the byte after it (the body).

// StatusSize is the status byte that starts every result.
const StatusSize = 1

// An error result, counted from its code byte.
const (
	ErrorCode      = 0
	ErrorExpected  = 1
	ErrorActual    = 9
	ErrorRequested = 17
	ErrorOldest    = 25
	ErrorIndex     = 33
	ErrorMsgLen    = 37
	// ErrorHeader is the size of an error result before its message.
	ErrorHeader = 41
)

// The body of an insert, update or update_versioned result.
const (
	WriteVersion  = 0
	WriteSequence = 8
	WriteSize     = 16
)

// The body of a get result. GetVersion and GetValueLen are present only
// when the found byte is 1; the value follows at GetHeader.
const (
	GetFound    = 0
	GetVersion  = 1
	GetValueLen = 9
	GetHeader   = 13
)

// One result of a delete (its whole body) or of a batch: the value, of
// ResultValueLen bytes, follows at ResultHeader.
const (
	ResultFound    = 0
	ResultVersion  = 1
	ResultSequence = 9
	ResultValueLen = 17
	ResultHeader   = 21
)

// The body of a batch result: a count, then that many results.
const (
	BatchCount  = 0
	BatchHeader = 4
)

// The body of a get_all result: more, a count, then that many actors.
const (
	GetAllMore   = 0
	GetAllCount  = 1
	GetAllHeader = 5
)

// One actor of a get_all result; its id and value follow at ActorHeader.
const (
	ActorVersion  = 0
	ActorIDLen    = 8
	ActorValueLen = 12
	ActorHeader   = 16
)

// The body of a changes result: the next cursor, a count, then that many
// events.
const (
	ChangesNext   = 0
	ChangesCount  = 8
	ChangesHeader = 12
)

// One event of a changes result; type, id, previous and new value follow
// at EventHeader.
const (
	EventSequence    = 0
	EventOp          = 8
	EventFlags       = 9
	EventTimestamp   = 10
	EventPrevVersion = 18
	EventNewVersion  = 26
	EventTypeLen     = 34
	EventIDLen       = 38
	EventPrevLen     = 42
	EventNewLen      = 46
	EventHeader      = 50
)

// Event flags.
const (
	FlagPrev = 1 << 0
	FlagNew  = 1 << 1
)

// One operation of a batch request; type, id and value follow at OpHeader.
const (
	OpKind     = 0
	OpTypeLen  = 1
	OpIDLen    = 5
	OpValueLen = 9
	OpExpected = 13
	OpHeader   = 21
)

// The body of a stats result: StatsFields uint64s.
const (
	StatsTotalEvents      = 0
	StatsCurrentSequence  = 8
	StatsOldestSequence   = 16
	StatsReplayEvents     = 24
	StatsReplayBytes      = 32
	StatsEventsDropped    = 40
	StatsActors           = 48
	StatsDataBytes        = 56
	StatsIdempotencyKeys  = 64
	StatsIdempotencyBytes = 72
	StatsFields           = 10
	StatsSize             = 8 * StatsFields
)

// The body of a replay result.
const (
	ReplayFirst = 0
	ReplayLast  = 8
	ReplaySize  = 16
)

// The body of a snapshot_begin result.
const (
	SnapshotSequence = 0
	SnapshotActors   = 8
	SnapshotEvents   = 16
	SnapshotSize     = 24
)

// The body of a restore_end result.
const (
	RestoreSequence = 0
	RestoreActors   = 8
	RestoreSize     = 16
)
