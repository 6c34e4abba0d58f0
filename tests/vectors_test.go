package tests

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// This file is the schema of the conformance vectors (documented in
// vectors/README.md) and their strict loader: an unknown op, an unknown
// field or a missing required one fails loading, so that a typo in a
// vector cannot make it pass vacuously.

// vectorFile is one vectors/<topic>.json file.
type vectorFile struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Vectors     []vector `json:"vectors"`

	path string // where it was loaded from
}

// vector is one scenario, run on a fresh store.
type vector struct {
	Name    string         `json:"name"`
	Rule    string         `json:"rule"`
	Options *vectorOptions `json:"options"`
	Hosts   []string       `json:"hosts"`
	Steps   []step         `json:"steps"`

	usesHexStrings bool // some string field is given as {"hex": ...}
}

// vectorOptions are the store options of a vector; 0 means the default.
type vectorOptions struct {
	ReplayBufferSize  int   `json:"replayBufferSize"`
	ReplayBufferBytes int64 `json:"replayBufferBytes"`
	MaxValueBytes     int   `json:"maxValueBytes"`
	MaxDataBytes      int64 `json:"maxDataBytes"`
}

// step is one operation of a vector and what it must produce.
type step struct {
	Op        string          `json:"op"`
	Time      *int64          `json:"time"`
	Type      *jstr           `json:"type"`
	ID        *jstr           `json:"id"`
	Value     json.RawMessage `json:"value"`
	ValueHex  *hexBytes       `json:"valueHex"`
	Expected  *uint64         `json:"expected"`
	Since     *uint64         `json:"since"`
	ActorType *jstr           `json:"actorType"`
	KeyPrefix *jstr           `json:"keyPrefix"`
	Limit     *int            `json:"limit"`
	Ops       *[]batchOp      `json:"ops"`
	From      *startFrom      `json:"from"`
	Expect    *expectation    `json:"expect"`
	Events    *[]eventSpec    `json:"events"`
}

// batchOp is one operation of a batch step.
type batchOp struct {
	Op       string          `json:"op"`
	Type     *jstr           `json:"type"`
	ID       *jstr           `json:"id"`
	Value    json.RawMessage `json:"value"`
	ValueHex *hexBytes       `json:"valueHex"`
	Expected *uint64         `json:"expected"`
}

// expectation is a step's expected outcome: exactly one of its fields
// (Next goes with Events for changes).
type expectation struct {
	Actor   *actorSpec    `json:"actor"`
	Absent  *bool         `json:"absent"`
	Actors  *[]actorSpec  `json:"actors"`
	Events  *[]eventSpec  `json:"events"`
	Next    *uint64       `json:"next"`
	Results *[]resultSpec `json:"results"`
	Stats   *statsSpec    `json:"stats"`
	Error   *errorSpec    `json:"error"`
}

// actorSpec is an expected actor.
type actorSpec struct {
	Type     *jstr           `json:"type"`
	ID       *jstr           `json:"id"`
	Value    json.RawMessage `json:"value"`
	ValueHex *hexBytes       `json:"valueHex"`
	Version  *uint64         `json:"version"`
}

// resultSpec is the expected result of one batch operation.
type resultSpec struct {
	Actor  *actorSpec `json:"actor"`
	Absent *bool      `json:"absent"`
}

// eventSpec is an expected change event. Absent previous or new fields
// mean the event must not have them.
type eventSpec struct {
	Sequence         *uint64         `json:"sequence"`
	Operation        *string         `json:"operation"`
	ActorType        *jstr           `json:"actorType"`
	ActorID          *jstr           `json:"actorId"`
	PreviousValue    json.RawMessage `json:"previousValue"`
	PreviousValueHex *hexBytes       `json:"previousValueHex"`
	PreviousVersion  *uint64         `json:"previousVersion"`
	NewValue         json.RawMessage `json:"newValue"`
	NewValueHex      *hexBytes       `json:"newValueHex"`
	NewVersion       *uint64         `json:"newVersion"`
	Timestamp        *int64          `json:"timestamp"`
}

