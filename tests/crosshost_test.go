package tests

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
)

// Cross-host tests: the Go and the JS host must read what the other
// writes, and the core must make the same store of the same operations on
// every host. The data is in crosshost/ (see crosshost/README.md); the JS
// side is js/test/crosshost.test.mjs.
//
//	go test ./tests -run CrossHost            check
//	go test ./tests -run CrossHost -update    rewrite the Go columns/files

var update = flag.Bool("update", false, "rewrite the Go side of tests/crosshost (goHex in values.json, go_store.json)")

const (
	crossValuesPath  = "crosshost/values.json"
	crossScriptPath  = "crosshost/script.json"
	crossGoStorePath = "crosshost/go_store.json"
	crossJSStorePath = "crosshost/js_store.json"
	crossGoSnapPath  = "crosshost/go.snap"
	crossJSSnapPath  = "crosshost/js.snap"
	crossGoGenerator = "go test ./tests -run CrossHost -update"
)

// crossCase is one value of crosshost/values.json.
type crossCase struct {
	Name   string          `json:"name"`
	Expect json.RawMessage `json:"expect"`
	GoHex  string          `json:"goHex"`
	JSHex  string          `json:"jsHex"`
}

// TestCrossHostValues checks each value of values.json on the Go side:
// the Go host writes goHex for it, and reads jsHex (what the JS host
// writes) back byte for byte and as the expected value.
func TestCrossHostValues(t *testing.T) {
	text, err := os.ReadFile(crossValuesPath)
	if err != nil {
		t.Fatal(err)
	}
	var cases []crossCase
	if err := strictUnmarshal(text, &cases); err != nil {
		t.Fatalf("%s: %v", crossValuesPath, err)
	}
	if len(cases) < 50 {
		t.Fatalf("%s: only %d cases", crossValuesPath, len(cases))
	}
	ctx := context.Background()
	for _, e := range engines {
		s := openStore(t, e, host.Options{})
		for i, c := range cases {
			want := crossExpect(t, c.Name, c.Expect)
			got, err := s.Insert(ctx, "go", fmt.Sprint(i), goCrossValue(want))
			if err != nil {
				t.Fatalf("%v: %s: the Go host cannot write the value: %v", e, c.Name, err)
			}
			goHex := hex.EncodeToString(got.Value)
			if *update {
				cases[i].GoHex = goHex
			} else if goHex != c.GoHex {
				t.Errorf("%v: %s: the Go host writes %s, values.json says %s (run %s if the change is meant)",
					e, c.Name, describe(got.Value), c.GoHex, crossGoGenerator)
			}
			if err := matchCross(decodeGo(t, got.Value), want); err != nil {
				t.Errorf("%v: %s: the Go host reads back what it wrote (%s) as another value: %v", e, c.Name, goHex, err)
			}
			if c.JSHex == "" {
				t.Errorf("%s: no jsHex: run `node test/crosshost.test.mjs --update` in js/", c.Name)
				continue
			}
			js, err := hex.DecodeString(c.JSHex)
			if err != nil {
				t.Fatalf("%s: jsHex: %v", c.Name, err)
			}
			stored, err := s.Insert(ctx, "js", fmt.Sprint(i), cbor.RawMessage(js))
			if err != nil {
				t.Errorf("%v: %s: the Go host refuses what the JS host writes (%s): %v", e, c.Name, c.JSHex, err)
				continue
			}
			read, ok, err := s.Get(ctx, "js", fmt.Sprint(i))
			if err != nil || !ok || !bytes.Equal(read.Value, js) || !bytes.Equal(stored.Value, js) {
				t.Errorf("%v: %s: stored %s, read back %s (found %v, err %v)", e, c.Name, c.JSHex, describe(read.Value), ok, err)
			}
			if err := matchCross(decodeGo(t, read.Value), want); err != nil {
				t.Errorf("%v: %s: the Go host reads the JS host's %s as another value: %v", e, c.Name, describe(js), err)
			}
		}
	}
	if *update {
		writeCrossValues(t, text, cases)
	}
}

