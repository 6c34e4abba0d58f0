package tests

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
)

// modelLimits keep every bound within reach of a short run: the replay
// buffer evicts by count and by bytes, values hit their size limit and the
// data budget fills up.
var modelLimits = limits{replayEvents: 200, replayBytes: 20_000, maxValue: 40, maxData: 800}

// TestModel compares both engines with the reference model over a long
// random sequence of operations, in lockstep: every result, error,
// version, event and statistic must match the model, and the engines must
// return the same Go values.
func TestModel(t *testing.T) {
	ops := 20_000
	if os.Getenv("ACTORSTORE_LONG") == "1" {
		ops = 500_000
	}
	runModel(t, localTargets, ops)
}

// runModel runs ops random operations on the model and the targets.
func runModel(t *testing.T, tgs []target, ops int) {
	seed := modelSeed(t)
	h := newModelHarness(t, seed, tgs)
	for i := range ops {
		o := h.gen.op()
		if err := h.step(&o); err != nil {
			t.Fatalf("seed %d (replay with ACTORSTORE_SEED=%d), op %d %v: %v", seed, seed, i, &o, err)
		}
		if i%500 == 499 {
			if err := h.checkFeed(); err != nil {
				t.Fatalf("seed %d, after op %d: %v", seed, i, err)
			}
		}
	}
	if err := h.checkFeed(); err != nil {
		t.Fatalf("seed %d, at the end: %v", seed, err)
	}
	t.Logf("%d ops, %d events, %d dropped, %d actors; outcomes %v", ops, h.model.seq, h.model.dropped,
		len(h.model.actors), h.seen)
	for _, o := range mustSee {
		if h.seen[o] == 0 {
			t.Errorf("seed %d: no operation had the outcome %s: the generator misses a case", seed, o)
		}
	}
}

// mustSee are outcomes every run must reach, so that the test cannot pass
// without exercising them.
var mustSee = []string{
	"insert OK", "insert ALREADY_EXISTS", "insert INVALID_KEY", "insert INVALID_VALUE", "insert VALUE_TOO_LARGE",
	"insert STORE_FULL", "update OK", "update NOT_FOUND", "update STORE_FULL", "updateVersioned OK",
	"updateVersioned VERSION_MISMATCH", "updateVersioned NOT_FOUND", "delete OK", "delete absent",
	"get OK", "get absent", "get INVALID_KEY", "getAll OK", "getAll INVALID_KEY", "batch OK",
	"batch ALREADY_EXISTS", "batch NOT_FOUND", "batch VERSION_MISMATCH", "batch INVALID_VALUE", "batch STORE_FULL",
	"changes OK", "changes empty", "changes COMPACTED", "stats OK",
}

// modelSeed takes the seed from ACTORSTORE_SEED, or picks one, and logs it.
func modelSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ACTORSTORE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ACTORSTORE_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with ACTORSTORE_SEED=%d)", seed, seed)
	return seed
}

// modelHarness drives the model and one store per target with the same
// operations and the same clock.
type modelHarness struct {
	ctx     context.Context
	model   *model
	gen     *gen
	targets []target
	stores  []host.API
	now     atomic.Int64   // ms
	seen    map[string]int // outcomes of the model, such as "insert NOT_FOUND"
}

func newModelHarness(t *testing.T, seed uint64, tgs []target) *modelHarness {
	h := &modelHarness{ctx: context.Background(), model: newModel(modelLimits), seen: map[string]int{}, targets: tgs}
	h.gen = &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), m: h.model}
	h.now.Store(baseTime)
	o := host.Options{ReplayBufferSize: modelLimits.replayEvents, ReplayBufferBytes: modelLimits.replayBytes,
		MaxValueBytes: modelLimits.maxValue, MaxDataBytes: modelLimits.maxData,
		Clock: func() time.Time { return time.UnixMilli(h.now.Load()) }}
	for _, tg := range tgs {
		h.stores = append(h.stores, openTarget(t, tg, o))
	}
	return h
}

// step runs o on the model and every engine and compares the outcomes.
func (h *modelHarness) step(o *mop) error {
	ts := h.now.Add(int64(h.gen.r.IntN(3)))
	var results []any
	for i, s := range h.stores {
		got, err := h.run(s, o, ts)
		if err != nil {
			return fmt.Errorf("%v: %v", h.targets[i], err)
		}
		results = append(results, got)
	}
	h.seen[o.kind+" "+h.commitModel(o, ts)]++
	for i := 1; i < len(results); i++ {
		if !reflect.DeepEqual(results[0], results[i]) {
			return fmt.Errorf("targets differ:\n%v: %#v\n%v: %#v", h.targets[0], results[0], h.targets[i], results[i])
		}
	}
	return nil
}

