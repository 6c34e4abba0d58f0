package host

import "context"

// idempotencyKey is the context key of WithIdempotencyKey.
type idempotencyKey struct{}

// WithIdempotencyKey returns a context carrying key, the idempotency key
// of the write made with it: a store that remembers keys applies a write
// with a key it has seen at most once, and answers a retry with the first
// outcome. The remote client sends it as the Idempotency-Key header, and
// the server puts that header's value back on the request's context.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// IdempotencyKey returns the idempotency key ctx carries, if any.
func IdempotencyKey(ctx context.Context) (string, bool) {
	k, ok := ctx.Value(idempotencyKey{}).(string)
	return k, ok
}
