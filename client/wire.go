package client

import (
	"fmt"
	"reflect"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/host"
)

// The client speaks CBOR both ways (Content-Type and Accept
// application/cbor): a write's body is the value's CBOR bytes, a batch and
// every answer are CBOR maps with the keys of the JSON form, values
// embedded as CBOR items. Answers holding values are read with the walker
// of raw.go, so values pass byte for byte.

const cborType = "application/cbor"

var (
	// wireEnc encodes request bodies (batches).
	wireEnc cbor.EncMode
	// wireDec decodes the fields of answers: limits as wide as the
	// store's, and text left as the server sent it.
	wireDec cbor.DecMode
)

func init() {
	var err error
	if wireEnc, err = (cbor.EncOptions{}).EncMode(); err != nil {
		panic(err)
	}
	do := cbor.DecOptions{
		MaxNestedLevels:  core.MaxNesting + 8,
		MaxArrayElements: 1 << 30,
		MaxMapPairs:      1 << 30,
		UTF8:             cbor.UTF8DecodeInvalid,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
	}
	if wireDec, err = do.DecMode(); err != nil {
		panic(err)
	}
}

// wireEvent is a change event. A side (previous or new) is present when
// its version is: its value may itself be CBOR null.
type wireEvent struct {
	Sequence        uint64
	Operation       string
	Type, ID        string
	PreviousVersion *uint64
	PreviousValue   cbor.RawMessage
	NewVersion      *uint64
	NewValue        cbor.RawMessage
	Timestamp       cbor.RawMessage
}

var operations = map[string]host.Operation{"insert": host.OpInsert, "update": host.OpUpdate, "delete": host.OpDelete}

func (e *wireEvent) event() (host.ChangeEvent, error) {
	op, ok := operations[e.Operation]
	if !ok {
		return host.ChangeEvent{}, fmt.Errorf("event #%d: unknown operation %q", e.Sequence, e.Operation)
	}
	var ts time.Time
	if err := wireDec.Unmarshal(e.Timestamp, &ts); err != nil {
		return host.ChangeEvent{}, fmt.Errorf("event #%d: timestamp: %v", e.Sequence, err)
	}
	ev := host.ChangeEvent{Sequence: e.Sequence, Operation: op, ActorType: e.Type, ActorID: e.ID,
		// As host.Store makes it: local time, no monotonic reading.
		Timestamp: time.Unix(0, ts.UnixNano())}
	if e.PreviousVersion != nil {
		ev.PreviousVersion, ev.PreviousValue = e.PreviousVersion, nonNil(e.PreviousValue)
	}
	if e.NewVersion != nil {
		ev.NewVersion, ev.NewValue = e.NewVersion, nonNil(e.NewValue)
	}
	return ev, nil
}

func nonNil(b cbor.RawMessage) cbor.RawMessage {
	if b == nil {
		return cbor.RawMessage{}
	}
	return b
}

// wireBatchOp is one operation of a batch request.
type wireBatchOp struct {
	Op              string          `cbor:"op"`
	Type            string          `cbor:"type"`
	ID              string          `cbor:"id"`
	Value           cbor.RawMessage `cbor:"value,omitempty"`
	ExpectedVersion *uint64         `cbor:"expectedVersion,omitempty"`
}

type wireBatch struct {
	Ops []wireBatchOp `cbor:"ops"`
}

type wireStats struct {
	TotalEvents         uint64 `cbor:"totalEvents"`
	CurrentSequence     uint64 `cbor:"currentSequence"`
	ReplayBufferSize    int    `cbor:"replayBufferSize"`
	ActiveSubscriptions int    `cbor:"activeSubscriptions"`
	EventsDropped       uint64 `cbor:"eventsDropped"`
	OldestSequence      uint64 `cbor:"oldestSequence"`
	ReplayBufferBytes   uint64 `cbor:"replayBufferBytes"`
	Actors              uint64 `cbor:"actors"`
	DataBytes           uint64 `cbor:"dataBytes"`
	IdempotencyKeys     uint64 `cbor:"idempotencyKeys"`
	IdempotencyBytes    uint64 `cbor:"idempotencyBytes"`
}

func (s *wireStats) stats() host.Stats {
	return host.Stats{TotalEvents: s.TotalEvents, CurrentSequence: s.CurrentSequence,
		ReplayBufferSize: s.ReplayBufferSize, ActiveSubscriptions: s.ActiveSubscriptions,
		EventsDropped: s.EventsDropped, OldestSequence: s.OldestSequence,
		ReplayBufferBytes: s.ReplayBufferBytes, Actors: s.Actors, DataBytes: s.DataBytes,
		IdempotencyKeys: s.IdempotencyKeys, IdempotencyBytes: s.IdempotencyBytes}
}

// wireError is an error response: {"code","message"} and the error's
// fields.
type wireError struct {
	Code      string  `cbor:"code"`
	Message   string  `cbor:"message"`
	Expected  *uint64 `cbor:"expected"`
	Actual    *uint64 `cbor:"actual"`
	Requested *uint64 `cbor:"requested"`
	Oldest    *uint64 `cbor:"oldest"`
	Index     *int    `cbor:"index"`
}
