package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/actorstore/actorstore/host"
)

// query parses the query string and refuses parameters not in allowed,
// repeated ones, and bad encoding, so that a typo is an error rather
// than silently ignored.
func query(r *request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "malformed query string: %v", err)
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "unknown query parameter %q: this route takes none", k)
			}
			return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "unknown query parameter %q; this route takes %s", k, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "query parameter %q given %d times", k, len(v))
		}
	}
	return q, nil
}

// noQuery refuses any query parameter but the allowed ones.
func noQuery(r *request, allowed ...string) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	_, err := query(r, allowed...)
	return err
}

// intParam reads an integer parameter in [lo, hi], def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < lo || n > hi {
		return 0, errorf(http.StatusBadRequest, codeInvalidArgument, "%s must be an integer from %d to %d; got %q", name, lo, hi, v[0])
	}
	return n, nil
}

// uintParam reads an unsigned 64-bit parameter, def when absent.
func uintParam(q url.Values, name string, def uint64) (uint64, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, codeInvalidArgument, "%s must be an unsigned integer; got %q", name, v[0])
	}
	return n, nil
}

// Consistency is the consistency a read asks for with ?consistency=.
type Consistency string

// Read consistency levels (see DESIGN.md, "HTTP API").
const (
	// Linearizable reads reflect every write acknowledged before they
	// began, from any node. The default.
	Linearizable Consistency = "linearizable"
	// Leader reads the leader's state without a quorum round.
	Leader Consistency = "leader"
	// Local reads this node's state, which may be behind.
	Local Consistency = "local"
)

type consistencyKey struct{}

// WithConsistency returns a context carrying a read's consistency level.
// The server puts the ?consistency= of each read there, for stores that
// offer levels (a cluster node); an embedded store has one level and
// ignores it.
func WithConsistency(ctx context.Context, c Consistency) context.Context {
	return context.WithValue(ctx, consistencyKey{}, c)
}

// ConsistencyFrom returns the consistency level ctx carries, Linearizable
// when none.
func ConsistencyFrom(ctx context.Context) Consistency {
	if c, ok := ctx.Value(consistencyKey{}).(Consistency); ok {
		return c
	}
	return Linearizable
}

// readContext is the request's context with its consistency level.
func readContext(r *request) (context.Context, error) {
	ctx := r.Context()
	if !strings.Contains(r.URL.RawQuery, "consistency") {
		return ctx, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "malformed query string: %v", err)
	}
	v, ok := q["consistency"]
	if !ok {
		return ctx, nil
	}
	switch c := Consistency(v[0]); c {
	case Linearizable, Leader, Local:
		return WithConsistency(ctx, c), nil
	}
	return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "consistency must be linearizable, leader or local; got %q", v[0])
}

// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
const MaxIdempotencyKeyLen = 255

// writeContext is the request's context with its idempotency key, after
// checking it: 1 to 255 bytes of visible ASCII.
func writeContext(r *request) (context.Context, error) {
	if err := noQuery(r); err != nil {
		return nil, err
	}
	vs := r.Header.Values("Idempotency-Key")
	if len(vs) == 0 {
		return r.Context(), nil
	}
	if len(vs) > 1 {
		return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "Idempotency-Key given %d times", len(vs))
	}
	k := vs[0]
	if err := checkIdempotencyKey(k); err != nil {
		return nil, err
	}
	return host.WithIdempotencyKey(r.Context(), k), nil
}

func checkIdempotencyKey(k string) error {
	if len(k) == 0 || len(k) > MaxIdempotencyKeyLen {
		return errorf(http.StatusBadRequest, codeInvalidArgument, "Idempotency-Key must be 1 to %d characters; got %d", MaxIdempotencyKeyLen, len(k))
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x21 || c > 0x7e {
			return errorf(http.StatusBadRequest, codeInvalidArgument, "Idempotency-Key must be visible ASCII characters (no spaces); byte %d is 0x%02x", i, c)
		}
	}
	return nil
}