// run runs o on one store, compares it with what the model will do, and
// returns the raw Go results for the comparison between engines.
func (h *modelHarness) run(s host.API, o *mop, ts int64) (any, error) {
	m := h.model
	switch o.kind {
	case "get":
		a, ok, err := s.Get(h.ctx, o.typ, o.id)
		want, wok, werr := m.get(o.typ, o.id)
		return rawResult(a, ok, err), checkModelGet(o, a, ok, err, want, wok, werr)
	case "getAll":
		as, err := s.GetAll(h.ctx, o.typ)
		keys, werr := m.getAll(o.typ)
		return []any{as, errString(err)}, h.checkGetAll(as, err, keys, werr)
	case "batch":
		return h.runBatch(s, o, ts)
	case "changes":
		p, err := s.Changes(h.ctx, o.since, o.filter, o.limit)
		evs, next, werr := m.changes(o.since, o.filter, o.limit)
		return []any{p, errString(err)}, checkModelChanges(p, err, evs, next, werr)
	case "stats":
		st, err := s.Stats(h.ctx)
		st = withoutKeys(st)
		if err != nil || st != m.stats() {
			return st, fmt.Errorf("stats %+v (%v), model %+v", st, err, m.stats())
		}
		return st, nil
	}
	return h.runWrite(s, o, ts)
}

// commitModel applies a write or batch to the model, once every engine
// ran it against the model's previous state, and names the outcome.
func (h *modelHarness) commitModel(o *mop, ts int64) string {
	m := h.model
	var err *merr
	switch o.kind {
	case "batch":
		_, err = m.batch(o.ops, ts)
	case "insert", "update", "updateVersioned", "delete":
		var r mresult
		if r, err = m.apply(o, ts); err == nil && !r.found {
			return "absent"
		}
	case "get":
		var ok bool
		if _, ok, err = m.get(o.typ, o.id); err == nil && !ok {
			return "absent"
		}
	case "getAll":
		_, err = m.getAll(o.typ)
	case "changes":
		var evs []mevent
		if evs, _, err = m.changes(o.since, o.filter, o.limit); err == nil && len(evs) == 0 {
			return "empty"
		}
	}
	if err != nil {
		return err.code
	}
	return "OK"
}

// runWrite runs a single write and compares it with a dry run of the
// model.
func (h *modelHarness) runWrite(s host.API, o *mop, ts int64) (any, error) {
	var a host.Actor
	ok, err := true, error(nil)
	v := cbor.RawMessage(o.value.b)
	switch o.kind {
	case "insert":
		a, err = s.Insert(h.ctx, o.typ, o.id, v)
	case "update":
		a, err = s.Update(h.ctx, o.typ, o.id, v)
	case "updateVersioned":
		a, err = s.UpdateVersioned(h.ctx, o.typ, o.id, v, o.expected)
	case "delete":
		a, ok, err = s.Delete(h.ctx, o.typ, o.id)
	}
	want, werr := h.model.write(h.model.begin(), o, ts)
	if e := checkModelError(err, werr); e != nil || werr != nil {
		return rawResult(a, ok, err), e
	}
	return rawResult(a, ok, err), checkModelActor(a, ok, want)
}

// runBatch runs a batch and compares it with a dry run of the model.
func (h *modelHarness) runBatch(s host.API, o *mop, ts int64) (any, error) {
	ops := make([]host.BatchOp, len(o.ops))
	for i := range o.ops {
		ops[i] = modelBatchOp(&o.ops[i])
	}
	rs, err := s.Batch(h.ctx, ops...)
	want, werr := h.model.batchIn(h.model.begin(), o.ops, ts)
	raw := []any{errString(err)}
	for _, r := range rs {
		raw = append(raw, rawResult(r.Actor, r.Found, nil))
	}
	if e := checkModelError(err, werr); e != nil || werr != nil {
		return raw, e
	}
	if len(rs) != len(want) {
		return raw, fmt.Errorf("%d results, model %d", len(rs), len(want))
	}
	for i := range rs {
		if e := checkModelActor(rs[i].Actor, rs[i].Found, want[i]); e != nil {
			return raw, fmt.Errorf("results[%d]: %v", i, e)
		}
	}
	return raw, nil
}

func modelBatchOp(o *mop) host.BatchOp {
	return namedBatchOp(o.kind, o.typ, o.id, cbor.RawMessage(o.value.b), o.expected)
}

