package cluster

import (
	"context"
	"fmt"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// writeOp turns a store write into a one-op command, or returns the
// error the store gives a value it cannot encode.
func writeOp(kind byte, o host.BatchOp) (*command, error) {
	v, err := o.Value()
	if err != nil {
		return nil, err
	}
	if kind == opDelete {
		v = nil
	} else if v == nil {
		v = []byte{}
	}
	return &command{kind: cmdWrite, ops: []op{{kind: kind, typ: o.Type(), id: o.ID(), expected: o.ExpectedVersion(), value: v}}}, nil
}

func (n *Node) write(ctx context.Context, kind byte, o host.BatchOp) (host.Actor, bool, error) {
	c, err := writeOp(kind, o)
	if err != nil {
		return host.Actor{}, false, err
	}
	r, err := n.apply(ctx, c)
	if err != nil {
		return host.Actor{}, false, err
	}
	return r.actor, r.found, r.err
}

// Insert creates an actor at version 0, through the log.
func (n *Node) Insert(ctx context.Context, typ, id string, value any) (host.Actor, error) {
	a, _, err := n.write(ctx, opInsert, host.InsertOp(typ, id, value))
	return a, err
}

// Update replaces an actor's value, through the log.
func (n *Node) Update(ctx context.Context, typ, id string, value any) (host.Actor, error) {
	a, _, err := n.write(ctx, opUpdate, host.UpdateOp(typ, id, value))
	return a, err
}

// UpdateVersioned is a compare-and-swap decided by the log's order: every
// node refuses or applies it alike.
func (n *Node) UpdateVersioned(ctx context.Context, typ, id string, value any, expected uint64) (host.Actor, error) {
	a, _, err := n.write(ctx, opUpdateVersioned, host.UpdateVersionedOp(typ, id, value, expected))
	return a, err
}

// Delete removes an actor, through the log.
func (n *Node) Delete(ctx context.Context, typ, id string) (host.Actor, bool, error) {
	return n.write(ctx, opDelete, host.DeleteOp(typ, id))
}

var _ server.Lister = (*Node)(nil)

var opKinds = map[string]byte{"insert": opInsert, "update": opUpdate, "updateVersioned": opUpdateVersioned, "delete": opDelete}

// Batch applies ops atomically as one command.
func (n *Node) Batch(ctx context.Context, ops ...host.BatchOp) ([]host.BatchResult, error) {
	c := &command{kind: cmdBatch, ops: make([]op, len(ops))}
	invalid := core.CheckBatchLen(len(ops)) != nil
	for i, o := range ops {
		k, ok := opKinds[o.Kind()]
		v, err := o.Value()
		if !ok || err != nil {
			invalid = true
			break
		}
		if k == opDelete {
			v = nil
		} else if v == nil {
			v = []byte{}
		}
		c.ops[i] = op{kind: k, typ: o.Type(), id: o.ID(), expected: o.ExpectedVersion(), value: v}
	}
	if invalid {
		// The store refuses such a batch before looking at its state
		// (its length, an op not made by the constructors, a value that
		// could not be encoded): ask it, for its exact error, without
		// logging anything.
		_, err := n.store.Batch(ctx, ops...)
		if err == nil {
			err = fmt.Errorf("%w: batch refused", host.ErrInvalidArgument)
		}
		return nil, err
	}
	r, err := n.apply(ctx, c)
	if err != nil {
		return nil, err
	}
	return r.batch, r.err
}

// Get reads an actor after the read barrier of the request's consistency.
func (n *Node) Get(ctx context.Context, typ, id string) (host.Actor, bool, error) {
	if err := n.readBarrier(ctx); err != nil {
		return host.Actor{}, false, err
	}
	return n.store.Get(ctx, typ, id)
}

// GetAll reads every actor of a type after the read barrier.
func (n *Node) GetAll(ctx context.Context, typ string) ([]host.Actor, error) {
	if err := n.readBarrier(ctx); err != nil {
		return nil, err
	}
	return n.store.GetAll(ctx, typ)
}

// Changes reads this node's change feed (the same on every node) after
// the read barrier.
func (n *Node) Changes(ctx context.Context, since uint64, f host.Filter, limit int) (host.ChangePage, error) {
	if err := n.readBarrier(ctx); err != nil {
		return host.ChangePage{}, err
	}
	return n.store.Changes(ctx, since, f, limit)
}

// List reads a page of a type's actors, ordered by id, after the read
// barrier (host.Store.List).
func (n *Node) List(ctx context.Context, typ, after string, limit int) ([]host.Actor, string, error) {
	if err := n.readBarrier(ctx); err != nil {
		return nil, "", err
	}
	return n.store.List(ctx, typ, after, limit)
}

// Subscribe follows this node's change feed: the same events, with the
// same sequence numbers, as on every other node. It starts after the
// read barrier, so that "now" on a follower is no earlier than every
// write acknowledged before the call.
func (n *Node) Subscribe(ctx context.Context, o host.SubscriptionOptions) (host.Subscription, error) {
	if err := n.readBarrier(ctx); err != nil {
		return nil, err
	}
	return n.store.Subscribe(ctx, o)
}

// Stats reports this node's store after the read barrier.
func (n *Node) Stats(ctx context.Context) (host.Stats, error) {
	if err := n.readBarrier(ctx); err != nil {
		return host.Stats{}, err
	}
	return n.store.Stats(ctx)
}
