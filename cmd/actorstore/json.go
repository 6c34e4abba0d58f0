package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

// The command line's JSON is the HTTP API's: actors, events and stats as
// its JSON form names them, values as internal/cborjson maps them.

type jsonActor struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Version uint64          `json:"version"`
	Value   json.RawMessage `json:"value"`
}

type jsonEvent struct {
	Sequence        uint64          `json:"sequence"`
	Operation       string          `json:"operation"`
	Type            string          `json:"type"`
	ID              string          `json:"id"`
	PreviousVersion *uint64         `json:"previousVersion"`
	PreviousValue   json.RawMessage `json:"previousValue"`
	NewVersion      *uint64         `json:"newVersion"`
	NewValue        json.RawMessage `json:"newValue"`
	Timestamp       string          `json:"timestamp"`
}

type jsonStats struct {
	TotalEvents         uint64 `json:"totalEvents"`
	CurrentSequence     uint64 `json:"currentSequence"`
	ReplayBufferSize    int    `json:"replayBufferSize"`
	ActiveSubscriptions int    `json:"activeSubscriptions"`
	EventsDropped       uint64 `json:"eventsDropped"`
	OldestSequence      uint64 `json:"oldestSequence"`
	ReplayBufferBytes   uint64 `json:"replayBufferBytes"`
	Actors              uint64 `json:"actors"`
	DataBytes           uint64 `json:"dataBytes"`
}

// valueJSON renders a stored value; null when absent.
func valueJSON(v cbor.RawMessage, present bool) (json.RawMessage, error) {
	if !present {
		return json.RawMessage("null"), nil
	}
	j, err := cborjson.ToJSON(v)
	if err != nil {
		return nil, fmt.Errorf("a value the server sent cannot be shown as JSON: %v", err)
	}
	return j, nil
}

func actorJSON(a *host.Actor) (*jsonActor, error) {
	v, err := valueJSON(a.Value, true)
	if err != nil {
		return nil, err
	}
	return &jsonActor{Type: a.Type, ID: a.ID, Version: a.Version, Value: v}, nil
}

func eventJSON(ev *host.ChangeEvent) (*jsonEvent, error) {
	prev, err := valueJSON(ev.PreviousValue, ev.PreviousVersion != nil)
	if err != nil {
		return nil, err
	}
	next, err := valueJSON(ev.NewValue, ev.NewVersion != nil)
	if err != nil {
		return nil, err
	}
	return &jsonEvent{Sequence: ev.Sequence, Operation: ev.Operation.String(), Type: ev.ActorType, ID: ev.ActorID,
		PreviousVersion: ev.PreviousVersion, PreviousValue: prev, NewVersion: ev.NewVersion, NewValue: next,
		Timestamp: ev.Timestamp.UTC().Format(time.RFC3339Nano)}, nil
}

func statsJSON(s host.Stats) jsonStats {
	return jsonStats{TotalEvents: s.TotalEvents, CurrentSequence: s.CurrentSequence,
		ReplayBufferSize: s.ReplayBufferSize, ActiveSubscriptions: s.ActiveSubscriptions,
		EventsDropped: s.EventsDropped, OldestSequence: s.OldestSequence,
		ReplayBufferBytes: s.ReplayBufferBytes, Actors: s.Actors, DataBytes: s.DataBytes}
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printLines writes items as a JSON array, one item per line.
func printLines[T any](w io.Writer, items []T) error {
	var b bytes.Buffer
	b.WriteString("[")
	for i, it := range items {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		line, err := marshal(it)
		if err != nil {
			return err
		}
		b.Write(line)
	}
	if len(items) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := printJSON(&b, v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// inputValue reads a value: the argument, or stdin when it is absent or
// "-". It returns the value's CBOR.
func (e *env) inputValue(args []string, i int) (cbor.RawMessage, error) {
	var j []byte
	if len(args) > i && args[i] != "-" {
		j = []byte(args[i])
	} else {
		var err error
		if j, err = io.ReadAll(e.stdin); err != nil {
			return nil, fmt.Errorf("reading the value from stdin: %v", err)
		}
	}
	if len(bytes.TrimSpace(j)) == 0 {
		return nil, usagef("no value: give it as JSON, as an argument or on stdin")
	}
	v, err := cborjson.FromJSON(j)
	if err != nil {
		return nil, fmt.Errorf("INVALID_VALUE: the value is not JSON: %v", err)
	}
	return v, nil
}

// notFound is the error of a get or delete of an absent actor.
type notFound struct{ typ, id string }

func (e *notFound) Error() string {
	return fmt.Sprintf("NOT_FOUND: %s/%s does not exist", e.typ, e.id)
}

// quoteIfOdd quotes s when it holds spaces or is empty, for messages.
func quoteIfOdd(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
