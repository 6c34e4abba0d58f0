package tests

import (
	"errors"
	"fmt"
	"strings"

	"github.com/actorstore/actorstore/host"
)

// This file compares what a store returned with what a vector expects.
// Every check returns an error describing the first difference.

// codeSentinels maps contract error codes to the host's sentinels.
var codeSentinels = map[string]error{
	"INVALID_KEY": host.ErrInvalidKey, "ALREADY_EXISTS": host.ErrAlreadyExists, "NOT_FOUND": host.ErrNotFound,
	"VERSION_MISMATCH": host.ErrVersionMismatch, "COMPACTED": host.ErrCompacted,
	"INVALID_VALUE": host.ErrInvalidValue, "VALUE_TOO_LARGE": host.ErrValueTooLarge,
	"STORE_FULL": host.ErrStoreFull, "INVALID_ARGUMENT": host.ErrInvalidArgument, "CLOSED": host.ErrClosed,
}

// codeOf names the contract code of err, or describes err when it has
// none.
func codeOf(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, codeSentinels[c]) {
			return c
		}
	}
	if errors.Is(err, host.ErrInternal) {
		return fmt.Sprintf("INTERNAL (%v)", err)
	}
	return fmt.Sprintf("no contract code (%v)", err)
}

// checkError compares an error with the expected one: its code, the
// detail of mismatch and compaction errors, and a batch error's index.
func checkError(want *errorSpec, err error) error {
	if err == nil {
		return fmt.Errorf("succeeded, want error %s", want.Code)
	}
	if got := codeOf(err); got != want.Code {
		return fmt.Errorf("error %s (%v), want %s", got, err, want.Code)
	}
	if err := checkBatchIndex(want.Index, err); err != nil {
		return err
	}
	switch want.Code {
	case "VERSION_MISMATCH":
		var vm *host.VersionMismatchError
		if !errors.As(err, &vm) {
			return fmt.Errorf("error %v is not a *host.VersionMismatchError", err)
		}
		if vm.Expected != *want.Expected || vm.Actual != *want.Actual {
			return fmt.Errorf("version mismatch expected %d actual %d, want expected %d actual %d",
				vm.Expected, vm.Actual, *want.Expected, *want.Actual)
		}
	case "COMPACTED":
		var c *host.CompactedError
		if !errors.As(err, &c) {
			return fmt.Errorf("error %v is not a *host.CompactedError", err)
		}
		if c.Requested != *want.Requested || c.Oldest != *want.Oldest {
			return fmt.Errorf("compacted requested %d oldest %d, want requested %d oldest %d",
				c.Requested, c.Oldest, *want.Requested, *want.Oldest)
		}
	}
	return nil
}

// checkBatchIndex checks that err is a batch error exactly when an index
// is expected, and that the index matches.
func checkBatchIndex(want *int, err error) error {
	var be *host.BatchError
	isBatch := errors.As(err, &be)
	switch {
	case want == nil && isBatch:
		return fmt.Errorf("error %v is a batch error (index %d), want a plain one", err, be.Index)
	case want != nil && !isBatch:
		return fmt.Errorf("error %v is not a *host.BatchError, want index %d", err, *want)
	case want != nil && be.Index != *want:
		return fmt.Errorf("batch error index %d (%v), want %d", be.Index, err, *want)
	}
	return nil
}

// checkActor compares an actor with the expected one.
func checkActor(want *actorSpec, got host.Actor) error {
	if got.Type != want.Type.s || got.ID != want.ID.s {
		return fmt.Errorf("actor %q/%q, want %q/%q", got.Type, got.ID, want.Type.s, want.ID.s)
	}
	if got.Version != *want.Version {
		return fmt.Errorf("actor %q/%q version %d, want %d", got.Type, got.ID, got.Version, *want.Version)
	}
	if err := checkValue(got.Value, want.Value, want.ValueHex); err != nil {
		return fmt.Errorf("actor %q/%q: %v", got.Type, got.ID, err)
	}
	return nil
}

// checkActors compares a list of actors, in order.
func checkActors(want []actorSpec, got []host.Actor) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d actors %s, want %d", len(got), actorKeys(got), len(want))
	}
	for i := range want {
		if err := checkActor(&want[i], got[i]); err != nil {
			return fmt.Errorf("actors[%d]: %v", i, err)
		}
	}
	return nil
}

// actorKeys lists the keys of actors, for messages.
func actorKeys(as []host.Actor) string {
	keys := make([]string, len(as))
	for i, a := range as {
		keys[i] = fmt.Sprintf("%q/%q", a.Type, a.ID)
	}
	return "[" + strings.Join(keys, " ") + "]"
}

// checkOutcome settles the cases every step shares: no expectation (the
// step must succeed), an expected error, an unexpected one. done is false
// when the caller must still compare a successful result with want.
func checkOutcome(want *expectation, err error, wanted string) (done bool, mismatch error) {
	switch {
	case want == nil && err != nil:
		return true, fmt.Errorf("error %v, want success", err)
	case want == nil:
		return true, nil
	case want.Error != nil:
		return true, checkError(want.Error, err)
	case err != nil:
		return true, fmt.Errorf("error %v, want %s", err, wanted)
	}
	return false, nil
}