// rawResult is a result as the engines are compared: an actor that was
// not found is left out, as the engines fill it differently (see
// TestEnginesAgreeOnAbsentDelete).
func rawResult(a host.Actor, ok bool, err error) []any {
	if !ok {
		a = host.Actor{}
	}
	return []any{a, ok, errString(err)}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkModelError compares an error with the model's.
func checkModelError(err error, want *merr) error {
	switch {
	case want == nil && err == nil:
		return nil
	case want == nil:
		return fmt.Errorf("error %v, model succeeds", err)
	}
	spec := &errorSpec{Code: want.code}
	if want.code == "VERSION_MISMATCH" {
		spec.Expected, spec.Actual = &want.expected, &want.actual
	}
	if want.code == "COMPACTED" {
		spec.Requested, spec.Oldest = &want.requested, &want.old
	}
	if want.index >= 0 {
		spec.Index = &want.index
	}
	return checkError(spec, err)
}

// checkModelActor compares a written, removed or absent actor.
func checkModelActor(a host.Actor, ok bool, want mresult) error {
	switch {
	case ok != want.found:
		return fmt.Errorf("found %v, model %v", ok, want.found)
	case !ok:
		return nil
	case a.Type != want.key.typ || a.ID != want.key.id || a.Version != want.actor.version ||
		!bytes.Equal(a.Value, want.actor.value):
		return fmt.Errorf("actor %q/%q v%d %x, model %q/%q v%d %x", a.Type, a.ID, a.Version, []byte(a.Value),
			want.key.typ, want.key.id, want.actor.version, want.actor.value)
	}
	return nil
}

func checkModelGet(o *mop, a host.Actor, ok bool, err error, want mactor, wok bool, werr *merr) error {
	if e := checkModelError(err, werr); e != nil || werr != nil {
		return e
	}
	return checkModelActor(a, ok, mresult{key: mkey{o.typ, o.id}, actor: want, found: wok})
}

func (h *modelHarness) checkGetAll(as []host.Actor, err error, keys []mkey, werr *merr) error {
	if e := checkModelError(err, werr); e != nil || werr != nil {
		return e
	}
	if len(as) != len(keys) {
		return fmt.Errorf("%d actors %s, model %v", len(as), actorKeys(as), keys)
	}
	for i, k := range keys {
		if e := checkModelActor(as[i], true, mresult{key: k, actor: h.model.actors[k], found: true}); e != nil {
			return fmt.Errorf("actors[%d]: %v", i, e)
		}
	}
	return nil
}

func checkModelChanges(p host.ChangePage, err error, want []mevent, next uint64, werr *merr) error {
	if e := checkModelError(err, werr); e != nil || werr != nil {
		return e
	}
	if p.Next != next {
		return fmt.Errorf("next %d, model %d", p.Next, next)
	}
	return checkModelEvents(p.Events, want)
}

// checkModelEvents compares events field by field.
func checkModelEvents(got []host.ChangeEvent, want []mevent) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d events %s, model %d", len(got), eventList(got), len(want))
	}
	for i := range want {
		if err := checkModelEvent(&got[i], &want[i]); err != nil {
			return fmt.Errorf("events[%d]: %v", i, err)
		}
	}
	return nil
}

func checkModelEvent(g *host.ChangeEvent, w *mevent) error {
	if g.Sequence != w.seq || g.Operation != w.op || g.ActorType != w.typ || g.ActorID != w.id ||
		g.Timestamp.UnixNano() != w.ts*1e6 {
		return fmt.Errorf("event #%d %v %q/%q at %v, model #%d %v %q/%q at %d ms", g.Sequence, g.Operation,
			g.ActorType, g.ActorID, g.Timestamp.UnixNano(), w.seq, w.op, w.typ, w.id, w.ts)
	}
	if err := checkModelSide(g.PreviousValue, g.PreviousVersion, w.prev); err != nil {
		return fmt.Errorf("event #%d previous: %v", g.Sequence, err)
	}
	if err := checkModelSide(g.NewValue, g.NewVersion, w.new); err != nil {
		return fmt.Errorf("event #%d new: %v", g.Sequence, err)
	}
	return nil
}

func checkModelSide(v []byte, version *uint64, want *mactor) error {
	switch {
	case want == nil && (v != nil || version != nil):
		return fmt.Errorf("has version %s value %x, model none", fmtVersion(version), v)
	case want == nil:
		return nil
	case version == nil || *version != want.version || !bytes.Equal(v, want.value):
		return fmt.Errorf("version %s value %x, model %d %x", fmtVersion(version), v, want.version, want.value)
	}
	return nil
}

// checkFeed compares every retained event and the statistics of each
// engine with the model.
func (h *modelHarness) checkFeed() error {
	m := h.model
	for i, s := range h.stores {
		p, err := s.Changes(h.ctx, m.oldest()-1, host.Filter{}, len(m.feed)+1)
		if err != nil {
			return fmt.Errorf("%v: full feed: %v", h.targets[i], err)
		}
		if err := checkModelEvents(p.Events, m.feed); err != nil {
			return fmt.Errorf("%v: full feed: %v", h.targets[i], err)
		}
		st, err := s.Stats(h.ctx)
		st = withoutKeys(st)
		if err != nil || st != m.stats() {
			return fmt.Errorf("%v: stats %+v (%v), model %+v", h.targets[i], st, err, m.stats())
		}
	}
	return nil
}

// withoutKeys drops the idempotency table's figures from st: the client
// gives every write a key, which the store behind the server remembers,
// while the model keeps none.
func withoutKeys(st host.Stats) host.Stats {
	st.IdempotencyKeys, st.IdempotencyBytes = 0, 0
	return st
}
