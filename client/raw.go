package client

import (
	"bytes"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborraw"
)

// Answers holding stored values are read with the walker of
// internal/cborraw, not with a CBOR decoder: decoders normalize what they
// read (fxamacker drops every self-described CBOR tag 55799 it meets),
// and a value must come back byte for byte as it was stored. The walker
// only finds where each item ends; the fields around the values are
// decoded as usual.

// field decodes the field name of m into v; a field absent or null
// leaves v as it is.
func field(m map[string][]byte, name string, v any) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := wireDec.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%q: %v", name, err)
	}
	return nil
}

// value returns the exact bytes of the field name of m.
func value(m map[string][]byte, name string) (cbor.RawMessage, error) {
	raw, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("no %q", name)
	}
	return bytes.Clone(raw), nil
}

// readActor reads an actor map.
func readActor(b []byte) (host.Actor, error) {
	m, err := cborraw.Fields(b)
	if err != nil {
		return host.Actor{}, err
	}
	var a host.Actor
	for _, err := range []error{field(m, "type", &a.Type), field(m, "id", &a.ID), field(m, "version", &a.Version)} {
		if err != nil {
			return host.Actor{}, err
		}
	}
	if a.Value, err = value(m, "value"); err != nil {
		return host.Actor{}, err
	}
	return a, nil
}

// readEvent reads an event map. A side (previous or new) is present when
// its version is: its value may itself be CBOR null.
func readEvent(b []byte) (host.ChangeEvent, error) {
	m, err := cborraw.Fields(b)
	if err != nil {
		return host.ChangeEvent{}, err
	}
	var w wireEvent
	for _, err := range []error{field(m, "sequence", &w.Sequence), field(m, "operation", &w.Operation),
		field(m, "type", &w.Type), field(m, "id", &w.ID), field(m, "previousVersion", &w.PreviousVersion),
		field(m, "newVersion", &w.NewVersion)} {
		if err != nil {
			return host.ChangeEvent{}, fmt.Errorf("event: %v", err)
		}
	}
	w.Timestamp = m["timestamp"]
	if w.PreviousVersion != nil {
		if w.PreviousValue, err = value(m, "previousValue"); err != nil {
			return host.ChangeEvent{}, fmt.Errorf("event #%d: %v", w.Sequence, err)
		}
	}
	if w.NewVersion != nil {
		if w.NewValue, err = value(m, "newValue"); err != nil {
			return host.ChangeEvent{}, fmt.Errorf("event #%d: %v", w.Sequence, err)
		}
	}
	return w.event()
}

// readList reads {"<name>": [item, ...], ...} with read for each item,
// and returns the other fields.
func readList[T any](b []byte, name string, read func([]byte) (T, error)) ([]T, map[string][]byte, error) {
	m, err := cborraw.Fields(b)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := m[name]
	if !ok {
		return nil, nil, fmt.Errorf("no %q", name)
	}
	items, err := cborraw.Items(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%q: %v", name, err)
	}
	out := make([]T, len(items))
	for i, it := range items {
		if out[i], err = read(it); err != nil {
			return nil, nil, fmt.Errorf("%s[%d]: %v", name, i, err)
		}
	}
	return out, m, nil
}

// readResult reads a batch result: {"actor": actor|null, "found": bool}.
func readResult(b []byte) (host.BatchResult, error) {
	m, err := cborraw.Fields(b)
	if err != nil {
		return host.BatchResult{}, err
	}
	var r host.BatchResult
	if err := field(m, "found", &r.Found); err != nil {
		return r, err
	}
	if raw, ok := m["actor"]; ok && !cborraw.IsNull(raw) {
		if r.Actor, err = readActor(raw); err != nil {
			return r, err
		}
	}
	return r, nil
}
