package host

import (
	"bytes"
	"context"

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
	restoreEnd() (core.Stats, *core.Error)
	restoreAbort()
}

// nativeEngine runs the core directly. It copies values on the way out so
// that callers cannot reach the stored bytes, as the wasm engine cannot.
type nativeEngine struct {
	s    *core.Store
	snap *core.Snapshot
	rest *core.Restorer
}

var _ engine = (*nativeEngine)(nil)

func newNative(o core.Options) (*nativeEngine, *core.Error) {
	s, err := core.New(o)
	if err != nil {
		return nil, err
	}
	return &nativeEngine{s: s}, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

func (n *nativeEngine) apply(op *core.Op, ts int64) (core.Result, *core.Error) {
	r, err := n.s.Apply(op, ts)
	r.Actor.Value = clone(r.Actor.Value) // the store keeps op.Value
	return r, err
}

func (n *nativeEngine) get(typ, id string) (core.Actor, bool, *core.Error) {
	a, ok, err := n.s.Lookup(typ, id)
	a.Value = clone(a.Value)
	return a, ok, err
}

func (n *nativeEngine) scan(typ, after string, maxBytes int) ([]core.Actor, bool, *core.Error) {
	if err := core.CheckType(typ); err != nil {
		return nil, false, err
	}
	var out []core.Actor
	size, more := 0, false
	n.s.Scan(typ, after, func(a *core.Actor) bool {
		if len(out) > 0 && size >= maxBytes {
			more = true
			return false
		}
		out = append(out, core.Actor{Type: a.Type, ID: a.ID, Value: clone(a.Value), Version: a.Version})
		size += len(a.ID) + len(a.Value) + 16
		return true
	})
	return out, more, nil
}

func (n *nativeEngine) changes(since uint64, f core.Filter, limit, maxBytes int) (core.Page, *core.Error) {
	var p core.Page
	next, err := n.s.ScanChanges(since, f, limit, int64(maxBytes), func(e *core.Event) {
		c := *e
		c.Prev, c.New = clone(e.Prev), clone(e.New)
		p.Events = append(p.Events, c)
	})
	p.Next = next
	return p, err
}

func (n *nativeEngine) sequenceAtTime(ts int64) (uint64, *core.Error) {
	return n.s.SequenceAtTime(ts), nil
}

func (n *nativeEngine) batch(ops []core.Op, ts int64) ([]core.Result, *core.Error) {
	rs, err := n.s.Batch(ops, ts)
	for i := range rs {
		rs[i].Actor.Value = clone(rs[i].Actor.Value)
	}
	return rs, err
}

func (n *nativeEngine) stats() (core.Stats, *core.Error) { return n.s.Stats(), nil }

func (n *nativeEngine) close(context.Context) error { return nil }

func (n *nativeEngine) replay(rec []byte) (first, last uint64, err *core.Error) {
	return n.s.Replay(bytes.Clone(rec)) // the store keeps its values
}

func (n *nativeEngine) snapshotBegin() (core.SnapshotInfo, *core.Error) {
	n.snapshotEnd()
	n.snap = n.s.Snapshot()
	return n.snap.Info(), nil
}

func (n *nativeEngine) snapshotNext(limit int) ([]byte, *core.Error) {
	if n.snap == nil {
		return nil, &core.Error{Code: core.InvalidArgument, Index: -1, Msg: "invalid argument: no snapshot in progress"}
	}
	return n.snap.Next(nil, limit), nil
}

func (n *nativeEngine) snapshotEnd() {
	if n.snap != nil {
		n.snap.Close()
		n.snap = nil
	}
}

func (n *nativeEngine) restoreBegin() *core.Error {
	r, err := core.NewRestorer(n.s.Options())
	n.rest = r
	return err
}

func (n *nativeEngine) restoreWrite(p []byte) *core.Error {
	if n.rest == nil {
		return &core.Error{Code: core.InvalidArgument, Index: -1, Msg: "invalid argument: no restore in progress"}
	}
	err := n.rest.Write(p)
	if err != nil {
		n.rest = nil
	}
	return err
}

func (n *nativeEngine) restoreEnd() (core.Stats, *core.Error) {
	if n.rest == nil {
		return core.Stats{}, &core.Error{Code: core.InvalidArgument, Index: -1, Msg: "invalid argument: no restore in progress"}
	}
	s, err := n.rest.Finish()
	n.rest = nil
	if err != nil {
		return core.Stats{}, err
	}
	n.s = s
	return s.Stats(), nil
}

func (n *nativeEngine) restoreAbort() { n.rest = nil }