// statsSpec is a subset of the expected statistics.
type statsSpec struct {
	TotalEvents       *uint64 `json:"totalEvents"`
	CurrentSequence   *uint64 `json:"currentSequence"`
	ReplayBufferSize  *uint64 `json:"replayBufferSize"`
	EventsDropped     *uint64 `json:"eventsDropped"`
	OldestSequence    *uint64 `json:"oldestSequence"`
	Actors            *uint64 `json:"actors"`
	ReplayBufferBytes *uint64 `json:"replayBufferBytes"`
	DataBytes         *uint64 `json:"dataBytes"`
}

// errorSpec is an expected error.
type errorSpec struct {
	Code      string  `json:"code"`
	Expected  *uint64 `json:"expected"`
	Actual    *uint64 `json:"actual"`
	Requested *uint64 `json:"requested"`
	Oldest    *uint64 `json:"oldest"`
	Index     *int    `json:"index"`
}

// errorCodes are the contract's error codes.
var errorCodes = []string{"INVALID_KEY", "ALREADY_EXISTS", "NOT_FOUND", "VERSION_MISMATCH", "COMPACTED",
	"INVALID_VALUE", "VALUE_TOO_LARGE", "STORE_FULL", "INVALID_ARGUMENT", "CLOSED"}

// hostNames are the hosts a vector may name in "hosts".
var hostNames = []string{"go", "node", "chromium"}

// stepFields lists, per op, the fields a step may have besides the
// common ones, and the expectation kinds it may use.
var stepFields = map[string]struct{ fields, expects []string }{
	"insert":          {[]string{"type", "id", "value", "valueHex"}, []string{"actor", "error"}},
	"update":          {[]string{"type", "id", "value", "valueHex"}, []string{"actor", "error"}},
	"updateVersioned": {[]string{"type", "id", "value", "valueHex", "expected"}, []string{"actor", "error"}},
	"get":             {[]string{"type", "id"}, []string{"actor", "absent", "error"}},
	"delete":          {[]string{"type", "id"}, []string{"actor", "absent", "error"}},
	"getAll":          {[]string{"type"}, []string{"actors", "error"}},
	"changes":         {[]string{"since", "actorType", "keyPrefix", "limit"}, []string{"events", "error"}},
	"batch":           {[]string{"ops"}, []string{"results", "error"}},
	"stats":           {nil, []string{"stats"}},
	"subscribe":       {[]string{"from", "actorType", "keyPrefix"}, []string{"events", "error"}},
}

// commonStepFields may appear on every step.
var commonStepFields = []string{"op", "time", "expect", "events"}

// readOps must say what they expect; writes without "expect" must succeed.
var readOps = []string{"get", "getAll", "changes", "stats", "subscribe"}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields
// and trailing data.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// jstr is a string field: "text", {"repeat": "ab", "count": n} or
// {"hex": "ff61"} (raw bytes, possibly invalid UTF-8).
type jstr struct {
	s string
}

// UnmarshalJSON accepts the three forms of a string field.
func (j *jstr) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &j.s)
	}
	var f struct {
		Repeat *string `json:"repeat"`
		Count  *int    `json:"count"`
		Hex    *string `json:"hex"`
	}
	if err := strictUnmarshal(b, &f); err != nil {
		return fmt.Errorf("string field %s: %v", b, err)
	}
	switch {
	case f.Hex != nil && f.Repeat == nil && f.Count == nil:
		raw, err := hex.DecodeString(*f.Hex)
		j.s = string(raw)
		return err
	case f.Hex == nil && f.Repeat != nil && f.Count != nil && *f.Count >= 0:
		j.s = strings.Repeat(*f.Repeat, *f.Count)
		return nil
	}
	return fmt.Errorf("string field %s: want a string, {repeat, count} or {hex}", b)
}

// str returns the string of an optional field, "" when absent.
func (j *jstr) str() string {
	if j == nil {
		return ""
	}
	return j.s
}

// hexBytes is a byte string written in hex.
type hexBytes []byte

// UnmarshalJSON decodes a JSON string of hex digits.
func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("hex field: %v", err)
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("hex field %q: %v", s, err)
	}
	*h = raw
	return nil
}

// startFrom is a subscription start: "beginning", "now", {"sequence": n}
// or {"time": ms}.
type startFrom struct {
	kind string // "beginning", "now", "sequence" or "time"
	n    int64  // the sequence or the time
}

