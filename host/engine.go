package host

import (
	"bytes"
	"context"
	"strings"

	"github.com/actorstore/actorstore/core"
)

// engine is what Store drives: the core in-process or inside the wasm
// module. Calls are serialized by Store. Byte slices and strings returned
// belong to the caller.
type engine interface {
	apply(op *core.Op, ts int64) (core.Result, *core.Error)
	get(typ, id string) (core.Actor, bool, *core.Error)
	// scan returns actors of typ after the id after, up to about maxBytes,
	// and whether more remain.
	scan(typ, after string, maxBytes int) ([]core.Actor, bool, *core.Error)
	changes(since uint64, f core.Filter, limit, maxBytes int) (core.Page, *core.Error)
	sequenceAtTime(ts int64) (uint64, *core.Error)
	batch(ops []core.Op, ts int64) ([]core.Result, *core.Error)
	// keyed applies ops under an idempotency key, as one write (batch
	// false: ops holds one) or a batch; repeated reports a remembered
	// answer, for which nothing was applied.
	keyed(key string, ops []core.Op, batch bool, ts int64) (rs []core.Result, repeated bool, err *core.Error)
	stats() (core.Stats, *core.Error)
	close(ctx context.Context) error

	// replay applies a mutation record (core.AppendRecord).
	replay(rec []byte) (first, last uint64, err *core.Error)
	// snapshotBegin starts a copy-on-write snapshot; snapshotNext returns
	// its next chunk of about limit bytes, empty once it is complete.
	snapshotBegin() (core.SnapshotInfo, *core.Error)
	snapshotNext(limit int) ([]byte, *core.Error)
	snapshotEnd()
	// restoreBegin starts building a store from a snapshot stream;
	// restoreEnd puts it in place when the stream was whole and valid.
	restoreBegin() *core.Error
	restoreWrite(p []byte) *core.Error
	restoreEnd() (sequence uint64, err *core.Error)
	restoreAbort()
}

// renewable is an engine that can lose its state — a wasm guest that
// trapped — and be replaced by a new, empty one with the same options
// (durable stores then rebuild it from their directory).
type renewable interface {
	lost() bool
	renew(ctx context.Context) (engine, error)
}

// nativeEngine runs the core directly: a core.Engine, as the module is.
// It copies values, types and ids on the way out: what the core hands out
// shares its memory, which later writes reuse.
type nativeEngine struct {
	e *core.Engine
}

var _ engine = (*nativeEngine)(nil)

func newNative(o core.Options) (*nativeEngine, *core.Error) {
	e, err := core.NewEngine(o)
	if err != nil {
		return nil, err
	}
	return &nativeEngine{e: e}, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// own returns a copy of a that shares nothing with the store, taking its
// type and id from typ and id when they are equal.
func own(a core.Actor, typ, id string) core.Actor {
	return core.Actor{Type: ownString(a.Type, typ), ID: ownString(a.ID, id), Value: clone(a.Value), Version: a.Version}
}

func ownString(s, like string) string {
	if s == like {
		return like
	}
	return strings.Clone(s)
}

func (n *nativeEngine) apply(op *core.Op, ts int64) (core.Result, *core.Error) {
	r, err := n.e.Store().Apply(op, ts)
	r.Actor = own(r.Actor, op.Type, op.ID)
	return r, err
}

func (n *nativeEngine) get(typ, id string) (core.Actor, bool, *core.Error) {
	a, ok, err := n.e.Store().Lookup(typ, id)
	return own(a, typ, id), ok, err
}

func (n *nativeEngine) scan(typ, after string, maxBytes int) ([]core.Actor, bool, *core.Error) {
	var out []core.Actor
	more, err := n.e.Store().ScanPage(typ, after, maxBytes, func(a *core.Actor) {
		out = append(out, own(*a, typ, ""))
	})
	return out, more, err
}

func (n *nativeEngine) changes(since uint64, f core.Filter, limit, maxBytes int) (core.Page, *core.Error) {
	var p core.Page
	var typ string // the latest type, shared by the events of a page
	next, err := n.e.Store().ScanChanges(since, f, limit, int64(maxBytes), func(e *core.Event) {
		c := *e
		if c.Type != typ {
			typ = strings.Clone(c.Type)
		}
		c.Type, c.ID = typ, strings.Clone(c.ID)
		c.Prev, c.New = clone(e.Prev), clone(e.New)
		p.Events = append(p.Events, c)
	})
	p.Next = next
	return p, err
}

func (n *nativeEngine) sequenceAtTime(ts int64) (uint64, *core.Error) {
	return n.e.Store().SequenceAtTime(ts), nil
}

func (n *nativeEngine) batch(ops []core.Op, ts int64) ([]core.Result, *core.Error) {
	rs, err := n.e.Store().Batch(ops, ts)
	for i := range rs {
		rs[i].Actor = own(rs[i].Actor, ops[i].Type, ops[i].ID)
	}
	return rs, err
}

func (n *nativeEngine) keyed(key string, ops []core.Op, batch bool, ts int64) ([]core.Result, bool, *core.Error) {
	var rs []core.Result
	var repeated bool
	var err *core.Error
	if batch {
		rs, repeated, err = n.e.Store().BatchKeyed(key, ops, ts)
	} else {
		var r core.Result
		r, repeated, err = n.e.Store().ApplyKeyed(key, &ops[0], ts)
		rs = []core.Result{r}
	}
	for i := range rs {
		rs[i].Actor.Value = clone(rs[i].Actor.Value)
	}
	return rs, repeated, err
}

func (n *nativeEngine) stats() (core.Stats, *core.Error) { return n.e.Store().Stats(), nil }

func (n *nativeEngine) close(context.Context) error { return nil }

func (n *nativeEngine) replay(rec []byte) (first, last uint64, err *core.Error) {
	return n.e.Store().Replay(rec)
}

func (n *nativeEngine) snapshotBegin() (core.SnapshotInfo, *core.Error) {
	return n.e.SnapshotBegin(), nil
}

func (n *nativeEngine) snapshotNext(limit int) ([]byte, *core.Error) {
	return n.e.SnapshotNext(nil, limit)
}

func (n *nativeEngine) snapshotEnd() { n.e.SnapshotEnd() }

func (n *nativeEngine) restoreBegin() *core.Error { return n.e.RestoreBegin() }

func (n *nativeEngine) restoreWrite(p []byte) *core.Error { return n.e.RestoreWrite(p) }

func (n *nativeEngine) restoreEnd() (uint64, *core.Error) {
	st, err := n.e.RestoreEnd()
	return st.CurrentSequence, err
}

func (n *nativeEngine) restoreAbort() { n.e.RestoreAbort() }
