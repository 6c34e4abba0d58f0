package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/hashicorp/raft"

	"github.com/actorstore/actorstore/host"
)

// fsm applies committed commands to an in-memory store. Apply is single
// threaded (raft's FSM goroutine): the store's clock is set to each
// command's timestamp before it is applied, so every node makes the same
// events with the same timestamps, and refuses the same writes.
type fsm struct {
	store *host.Store
	now   atomic.Int64 // the store's clock: the command being applied

	snaps raft.SnapshotStore

	index atomic.Uint64 // the last log index applied
	mu    sync.Mutex
	wake  chan struct{} // closed, and replaced, when index moves
}

func newFSM(ctx context.Context, o host.Options) (*fsm, error) {
	f := &fsm{wake: make(chan struct{})}
	o.Clock = func() time.Time { return time.Unix(0, f.now.Load()) }
	s, err := host.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	f.store = s
	return f, nil
}

// result is what applying a command gave: the caller gets it from
// ApplyFuture.Response.
type result struct {
	actor host.Actor
	found bool
	batch []host.BatchResult
	err   error
}

var _ raft.BatchingFSM = (*fsm)(nil)
var _ raft.ConfigurationStore = (*fsm)(nil)

func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = f.apply(l.Data)
		}
	}
	if len(logs) > 0 {
		f.advance(logs[len(logs)-1].Index)
	}
	return out
}

// StoreConfiguration notes the index of configuration entries, which move
// the applied index too.
func (f *fsm) StoreConfiguration(index uint64, _ raft.Configuration) { f.advance(index) }

func (f *fsm) advance(index uint64) {
	f.mu.Lock()
	if index > f.index.Load() {
		f.index.Store(index)
		close(f.wake)
		f.wake = make(chan struct{})
	}
	f.mu.Unlock()
}

// waitIndex waits until the FSM has applied index, or ctx ends. Entries
// the FSM never sees (raft's no-ops and barriers) are counted when the
// next entry it sees comes; a read waiting for one of those is let
// through by its own barrier (readIndexLocal), which raft applies.
func (f *fsm) waitIndex(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		w := f.wake
		f.mu.Unlock()
		if f.index.Load() >= index {
			return nil
		}
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fsm) apply(data []byte) *result {
	c, err := decodeCommand(data)
	if err != nil {
		return &result{err: fmt.Errorf("%w: %v", host.ErrInternal, err)}
	}
	ctx := context.Background()
	if c.hasKey {
		ctx = host.WithIdempotencyKey(ctx, c.key)
	}
	f.now.Store(c.ts)
	r := &result{}
	switch c.kind {
	case cmdWrite:
		o := &c.ops[0]
		v := cbor.RawMessage(o.value)
		switch o.kind {
		case opInsert:
			r.actor, r.err = f.store.Insert(ctx, o.typ, o.id, v)
		case opUpdate:
			r.actor, r.err = f.store.Update(ctx, o.typ, o.id, v)
		case opUpdateVersioned:
			r.actor, r.err = f.store.UpdateVersioned(ctx, o.typ, o.id, v, o.expected)
		case opDelete:
			r.actor, r.found, r.err = f.store.Delete(ctx, o.typ, o.id)
		}
	case cmdBatch:
		r.batch, r.err = f.store.Batch(ctx, batchOps(c.ops)...)
	case cmdRestore:
		r.err = f.store.Restore(ctx, bytes.NewReader(c.snap))
	}
	return r
}

// batchOps turns a command's operations into the store's.
func batchOps(ops []op) []host.BatchOp {
	out := make([]host.BatchOp, len(ops))
	for i := range ops {
		o := &ops[i]
		v := cbor.RawMessage(o.value)
		switch o.kind {
		case opInsert:
			out[i] = host.InsertOp(o.typ, o.id, v)
		case opUpdate:
			out[i] = host.UpdateOp(o.typ, o.id, v)
		case opUpdateVersioned:
			out[i] = host.UpdateVersionedOp(o.typ, o.id, v, o.expected)
		case opDelete:
			out[i] = host.DeleteOp(o.typ, o.id)
		}
	}
	return out
}

// Snapshot captures the store's state now, copy-on-write: Persist
// streams it while commands go on being applied.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	c, err := f.store.CaptureSnapshot(context.Background())
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{c: c}, nil
}

// Restore replaces the store's state with a snapshot's: the newest in
// the snapshot store, where raft puts the one it restores.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(context.Background(), rc); err != nil {
		return err
	}
	if f.snaps != nil {
		if metas, err := f.snaps.List(); err == nil && len(metas) > 0 {
			f.advance(metas[0].Index)
		}
	}
	return nil
}

type fsmSnapshot struct{ c *host.CapturedSnapshot }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.c.WriteTo(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.c.Close() }