// writeCrossValues rewrites the goHex of each case in place, one case a
// line, so that the JS side (which owns jsHex) can do the same.
func writeCrossValues(t *testing.T, text []byte, cases []crossCase) {
	lines := strings.Split(string(text), "\n")
	goHex := regexp.MustCompile(`"goHex": "[0-9a-f]*"`)
	n := 0
	for i, l := range lines {
		if !strings.HasPrefix(l, "  {") {
			continue
		}
		var c crossCase
		if err := json.Unmarshal([]byte(strings.TrimSuffix(l, ",")), &c); err != nil || n >= len(cases) || c.Name != cases[n].Name {
			t.Fatalf("%s line %d: want one case a line, in order (%v)", crossValuesPath, i+1, err)
		}
		lines[i] = goHex.ReplaceAllLiteralString(l, fmt.Sprintf(`"goHex": %q`, cases[n].GoHex))
		n++
	}
	if n != len(cases) {
		t.Fatalf("%s: %d case lines for %d cases", crossValuesPath, n, len(cases))
	}
	if err := os.WriteFile(crossValuesPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote the goHex of %d cases in %s", n, crossValuesPath)
}

// crossExpect decodes an expected value, keeping numbers as json.Number.
func crossExpect(t *testing.T, name string, raw json.RawMessage) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: expect: %v", name, err)
	}
	return v
}

// special returns the form and argument of an extended value: {"$bytes":
// hex}, {"$float": "NaN" | "Infinity" | "-Infinity"} or {"$int":
// decimal}.
func special(v any) (form, arg string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", "", false
	}
	for k, x := range m {
		s, isString := x.(string)
		if isString && (k == "$bytes" || k == "$float" || k == "$int") {
			return k, s, true
		}
	}
	return "", "", false
}

// goCrossValue is the Go value an expected value stands for: integers as
// int64 (or uint64), other numbers as float64, $bytes as []byte, $float
// as float64, $int as int64, uint64 or *big.Int.
func goCrossValue(v any) any {
	if form, arg, ok := special(v); ok {
		switch form {
		case "$bytes":
			b, err := hex.DecodeString(arg)
			if err != nil {
				panic(err)
			}
			return b
		case "$float":
			return specialFloat(arg)
		}
		n, ok := new(big.Int).SetString(arg, 10)
		if !ok {
			panic("bad $int " + arg)
		}
		switch {
		case n.IsInt64():
			return n.Int64()
		case n.IsUint64():
			return n.Uint64()
		}
		return n
	}
	switch x := v.(type) {
	case json.Number:
		return fromNumbers(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = goCrossValue(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = goCrossValue(e)
		}
		return out
	}
	return v
}

func specialFloat(s string) float64 {
	switch s {
	case "NaN":
		return math.NaN()
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	panic("bad $float " + s)
}

// decodeGo decodes CBOR as the Go host does for its users.
func decodeGo(t *testing.T, b []byte) any {
	a := host.Actor{Value: b}
	var v any
	if err := a.Decode(&v); err != nil {
		t.Errorf("the Go host cannot decode %s: %v", describe(b), err)
	}
	return v
}

// matchCross compares a decoded value with an expected one: JSON numbers
// as float64, $int exactly, $float and $bytes by kind and content, maps
// as maps with text keys.
func matchCross(got, want any) error {
	if form, arg, ok := special(want); ok {
		switch form {
		case "$bytes":
			if b, isBytes := got.([]byte); !isBytes || hex.EncodeToString(b) != arg {
				return fmt.Errorf("%#v, want bytes %s", got, arg)
			}
		case "$float":
			w := specialFloat(arg)
			if f, isFloat := asFloat(got); !isFloat || !(f == w || math.IsNaN(f) && math.IsNaN(w)) {
				return fmt.Errorf("%#v, want %s", got, arg)
			}
		case "$int":
			if n := asBigInt(got); n == nil || n.String() != arg {
				return fmt.Errorf("%#v (%T), want the integer %s", got, got, arg)
			}
		}
		return nil
	}
	switch w := want.(type) {
	case json.Number:
		wf, err := w.Float64()
		if err != nil {
			return err
		}
		if f, ok := asFloat(got); !ok || f != wf {
			return fmt.Errorf("%#v, want %s", got, w)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%#v, want an array of %d", got, len(w))
		}
		for i := range w {
			if err := matchCross(g[i], w[i]); err != nil {
				return fmt.Errorf("[%d]: %v", i, err)
			}
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%#v, want a map of %d text keys", got, len(w))
		}
		for k := range w {
			if _, has := g[k]; !has {
				return fmt.Errorf("no key %q", k)
			}
			if err := matchCross(g[k], w[k]); err != nil {
				return fmt.Errorf("[%q]: %v", k, err)
			}
		}
	default:
		if got != want {
			return fmt.Errorf("%#v, want %#v", got, want)
		}
	}
	return nil
}

// asFloat converts a decoded number to float64, as JSON would hold it.
func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case big.Int:
		f, _ := new(big.Float).SetInt(&x).Float64()
		return f, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	}
	return 0, false
}

