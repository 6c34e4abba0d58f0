package tests

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorstore/actorstore/host"
)

// baseTime is the clock of step 0, in Unix milliseconds; step i runs at
// baseTime + 1000*i unless it sets "time".
const baseTime = 1700000000000

// Waits of subscription steps: for each expected event, and for the
// silence that must follow the last one.
const (
	eventWait   = 5 * time.Second
	silenceWait = 50 * time.Millisecond
)

// TestConformance runs every vector of vectors/*.json on both engines,
// embedded and through the HTTP server and client (TestConformanceCluster
// on a cluster).
func TestConformance(t *testing.T) {
	forEachVector(t, func(t *testing.T, f *vectorFile, v *vector) {
		for _, tg := range targets {
			if !tg.cluster {
				t.Run(tg.String(), func(t *testing.T) { runVector(t, f, v, tg) })
			}
		}
	})
}

// forEachVector runs run as a subtest per Go vector of every vector file.
func forEachVector(t *testing.T, run func(t *testing.T, f *vectorFile, v *vector)) {
	files, err := loadVectorFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			for i := range f.Vectors {
				v := &f.Vectors[i]
				t.Run(v.Name, func(t *testing.T) {
					if !v.runsOn("go") {
						t.Skipf("vector is for hosts %v", v.Hosts)
					}
					run(t, f, v)
				})
			}
		})
	}
}

// TestConformanceCluster runs every vector on a 3-node Raft cluster, each
// call through the next node (spread), the vectors in parallel: a vector
// mostly waits, for its cluster's first election and for fsyncs. No
// vector differs: the leader stamps each command with the vector's clock
// (every node is given it), and a follower forwards writes and answers
// reads after the read barrier, with the leader's values and errors.
func TestConformanceCluster(t *testing.T) {
	forEachVector(t, func(t *testing.T, f *vectorFile, v *vector) {
		t.Parallel()
		for _, tg := range clusterTargets {
			t.Run(tg.String(), func(t *testing.T) { runVector(t, f, v, tg) })
		}
	})
}

// runVector runs the steps of v on a fresh store, stopping at the first
// step that differs from its expectation.
func runVector(t *testing.T, f *vectorFile, v *vector, tg target) {
	r := newRunner(t, tg, v.Options)
	for i := range v.Steps {
		if err := r.step(i, &v.Steps[i]); err != nil {
			t.Fatalf("%s: vector %q: step %d (%s) on %v: %v", f.path, v.Name, i, v.Steps[i].Op, tg, err)
		}
	}
}

// runner runs the steps of one vector against one store.
type runner struct {
	ctx   context.Context
	store host.API
	now   atomic.Int64 // the clock, in Unix milliseconds
}

// newRunner opens a store with the vector's options and a clock the steps
// set.
func newRunner(t testing.TB, tg target, o *vectorOptions) *runner {
	r := &runner{ctx: context.Background()}
	ho := host.Options{Clock: func() time.Time { return time.UnixMilli(r.now.Load()) }}
	if o != nil {
		ho.ReplayBufferSize, ho.ReplayBufferBytes = o.ReplayBufferSize, o.ReplayBufferBytes
		ho.MaxValueBytes, ho.MaxDataBytes = o.MaxValueBytes, o.MaxDataBytes
	}
	r.store = openTarget(t, tg, ho)
	return r
}

// step runs step i and checks its expectation and, when given, the events
// it made.
func (r *runner) step(i int, s *step) error {
	if s.Time != nil {
		r.now.Store(*s.Time)
	} else {
		r.now.Store(baseTime + 1000*int64(i))
	}
	var before uint64
	if s.Events != nil {
		st, err := r.store.Stats(r.ctx)
		if err != nil {
			return fmt.Errorf("stats before the step: %v", err)
		}
		before = st.CurrentSequence
	}
	if err := r.do(s); err != nil {
		return err
	}
	if s.Events == nil {
		return nil
	}
	return r.checkMade(before, *s.Events)
}

// checkMade checks that the events after sequence before are want.
func (r *runner) checkMade(before uint64, want []eventSpec) error {
	page, err := r.store.Changes(r.ctx, before, host.Filter{}, 1<<20)
	if err != nil {
		return fmt.Errorf("reading the step's events: %v", err)
	}
	if err := checkEvents(want, page.Events); err != nil {
		return fmt.Errorf("step events: %v", err)
	}
	return nil
}

// do runs the step's operation and checks its expectation.
func (r *runner) do(s *step) error {
	ctx, st := r.ctx, r.store
	switch s.Op {
	case "insert":
		a, err := st.Insert(ctx, s.Type.s, s.ID.s, inputValue(s.Value, s.ValueHex))
		return checkWrite(s.Expect, a, err)
	case "update":
		a, err := st.Update(ctx, s.Type.s, s.ID.s, inputValue(s.Value, s.ValueHex))
		return checkWrite(s.Expect, a, err)
	case "updateVersioned":
		a, err := st.UpdateVersioned(ctx, s.Type.s, s.ID.s, inputValue(s.Value, s.ValueHex), *s.Expected)
		return checkWrite(s.Expect, a, err)
	case "get":
		a, ok, err := st.Get(ctx, s.Type.s, s.ID.s)
		return checkLookup(s.Expect, a, ok, err)
	case "delete":
		a, ok, err := st.Delete(ctx, s.Type.s, s.ID.s)
		return checkLookup(s.Expect, a, ok, err)
	case "getAll":
		return r.getAll(s)
	case "changes":
		return r.changes(s)
	case "batch":
		return r.batch(s)
	case "stats":
		got, err := st.Stats(ctx)
		if err != nil {
			return err
		}
		return checkStats(s.Expect.Stats, got)
	case "subscribe":
		return r.subscribe(s)
	}
	return fmt.Errorf("unknown op %q", s.Op)
}