// UnmarshalJSON accepts the four start forms.
func (f *startFrom) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &f.kind); err != nil || (f.kind != "beginning" && f.kind != "now") {
			return fmt.Errorf("from %s: want \"beginning\", \"now\", {sequence} or {time}", b)
		}
		return nil
	}
	var o struct {
		Sequence *uint64 `json:"sequence"`
		Time     *int64  `json:"time"`
	}
	if err := strictUnmarshal(b, &o); err != nil {
		return fmt.Errorf("from %s: %v", b, err)
	}
	switch {
	case o.Sequence != nil && o.Time == nil:
		f.kind, f.n = "sequence", int64(*o.Sequence)
	case o.Time != nil && o.Sequence == nil:
		f.kind, f.n = "time", *o.Time
	default:
		return fmt.Errorf("from %s: want exactly one of sequence and time", b)
	}
	return nil
}

// stepAlias has step's fields without its UnmarshalJSON.
type stepAlias step

// UnmarshalJSON checks the step's fields against its op, then decodes it.
func (s *step) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	var op string
	if err := json.Unmarshal(fields["op"], &op); err != nil {
		return fmt.Errorf("step %s: no op", b)
	}
	spec, ok := stepFields[op]
	if !ok {
		return fmt.Errorf("unknown op %q", op)
	}
	for k := range fields {
		if !slices.Contains(spec.fields, k) && !slices.Contains(commonStepFields, k) {
			return fmt.Errorf("op %s: unknown field %q", op, k)
		}
	}
	if err := strictUnmarshal(b, (*stepAlias)(s)); err != nil {
		return fmt.Errorf("op %s: %v", op, err)
	}
	return s.validate()
}

// vectorAlias has vector's fields without its UnmarshalJSON.
type vectorAlias vector

// UnmarshalJSON decodes a vector and notes whether it uses hex strings.
func (v *vector) UnmarshalJSON(b []byte) error {
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return err
	}
	if err := strictUnmarshal(b, (*vectorAlias)(v)); err != nil {
		return fmt.Errorf("vector %q: %v", v.Name, err)
	}
	v.usesHexStrings = hasHexString(generic)
	if err := v.validate(); err != nil {
		return fmt.Errorf("vector %q: %v", v.Name, err)
	}
	return nil
}

// hasHexString reports whether a decoded JSON value holds a {"hex": ...}
// string field.
func hasHexString(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["hex"]; ok && len(x) == 1 {
			return true
		}
		for _, e := range x {
			if hasHexString(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, hasHexString)
	}
	return false
}

// runsOn reports whether the vector is meant for the named host.
func (v *vector) runsOn(host string) bool {
	return v.Hosts == nil || slices.Contains(v.Hosts, host)
}

// loadVectorFiles reads and validates every vectors/*.json file.
func loadVectorFiles() ([]*vectorFile, error) {
	paths, err := filepath.Glob(filepath.Join("vectors", "*.json"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no vector files in vectors/ (%v)", err)
	}
	var files []*vectorFile
	for _, p := range paths {
		f, err := loadVectorFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// loadVectorFile reads and validates one vector file.
func loadVectorFile(path string) (*vectorFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parseVectorFile(b)
	if err != nil {
		return nil, err
	}
	if want := strings.TrimSuffix(filepath.Base(path), ".json"); f.Name != want {
		return nil, fmt.Errorf("name %q differs from the file name %q", f.Name, want)
	}
	f.path = path
	return f, nil
}

// parseVectorFile decodes and validates the contents of a vector file.
func parseVectorFile(b []byte) (*vectorFile, error) {
	f := &vectorFile{}
	if err := strictUnmarshal(b, f); err != nil {
		return nil, err
	}
	if f.Name == "" || f.Description == "" || len(f.Vectors) == 0 {
		return nil, errors.New("a vector file needs a name, a description and vectors")
	}
	seen := map[string]bool{}
	for _, v := range f.Vectors {
		if seen[v.Name] {
			return nil, fmt.Errorf("two vectors named %q", v.Name)
		}
		seen[v.Name] = true
	}
	return f, nil
}
