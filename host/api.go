package host

import "context"

// API is the store's methods, defined once: an embedded *Store, the
// remote client (package client) and a node of a replicated cluster
// (package cluster) all satisfy it, and behave the same through it, so
// code written against API runs unchanged on each.
type API interface {
	// Insert creates an actor at version 0; ErrAlreadyExists when it exists.
	Insert(ctx context.Context, typ, id string, value any) (Actor, error)
	// Get returns the actor, or ok false when it does not exist.
	Get(ctx context.Context, typ, id string) (a Actor, ok bool, err error)
	// Update replaces an actor's value; ErrNotFound when it does not exist.
	Update(ctx context.Context, typ, id string, value any) (Actor, error)
	// UpdateVersioned updates only when the actor is at version expected;
	// otherwise a *VersionMismatchError (errors.Is ErrVersionMismatch).
	UpdateVersioned(ctx context.Context, typ, id string, value any, expected uint64) (Actor, error)
	// Delete removes an actor and returns it; ok false when it was absent.
	Delete(ctx context.Context, typ, id string) (a Actor, ok bool, err error)
	// GetAll returns every actor of a type, ordered by id.
	GetAll(ctx context.Context, typ string) ([]Actor, error)
	// Batch applies ops atomically, in order.
	Batch(ctx context.Context, ops ...BatchOp) ([]BatchResult, error)
	// Changes reads a page of the change feed after since.
	Changes(ctx context.Context, since uint64, f Filter, limit int) (ChangePage, error)
	// Subscribe follows the change feed.
	Subscribe(ctx context.Context, o SubscriptionOptions) (Subscription, error)
	// Stats reports the store's counters.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the store (or the connection to it).
	Close(ctx context.Context) error
}

var _ API = (*Store)(nil)