// checkWrite checks the result of an insert or update; without an
// expectation the write must succeed.
func checkWrite(want *expectation, a host.Actor, err error) error {
	if done, mismatch := checkOutcome(want, err, "an actor"); done {
		return mismatch
	}
	return checkActor(want.Actor, a)
}

func (r *runner) getAll(s *step) error {
	as, err := r.store.GetAll(r.ctx, s.Type.s)
	if s.Expect.Error != nil {
		return checkError(s.Expect.Error, err)
	}
	if err != nil {
		return fmt.Errorf("error %v", err)
	}
	return checkActors(*s.Expect.Actors, as)
}

func (r *runner) changes(s *step) error {
	limit := 0
	if s.Limit != nil {
		limit = *s.Limit
	}
	f := host.Filter{ActorType: s.ActorType.str(), KeyPrefix: s.KeyPrefix.str()}
	page, err := r.store.Changes(r.ctx, *s.Since, f, limit)
	if s.Expect.Error != nil {
		return checkError(s.Expect.Error, err)
	}
	if err != nil {
		return fmt.Errorf("error %v", err)
	}
	if err := checkEvents(*s.Expect.Events, page.Events); err != nil {
		return err
	}
	if page.Next != *s.Expect.Next {
		return fmt.Errorf("next %d, want %d", page.Next, *s.Expect.Next)
	}
	return nil
}

func (r *runner) batch(s *step) error {
	ops := make([]host.BatchOp, len(*s.Ops))
	for i, o := range *s.Ops {
		ops[i] = hostBatchOp(&o)
	}
	rs, err := r.store.Batch(r.ctx, ops...)
	switch {
	case s.Expect == nil && err != nil:
		return fmt.Errorf("error %v, want success", err)
	case s.Expect == nil:
		return nil
	case s.Expect.Error != nil:
		return checkError(s.Expect.Error, err)
	case err != nil:
		return fmt.Errorf("error %v, want results", err)
	}
	return checkResults(*s.Expect.Results, rs)
}

// hostBatchOp converts a vector's batch operation.
func hostBatchOp(o *batchOp) host.BatchOp {
	if o.Op == "delete" {
		return host.DeleteOp(o.Type.s, o.ID.s)
	}
	var expected uint64
	if o.Expected != nil {
		expected = *o.Expected
	}
	return namedBatchOp(o.Op, o.Type.s, o.ID.s, inputValue(o.Value, o.ValueHex), expected)
}

// namedBatchOp builds a batch operation from its name in vectors, cross-host
// scripts and the model ("insert", "update", "updateVersioned", anything
// else a delete); expected is used by updateVersioned only.
func namedBatchOp(op, typ, id string, v any, expected uint64) host.BatchOp {
	switch op {
	case "insert":
		return host.InsertOp(typ, id, v)
	case "update":
		return host.UpdateOp(typ, id, v)
	case "updateVersioned":
		return host.UpdateVersionedOp(typ, id, v, expected)
	}
	return host.DeleteOp(typ, id)
}

// startPosition converts a vector's subscription start.
func startPosition(f *startFrom) host.StartPosition {
	switch f.kind {
	case "now":
		return host.FromNow()
	case "sequence":
		return host.FromSequence(uint64(f.n))
	case "time":
		return host.FromTime(time.UnixMilli(f.n))
	}
	return host.FromBeginning()
}

// subscribe checks what a new subscription delivers from the store's
// current state: the expected events and then nothing, or the expected
// error from Subscribe or from the first Next.
func (r *runner) subscribe(s *step) error {
	o := host.SubscriptionOptions{Start: startPosition(s.From),
		Filter: host.Filter{ActorType: s.ActorType.str(), KeyPrefix: s.KeyPrefix.str()}}
	sub, err := r.store.Subscribe(r.ctx, o)
	if err != nil {
		if s.Expect.Error != nil {
			return checkError(s.Expect.Error, err)
		}
		return fmt.Errorf("subscribe: %v", err)
	}
	defer sub.Close()
	if s.Expect.Error != nil {
		_, err := next(r.ctx, sub, eventWait)
		return checkError(s.Expect.Error, err)
	}
	got, err := readEvents(r.ctx, sub, len(*s.Expect.Events))
	if err != nil {
		return fmt.Errorf("after %d events %s: %v", len(got), eventList(got), err)
	}
	if err := checkEvents(*s.Expect.Events, got); err != nil {
		return err
	}
	if ev, err := next(r.ctx, sub, silenceWait); !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("after the expected events: got %s, err %v; want nothing more", eventList([]host.ChangeEvent{ev}), err)
	}
	return nil
}

// readEvents reads n events from sub.
func readEvents(ctx context.Context, sub host.Subscription, n int) ([]host.ChangeEvent, error) {
	var got []host.ChangeEvent
	for range n {
		ev, err := next(ctx, sub, eventWait)
		if err != nil {
			return got, err
		}
		got = append(got, ev)
	}
	return got, nil
}

// next reads one event, waiting at most d.
func next(ctx context.Context, sub host.Subscription, d time.Duration) (host.ChangeEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return sub.Next(ctx)
}