// checkLookup compares the result of Get or Delete with an expectation;
// without one (a setup delete) it must succeed.
func checkLookup(want *expectation, a host.Actor, ok bool, err error) error {
	if done, mismatch := checkOutcome(want, err, "an actor or absent"); done {
		return mismatch
	}
	switch {
	case want.Absent != nil && ok:
		return fmt.Errorf("found actor %q/%q version %d, want absent", a.Type, a.ID, a.Version)
	case want.Actor != nil && !ok:
		return errors.New("absent, want an actor")
	case want.Actor != nil:
		return checkActor(want.Actor, a)
	}
	return nil
}

// checkResults compares the results of a batch.
func checkResults(want []resultSpec, got []host.BatchResult) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d results, want %d", len(got), len(want))
	}
	for i, r := range want {
		var err error
		switch {
		case r.Absent != nil && got[i].Found:
			err = fmt.Errorf("found actor version %d, want absent", got[i].Actor.Version)
		case r.Actor != nil && !got[i].Found:
			err = errors.New("absent, want an actor")
		case r.Actor != nil:
			err = checkActor(r.Actor, got[i].Actor)
		}
		if err != nil {
			return fmt.Errorf("results[%d]: %v", i, err)
		}
	}
	return nil
}

// checkEvents compares a list of events, in order.
func checkEvents(want []eventSpec, got []host.ChangeEvent) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d events %s, want %d", len(got), eventList(got), len(want))
	}
	for i := range want {
		if err := checkEvent(&want[i], &got[i]); err != nil {
			return fmt.Errorf("events[%d]: %v", i, err)
		}
	}
	return nil
}

// eventList summarizes events, for messages.
func eventList(es []host.ChangeEvent) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = fmt.Sprintf("#%d %v %q/%q", e.Sequence, e.Operation, e.ActorType, e.ActorID)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// checkEvent compares one event with the expected one.
func checkEvent(want *eventSpec, got *host.ChangeEvent) error {
	switch {
	case got.Sequence != *want.Sequence:
		return fmt.Errorf("sequence %d, want %d", got.Sequence, *want.Sequence)
	case got.Operation.String() != *want.Operation:
		return fmt.Errorf("event #%d operation %v, want %s", got.Sequence, got.Operation, *want.Operation)
	case got.ActorType != want.ActorType.s || got.ActorID != want.ActorID.s:
		return fmt.Errorf("event #%d actor %q/%q, want %q/%q", got.Sequence, got.ActorType, got.ActorID,
			want.ActorType.s, want.ActorID.s)
	case got.Timestamp.UnixNano() != *want.Timestamp*1e6:
		return fmt.Errorf("event #%d timestamp %d ns, want %d ms", got.Sequence, got.Timestamp.UnixNano(), *want.Timestamp)
	}
	if err := checkSide("previous", got.PreviousValue, got.PreviousVersion, want.PreviousValue,
		want.PreviousValueHex, want.PreviousVersion); err != nil {
		return fmt.Errorf("event #%d: %v", got.Sequence, err)
	}
	if err := checkSide("new", got.NewValue, got.NewVersion, want.NewValue, want.NewValueHex, want.NewVersion); err != nil {
		return fmt.Errorf("event #%d: %v", got.Sequence, err)
	}
	return nil
}

// checkSide compares the previous or the new value and version of an
// event; an expected version of nil means the event must have neither.
func checkSide(side string, got []byte, gotVersion *uint64, want []byte, wantHex *hexBytes, wantVersion *uint64) error {
	if wantVersion == nil {
		if gotVersion != nil || got != nil {
			return fmt.Errorf("has %s version %v value %s, want none", side, fmtVersion(gotVersion), describe(got))
		}
		return nil
	}
	if gotVersion == nil || *gotVersion != *wantVersion {
		return fmt.Errorf("%s version %s, want %d", side, fmtVersion(gotVersion), *wantVersion)
	}
	if got == nil {
		return fmt.Errorf("no %s value", side)
	}
	if err := checkValue(got, want, wantHex); err != nil {
		return fmt.Errorf("%s %v", side, err)
	}
	return nil
}

func fmtVersion(v *uint64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprint(*v)
}

// checkStats compares the expected subset of the statistics.
func checkStats(want *statsSpec, got host.Stats) error {
	for _, f := range []struct {
		name string
		want *uint64
		got  uint64
	}{
		{"totalEvents", want.TotalEvents, got.TotalEvents},
		{"currentSequence", want.CurrentSequence, got.CurrentSequence},
		{"replayBufferSize", want.ReplayBufferSize, uint64(got.ReplayBufferSize)},
		{"eventsDropped", want.EventsDropped, got.EventsDropped},
		{"oldestSequence", want.OldestSequence, got.OldestSequence},
		{"actors", want.Actors, got.Actors},
		{"replayBufferBytes", want.ReplayBufferBytes, got.ReplayBufferBytes},
		{"dataBytes", want.DataBytes, got.DataBytes},
	} {
		if f.want != nil && *f.want != f.got {
			return fmt.Errorf("stats %s %d, want %d (all: %+v)", f.name, f.got, *f.want, got)
		}
	}
	return nil
}
