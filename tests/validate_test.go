package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// This file checks the meaning of decoded vectors: required fields, fields
// that exclude each other, and expectations that fit their op.

// validate checks a vector's header; its steps validated themselves.
func (v *vector) validate() error {
	switch {
	case v.Name == "" || v.Rule == "":
		return errors.New("a vector needs a name and a rule")
	case len(v.Steps) == 0:
		return errors.New("a vector needs steps")
	case v.Hosts != nil && len(v.Hosts) == 0:
		return errors.New(`"hosts" must not be empty`)
	}
	for _, h := range v.Hosts {
		if !slices.Contains(hostNames, h) {
			return fmt.Errorf("unknown host %q (known: %v)", h, hostNames)
		}
	}
	if v.usesHexStrings && !slices.Equal(v.Hosts, []string{"go"}) {
		return errors.New(`a vector with {"hex"} strings must say "hosts": ["go"]`)
	}
	return nil
}

// validate checks a step's fields and expectation against its op.
func (s *step) validate() error {
	if err := s.validateArgs(); err != nil {
		return err
	}
	if s.Expect == nil {
		if slices.Contains(readOps, s.Op) {
			return fmt.Errorf("op %s: needs an expect", s.Op)
		}
	} else if err := s.Expect.validate(s.Op); err != nil {
		return fmt.Errorf("op %s: expect: %v", s.Op, err)
	}
	if s.Events != nil {
		return validateEvents(*s.Events)
	}
	return nil
}

// validateArgs checks the fields an op requires.
func (s *step) validateArgs() error {
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("op %s: needs %s", s.Op, what)
		}
		return nil
	}
	switch s.Op {
	case "insert", "update", "updateVersioned":
		if err := need(s.Type != nil && s.ID != nil, "type and id"); err != nil {
			return err
		}
		if err := need(oneValue(s.Value, s.ValueHex), "exactly one of value and valueHex"); err != nil {
			return err
		}
		return need(s.Op != "updateVersioned" || s.Expected != nil, "expected")
	case "get", "delete":
		return need(s.Type != nil && s.ID != nil, "type and id")
	case "getAll":
		return need(s.Type != nil, "type")
	case "changes":
		return need(s.Since != nil, "since")
	case "batch":
		return s.validateBatch()
	case "subscribe":
		return need(s.From != nil, "from")
	}
	return nil
}

// validateBatch checks the operations of a batch step.
func (s *step) validateBatch() error {
	if s.Ops == nil {
		return errors.New("op batch: needs ops")
	}
	for i, op := range *s.Ops {
		if err := op.validate(); err != nil {
			return fmt.Errorf("op batch: ops[%d]: %v", i, err)
		}
	}
	return nil
}

// validate checks one batch operation.
func (o *batchOp) validate() error {
	if !slices.Contains([]string{"insert", "update", "updateVersioned", "delete"}, o.Op) {
		return fmt.Errorf("unknown batch op %q", o.Op)
	}
	switch {
	case o.Type == nil || o.ID == nil:
		return errors.New("needs type and id")
	case o.Op == "delete" && (o.Value != nil || o.ValueHex != nil):
		return errors.New("a delete takes no value")
	case o.Op != "delete" && !oneValue(o.Value, o.ValueHex):
		return errors.New("needs exactly one of value and valueHex")
	case (o.Op == "updateVersioned") != (o.Expected != nil):
		return errors.New("expected goes with updateVersioned, and only with it")
	}
	return nil
}

// oneValue reports whether exactly one of a JSON value and a hex value is
// given.
func oneValue(v json.RawMessage, h *hexBytes) bool { return (v != nil) != (h != nil) }

// kinds lists the expectation kinds present.
func (e *expectation) kinds() []string {
	var k []string
	for _, c := range []struct {
		name string
		set  bool
	}{
		{"actor", e.Actor != nil}, {"absent", e.Absent != nil}, {"actors", e.Actors != nil},
		{"events", e.Events != nil}, {"results", e.Results != nil}, {"stats", e.Stats != nil},
		{"error", e.Error != nil},
	} {
		if c.set {
			k = append(k, c.name)
		}
	}
	return k
}