// asBigInt converts a decoded integer to a big.Int, or returns nil.
func asBigInt(v any) *big.Int {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x)
	case uint64:
		return new(big.Int).SetUint64(x)
	case big.Int:
		return &x
	case *big.Int:
		return x
	}
	return nil
}

// ---- the same operations, on every host -----------------------------------

// crossScript is crosshost/script.json.
type crossScript struct {
	Description string    `json:"description"`
	Ops         []crossOp `json:"ops"`
}

// crossOp is one operation of the script, or of one of its batches.
type crossOp struct {
	Op       string          `json:"op"`
	Time     int64           `json:"time,omitempty"`
	Type     string          `json:"type,omitempty"`
	ID       string          `json:"id,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	Expected *uint64         `json:"expected,omitempty"`
	Ops      []crossOp       `json:"ops,omitempty"`
}

// crossDump is what a host made of the script: go_store.json and
// js_store.json. Writes holds, per operation, the hex of the values the
// host wrote (null for deletes); a host replaying another's dump writes
// those bytes instead of encoding the values itself.
type crossDump struct {
	Generator string            `json:"generator"`
	Writes    [][]*string       `json:"writes"`
	Results   []crossResult     `json:"results"`
	Actors    []crossActor      `json:"actors"`
	Events    []crossEvent      `json:"events"`
	Stats     map[string]uint64 `json:"stats"`
}

type crossResult struct {
	Actor   *crossActor   `json:"actor,omitempty"`
	Absent  bool          `json:"absent,omitempty"`
	Results []crossResult `json:"results,omitempty"`
	Error   *crossError   `json:"error,omitempty"`
}

type crossActor struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	ValueHex string `json:"valueHex"`
	Version  uint64 `json:"version"`
}

type crossError struct {
	Code      string  `json:"code"`
	Expected  *uint64 `json:"expected,omitempty"`
	Actual    *uint64 `json:"actual,omitempty"`
	Requested *uint64 `json:"requested,omitempty"`
	Oldest    *uint64 `json:"oldest,omitempty"`
	Index     *int    `json:"index,omitempty"`
}

type crossEvent struct {
	Sequence         uint64  `json:"sequence"`
	Operation        string  `json:"operation"`
	ActorType        string  `json:"actorType"`
	ActorID          string  `json:"actorId"`
	PreviousValueHex *string `json:"previousValueHex,omitempty"`
	PreviousVersion  *uint64 `json:"previousVersion,omitempty"`
	NewValueHex      *string `json:"newValueHex,omitempty"`
	NewVersion       *uint64 `json:"newVersion,omitempty"`
	Timestamp        int64   `json:"timestamp"`
}

// TestCrossHostStore applies script.json on each engine and checks that
// the result is go_store.json; then replays the JS host's writes from
// js_store.json and checks that the Go host makes exactly the JS host's
// store, events and results of them, and reads its values as expected.
func TestCrossHostStore(t *testing.T) {
	var script crossScript
	readStrict(t, crossScriptPath, &script)
	var dumps []*crossDump
	var snaps [][]byte
	for _, e := range engines {
		d, snap := runCrossScript(t, e, &script, nil)
		dumps, snaps = append(dumps, d), append(snaps, snap)
	}
	if !reflect.DeepEqual(dumps[0], dumps[1]) {
		t.Fatalf("the engines made different stores:\n%s\n%s", jsonText(dumps[0]), jsonText(dumps[1]))
	}
	if !bytes.Equal(snaps[0], snaps[1]) {
		t.Fatalf("the engines wrote different snapshots of the same store")
	}
	if *update {
		if err := os.WriteFile(crossGoStorePath, []byte(jsonText(dumps[0])+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crossGoSnapPath, snaps[0], 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s and %s", crossGoStorePath, crossGoSnapPath)
	} else {
		if committed, err := os.ReadFile(crossGoSnapPath); err != nil || !bytes.Equal(committed, snaps[0]) {
			t.Errorf("the Go host now writes another snapshot than %s (%v; run %s if the change is meant)",
				crossGoSnapPath, err, crossGoGenerator)
		}
		var committed crossDump
		readStrict(t, crossGoStorePath, &committed)
		if !reflect.DeepEqual(&committed, dumps[0]) {
			t.Errorf("the Go host now makes another store than %s (run %s if the change is meant):\n%s",
				crossGoStorePath, crossGoGenerator, jsonText(dumps[0]))
		}
	}

	var js crossDump
	readStrict(t, crossJSStorePath, &js)
	if len(js.Writes) != len(script.Ops) {
		t.Fatalf("%s has writes for %d operations, the script %d: regenerate it", crossJSStorePath, len(js.Writes), len(script.Ops))
	}
	checkCrossWrites(t, &script, js.Writes)
	jsSnap, err := os.ReadFile(crossJSSnapPath)
	if err != nil {
		t.Fatalf("%v (written by cd js && node test/crosshost.test.mjs --update)", err)
	}
	for _, e := range engines {
		got, snap := runCrossScript(t, e, &script, js.Writes)
		got.Generator = js.Generator
		if !reflect.DeepEqual(got, &js) {
			t.Errorf("%v: replaying the JS host's writes makes another store than the JS host's:\ngot  %s\nwant %s",
				e, jsonText(got), jsonText(&js))
		}
		if !bytes.Equal(snap, jsSnap) {
			t.Errorf("%v: the same store snapshots to other bytes than the JS host's %s", e, crossJSSnapPath)
		}
		// The JS host's snapshot restores in Go to the JS host's store.
		s := openStore(t, e, host.Options{})
		if err := s.Restore(context.Background(), bytes.NewReader(jsSnap)); err != nil {
			t.Fatalf("%v: restore %s: %v", e, crossJSSnapPath, err)
		}
		var restored crossDump
		restored.Actors, restored.Events, restored.Stats = crossState(context.Background(), t, s, crossTypes(&script))
		if !reflect.DeepEqual(restored.Actors, js.Actors) || !reflect.DeepEqual(restored.Events, js.Events) ||
			!reflect.DeepEqual(restored.Stats, js.Stats) {
			t.Errorf("%v: %s restores to another store than %s", e, crossJSSnapPath, crossJSStorePath)
		}
	}
}

// crossTypes lists the actor types the script writes.
func crossTypes(script *crossScript) map[string]bool {
	types := map[string]bool{}
	for _, op := range script.Ops {
		if op.Op != "batch" {
			types[op.Type] = true
		}
		for _, o := range op.Ops {
			types[o.Type] = true
		}
	}
	return types
}

// checkCrossWrites checks that the Go host reads each value the JS host
// wrote as the script's value.
func checkCrossWrites(t *testing.T, script *crossScript, writes [][]*string) {
	for i, op := range script.Ops {
		ops := []crossOp{op}
		if op.Op == "batch" {
			ops = op.Ops
		}
		if len(writes[i]) != len(ops) {
			t.Fatalf("operation %d: %d writes for %d operations", i, len(writes[i]), len(ops))
		}
		for j, o := range ops {
			if (o.Value == nil) != (writes[i][j] == nil) {
				t.Fatalf("operation %d.%d: a value where none is written, or none where one is", i, j)
			}
			if o.Value == nil {
				continue
			}
			b, err := hex.DecodeString(*writes[i][j])
			if err != nil {
				t.Fatal(err)
			}
			if err := matchCross(decodeGo(t, b), crossExpect(t, o.ID, o.Value)); err != nil {
				t.Errorf("operation %d.%d: the JS host's %s reads in Go as another value: %v", i, j, describe(b), err)
			}
		}
	}
}

// runCrossScript applies the script to a fresh store on engine e, writing
// the Go values of the script, or when replay is given, those raw bytes.
// It returns the resulting store's dump and snapshot.
func runCrossScript(t *testing.T, e host.Engine, script *crossScript, replay [][]*string) (*crossDump, []byte) {
	ctx := context.Background()
	var now int64
	s := openStore(t, e, host.Options{Clock: func() time.Time { return time.UnixMilli(now) }})
	scratch := openStore(t, e, host.Options{})
	d := &crossDump{Generator: crossGoGenerator, Writes: [][]*string{}, Results: []crossResult{}}
	types := map[string]bool{}
	// value returns what to write for operation i.j, noting its hex.
	value := func(i, j int, o crossOp) (any, *string) {
		if o.Value == nil {
			return nil, nil
		}
		if replay != nil {
			b, err := hex.DecodeString(*replay[i][j])
			if err != nil {
				t.Fatal(err)
			}
			return cbor.RawMessage(b), replay[i][j]
		}
		v := goCrossValue(crossExpect(t, o.ID, o.Value))
		a, err := scratch.Insert(ctx, "scratch", fmt.Sprintf("%d.%d", i, j), v)
		if err != nil {
			t.Fatalf("operation %d.%d: the Go host cannot write %s: %v", i, j, o.Value, err)
		}
		h := hex.EncodeToString(a.Value)
		return v, &h
	}
	for i, op := range script.Ops {
		now = op.Time
		var r crossResult
		if op.Op == "batch" {
			var ops []host.BatchOp
			var hexes []*string
			for j, o := range op.Ops {
				v, h := value(i, j, o)
				hexes = append(hexes, h)
				types[o.Type] = true
				ops = append(ops, crossBatchOp(t, o, v))
			}
			d.Writes = append(d.Writes, hexes)
			rs, err := s.Batch(ctx, ops...)
			if err != nil {
				r.Error = crossErr(err)
			}
			for j, br := range rs {
				if br.Found {
					r.Results = append(r.Results, crossResult{Actor: actorOf(br.Actor)})
				} else if op.Ops[j].Op == "delete" {
					r.Results = append(r.Results, crossResult{Absent: true})
				}
			}
		} else {
			v, h := value(i, 0, op)
			d.Writes = append(d.Writes, []*string{h})
			types[op.Type] = true
			r = crossSingle(ctx, t, s, op, v)
		}
		d.Results = append(d.Results, r)
	}
	d.Actors, d.Events, d.Stats = crossState(ctx, t, s, types)
	var snap bytes.Buffer
	if err := s.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	return d, snap.Bytes()
}

func crossBatchOp(t *testing.T, o crossOp, v any) host.BatchOp {
	var expected uint64
	switch o.Op {
	case "updateVersioned":
		expected = expectedOf(t, o)
	case "insert", "update", "delete":
	default:
		t.Fatalf("unknown batch op %q", o.Op)
	}
	return namedBatchOp(o.Op, o.Type, o.ID, v, expected)
}

// crossSingle applies one operation other than a batch.
func crossSingle(ctx context.Context, t *testing.T, s *host.Store, op crossOp, v any) crossResult {
	var a host.Actor
	found := true
	var err error
	switch op.Op {
	case "insert":
		a, err = s.Insert(ctx, op.Type, op.ID, v)
	case "update":
		a, err = s.Update(ctx, op.Type, op.ID, v)
	case "updateVersioned":
		a, err = s.UpdateVersioned(ctx, op.Type, op.ID, v, expectedOf(t, op))
	case "delete":
		a, found, err = s.Delete(ctx, op.Type, op.ID)
	default:
		t.Fatalf("unknown op %q", op.Op)
	}
	switch {
	case err != nil:
		return crossResult{Error: crossErr(err)}
	case !found:
		return crossResult{Absent: true}
	}
	return crossResult{Actor: actorOf(a)}
}

func expectedOf(t *testing.T, o crossOp) uint64 {
	if o.Expected == nil {
		t.Fatalf("updateVersioned of %q/%q without expected", o.Type, o.ID)
	}
	return *o.Expected
}

func actorOf(a host.Actor) *crossActor {
	return &crossActor{Type: a.Type, ID: a.ID, ValueHex: hex.EncodeToString(a.Value), Version: a.Version}
}

// crossErr records an error's code and details.
func crossErr(err error) *crossError {
	e := &crossError{Code: codeOf(err)}
	var vm *host.VersionMismatchError
	var c *host.CompactedError
	var be *host.BatchError
	if errors.As(err, &vm) {
		e.Expected, e.Actual = &vm.Expected, &vm.Actual
	}
	if errors.As(err, &c) {
		e.Requested, e.Oldest = &c.Requested, &c.Oldest
	}
	if errors.As(err, &be) {
		e.Index = &be.Index
	}
	return e
}

// crossState reads the actors of the given types (types in byte order),
// every event and the statistics.
func crossState(ctx context.Context, t *testing.T, s *host.Store, types map[string]bool) ([]crossActor, []crossEvent, map[string]uint64) {
	actors := []crossActor{}
	var names []string
	for ty := range types {
		names = append(names, ty)
	}
	slices.Sort(names) // by bytes, as the JS side sorts them too
	for _, ty := range names {
		as, err := s.GetAll(ctx, ty)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			actors = append(actors, *actorOf(a))
		}
	}
	page, err := s.Changes(ctx, 0, host.Filter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	events := []crossEvent{}
	for _, ev := range page.Events {
		if ev.Timestamp.UnixNano()%1e6 != 0 {
			t.Fatalf("event %d: timestamp %v is not whole milliseconds", ev.Sequence, ev.Timestamp)
		}
		ce := crossEvent{Sequence: ev.Sequence, Operation: ev.Operation.String(), ActorType: ev.ActorType,
			ActorID: ev.ActorID, PreviousVersion: ev.PreviousVersion, NewVersion: ev.NewVersion,
			Timestamp: ev.Timestamp.UnixMilli()}
		if ev.PreviousVersion != nil {
			h := hex.EncodeToString(ev.PreviousValue)
			ce.PreviousValueHex = &h
		}
		if ev.NewVersion != nil {
			h := hex.EncodeToString(ev.NewValue)
			ce.NewValueHex = &h
		}
		events = append(events, ce)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stats := map[string]uint64{"totalEvents": st.TotalEvents, "currentSequence": st.CurrentSequence,
		"replayBufferSize": uint64(st.ReplayBufferSize), "eventsDropped": st.EventsDropped,
		"oldestSequence": st.OldestSequence, "replayBufferBytes": st.ReplayBufferBytes,
		"actors": st.Actors, "dataBytes": st.DataBytes}
	return actors, events, stats
}

// readStrict reads a JSON file into v, refusing unknown fields.
func readStrict(t *testing.T, path string, v any) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := strictUnmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// jsonText renders v as indented JSON.
func jsonText(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return strconv.Quote(err.Error())
	}
	return string(b)
}