// validate checks that the expectation has one kind that fits op.
func (e *expectation) validate(op string) error {
	k := e.kinds()
	if len(k) != 1 || !slices.Contains(stepFields[op].expects, k[0]) {
		return fmt.Errorf("has %v, want one of %v", k, stepFields[op].expects)
	}
	if (op == "changes" && k[0] == "events") != (e.Next != nil) {
		return errors.New(`"next" goes with the events of changes, and only there`)
	}
	switch {
	case e.Absent != nil && !*e.Absent:
		return errors.New(`"absent" must be true`)
	case e.Actor != nil:
		return e.Actor.validate()
	case e.Actors != nil:
		return validateActors(*e.Actors)
	case e.Events != nil:
		return validateEvents(*e.Events)
	case e.Results != nil:
		return validateResults(*e.Results)
	case e.Stats != nil:
		return e.Stats.validate()
	case e.Error != nil:
		return e.Error.validate(op == "batch")
	}
	return nil
}

// validate checks that an expected actor is complete.
func (a *actorSpec) validate() error {
	if a.Type == nil || a.ID == nil || a.Version == nil || !oneValue(a.Value, a.ValueHex) {
		return errors.New("an actor needs type, id, version and exactly one of value and valueHex")
	}
	return nil
}

func validateActors(as []actorSpec) error {
	for i := range as {
		if err := as[i].validate(); err != nil {
			return fmt.Errorf("actors[%d]: %v", i, err)
		}
	}
	return nil
}

func validateResults(rs []resultSpec) error {
	for i, r := range rs {
		switch {
		case (r.Actor != nil) == (r.Absent != nil):
			return fmt.Errorf("results[%d]: want exactly one of actor and absent", i)
		case r.Absent != nil && !*r.Absent:
			return fmt.Errorf("results[%d]: absent must be true", i)
		case r.Actor != nil:
			if err := r.Actor.validate(); err != nil {
				return fmt.Errorf("results[%d]: %v", i, err)
			}
		}
	}
	return nil
}

func validateEvents(es []eventSpec) error {
	for i := range es {
		if err := es[i].validate(); err != nil {
			return fmt.Errorf("events[%d]: %v", i, err)
		}
	}
	return nil
}

// validate checks that an expected event is complete and that its
// previous and new fields fit its operation.
func (e *eventSpec) validate() error {
	if e.Sequence == nil || e.Operation == nil || e.ActorType == nil || e.ActorID == nil || e.Timestamp == nil {
		return errors.New("an event needs sequence, operation, actorType, actorId and timestamp")
	}
	if e.PreviousValue != nil && e.PreviousValueHex != nil || e.NewValue != nil && e.NewValueHex != nil {
		return errors.New("a value is given both as JSON and as hex")
	}
	hasPrev := e.PreviousVersion != nil && (e.PreviousValue != nil || e.PreviousValueHex != nil)
	noPrev := e.PreviousVersion == nil && e.PreviousValue == nil && e.PreviousValueHex == nil
	hasNew := e.NewVersion != nil && (e.NewValue != nil || e.NewValueHex != nil)
	noNew := e.NewVersion == nil && e.NewValue == nil && e.NewValueHex == nil
	var ok bool
	switch *e.Operation {
	case "insert":
		ok = noPrev && hasNew
	case "update":
		ok = hasPrev && hasNew
	case "delete":
		ok = hasPrev && noNew
	default:
		return fmt.Errorf("unknown operation %q", *e.Operation)
	}
	if !ok {
		return fmt.Errorf("a %s event has the wrong previous/new fields", *e.Operation)
	}
	return nil
}

// validate checks that some statistic is expected.
func (s *statsSpec) validate() error {
	if *s == (statsSpec{}) {
		return errors.New("stats expects nothing")
	}
	return nil
}

// validate checks an expected error: a known code, with the detail fields
// its code carries, and an index exactly for batch errors.
func (e *errorSpec) validate(inBatch bool) error {
	if !slices.Contains(errorCodes, e.Code) {
		return fmt.Errorf("unknown error code %q", e.Code)
	}
	mismatch, compacted := e.Code == "VERSION_MISMATCH", e.Code == "COMPACTED"
	switch {
	case mismatch != (e.Expected != nil) || mismatch != (e.Actual != nil):
		return errors.New("expected and actual go with VERSION_MISMATCH, and only with it")
	case compacted != (e.Requested != nil) || compacted != (e.Oldest != nil):
		return errors.New("requested and oldest go with COMPACTED, and only with it")
	case inBatch != (e.Index != nil):
		return errors.New("index goes with batch errors, and only with them")
	}
	return nil
}
