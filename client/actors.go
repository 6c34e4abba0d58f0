package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/host"
)

// listPage is how many actors GetAll asks for per request.
const listPage = 1000

func actorPath(typ, id string) string {
	return "/v1/actors/" + url.PathEscape(typ) + "/" + url.PathEscape(id)
}

// isCBOR checks that a 2xx answer is CBOR.
func isCBOR(r *response) error {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if mt != cborType {
		return fmt.Errorf("actorstore: the server answered %q, not %s", r.header.Get("Content-Type"), cborType)
	}
	return nil
}

// decode reads a 2xx CBOR answer holding no stored value into v.
func decode(r *response, v any) error {
	if err := isCBOR(r); err != nil {
		return err
	}
	if err := wireDec.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("actorstore: undecodable answer: %v", err)
	}
	return nil
}

// read reads a 2xx CBOR answer holding stored values with readFn.
func read[T any](r *response, readFn func([]byte) (T, error)) (T, error) {
	if err := isCBOR(r); err != nil {
		var zero T
		return zero, err
	}
	v, err := readFn(r.body)
	if err != nil {
		return v, fmt.Errorf("actorstore: undecodable answer: %v", err)
	}
	return v, nil
}

// write sends a single-actor write. Checks run in the store's order: the
// value's encoding, then the key (here, where the server would refuse it
// the same way), then what only the server knows.
func (c *Client) write(ctx context.Context, method, typ, id string, value any, hdr http.Header) (host.Actor, error) {
	v, err := host.EncodeValue(value)
	if err != nil {
		return host.Actor{}, err
	}
	if err := coreError(core.CheckKey(typ, id)); err != nil {
		return host.Actor{}, err
	}
	r, err := c.do(ctx, &request{method: method, path: actorPath(typ, id), body: v, ctype: cborType, header: hdr, write: true})
	if err != nil {
		return host.Actor{}, err
	}
	return read(r, readActor)
}

// Insert creates an actor at version 0 holding value, encoded as CBOR as
// host.Store.Insert does (a cbor.RawMessage is sent as is).
//
// # Errors
//
// host.ErrAlreadyExists when it exists; host.ErrInvalidKey,
// host.ErrInvalidValue, host.ErrValueTooLarge, host.ErrStoreFull for
// input the store cannot take; ErrUnauthorized, ErrUnavailable, network
// errors.
func (c *Client) Insert(ctx context.Context, typ, id string, value any) (host.Actor, error) {
	return c.write(ctx, http.MethodPost, typ, id, value, nil)
}

// Update replaces an actor's value; host.ErrNotFound when it does not
// exist.
func (c *Client) Update(ctx context.Context, typ, id string, value any) (host.Actor, error) {
	return c.write(ctx, http.MethodPut, typ, id, value, nil)
}

// UpdateVersioned updates the actor only if its version is expected
// (If-Match); otherwise a *host.VersionMismatchError carrying the actual
// version (errors.Is host.ErrVersionMismatch).
func (c *Client) UpdateVersioned(ctx context.Context, typ, id string, value any, expected uint64) (host.Actor, error) {
	hdr := http.Header{"If-Match": {`"` + strconv.FormatUint(expected, 10) + `"`}}
	return c.write(ctx, http.MethodPut, typ, id, value, hdr)
}

// Delete removes an actor and returns it; ok is false when it was absent.
func (c *Client) Delete(ctx context.Context, typ, id string) (a host.Actor, ok bool, err error) {
	return c.lookup(ctx, http.MethodDelete, typ, id)
}

// Get returns the actor, or ok false when it does not exist.
func (c *Client) Get(ctx context.Context, typ, id string) (a host.Actor, ok bool, err error) {
	return c.lookup(ctx, http.MethodGet, typ, id)
}

// lookup is Get or Delete: an actor, or absent on a NOT_FOUND answer.
func (c *Client) lookup(ctx context.Context, method, typ, id string) (host.Actor, bool, error) {
	if err := coreError(core.CheckKey(typ, id)); err != nil {
		return host.Actor{}, false, err
	}
	del := method == http.MethodDelete
	r, err := c.do(ctx, &request{method: method, path: actorPath(typ, id), write: del, read: !del})
	var e *Error
	if errors.As(err, &e) && e.Code == "NOT_FOUND" {
		return host.Actor{}, false, nil
	}
	if err != nil {
		return host.Actor{}, false, err
	}
	a, err := read(r, readActor)
	if err != nil {
		return host.Actor{}, false, err
	}
	return a, true, nil
}

// GetAll returns every actor of a type, ordered by id. It pages through
// the list route, 1000 actors a request: unlike host.Store.GetAll it is
// not one consistent view when writes land meanwhile.
func (c *Client) GetAll(ctx context.Context, typ string) ([]host.Actor, error) {
	if err := coreError(core.CheckType(typ)); err != nil {
		return nil, err
	}
	out := []host.Actor{}
	after := ""
	for {
		page, next, err := c.List(ctx, typ, after, listPage)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" || len(page) == 0 {
			return out, nil
		}
		after = next
	}
}

// maxListPage is the most actors the server gives per request; larger
// limits are read in several requests.
const maxListPage = 10_000

// List returns a page of the actors of a type with ids after after (all
// from the first when after is ""), ordered by id, as host.Store.List
// does: up to limit of them (0 means host.DefaultListLimit), fewer when
// they are large (host.ListPageBytes), and next, the last id of the page
// when more follow (pass it as after), else "". A limit over 10,000 is
// read in several requests, and is one consistent view only when no
// write lands meanwhile.
//
// # Errors
//
// host.ErrInvalidArgument for a negative limit; host.ErrInvalidKey for an
// invalid type.
func (c *Client) List(ctx context.Context, typ, after string, limit int) ([]host.Actor, string, error) {
	if limit < 0 {
		return nil, "", localError(host.ErrInvalidArgument, "INVALID_ARGUMENT", fmt.Sprintf("invalid argument: negative limit %d", limit))
	}
	if limit == 0 {
		limit = host.DefaultListLimit
	}
	if err := coreError(core.CheckType(typ)); err != nil {
		return nil, "", err
	}
	// As the store reads it: no id is longer than MaxIDBytes.
	if len(after) > core.MaxIDBytes {
		after = after[:core.MaxIDBytes]
	}
	out := []host.Actor{}
	size := core.PageHeaderBytes // what the page accounts, as the store counts it
	for {
		page, next, err := c.listPage(ctx, typ, after, min(limit-len(out), maxListPage))
		if err != nil {
			return nil, "", err
		}
		for i := range page {
			if len(out) > 0 && size >= host.ListPageBytes { // where the store's page would end
				return out, out[len(out)-1].ID, nil
			}
			out = append(out, page[i])
			size += len(page[i].ID) + len(page[i].Value) + core.PageActorBytes
		}
		switch {
		case next == "" || len(page) == 0:
			return out, "", nil
		case len(out) == limit || size >= host.ListPageBytes:
			return out, out[len(out)-1].ID, nil
		}
		after = next
	}
}

// listPage reads one page of the list route.
func (c *Client) listPage(ctx context.Context, typ, after string, limit int) ([]host.Actor, string, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	r, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/actors/" + url.PathEscape(typ), query: q, read: true})
	if err != nil {
		return nil, "", err
	}
	type page struct {
		actors []host.Actor
		next   *string
	}
	p, err := read(r, func(b []byte) (page, error) {
		as, m, err := readList(b, "actors", readActor)
		p := page{actors: as}
		if err == nil {
			err = field(m, "next", &p.next)
		}
		return p, err
	})
	if err != nil {
		return nil, "", err
	}
	if p.next == nil {
		return p.actors, "", nil
	}
	return p.actors, *p.next, nil
}

// Batch applies ops atomically, in order, as host.Store.Batch does.
//
// # Errors
//
// A *host.BatchError naming the failing operation's index and wrapping
// its error.
func (c *Client) Batch(ctx context.Context, ops ...host.BatchOp) ([]host.BatchResult, error) {
	if err := coreError(core.CheckBatchLen(len(ops))); err != nil {
		return nil, err
	}
	wops := make([]wireBatchOp, len(ops))
	for i, op := range ops {
		name := op.Kind()
		if name == "" {
			return nil, &host.BatchError{Index: i, Err: localError(host.ErrInvalidArgument, "INVALID_ARGUMENT",
				fmt.Sprintf("invalid argument: batch operation %d was not made by InsertOp, UpdateOp, UpdateVersionedOp or DeleteOp", i))}
		}
		wops[i] = wireBatchOp{Op: name, Type: op.Type(), ID: op.ID()}
		if name == "updateVersioned" {
			v := op.ExpectedVersion()
			wops[i].ExpectedVersion = &v
		}
		if name != "delete" {
			v, err := op.Value()
			if err != nil {
				return nil, &host.BatchError{Index: i, Err: err}
			}
			if v == nil {
				v = cbor.RawMessage{}
			}
			wops[i].Value = v
		}
	}
	for k := range wops {
		if local := unsendable(&wops[k]); local != nil {
			return nil, c.probeBatch(ctx, wops, k, local)
		}
	}
	rs, err := c.sendBatch(ctx, wops)
	if err != nil {
		return nil, err
	}
	if len(rs) != len(ops) {
		return nil, fmt.Errorf("actorstore: %d batch results for %d operations", len(rs), len(ops))
	}
	return rs, nil
}

func (c *Client) sendBatch(ctx context.Context, ops []wireBatchOp) ([]host.BatchResult, error) {
	body, err := wireEnc.Marshal(wireBatch{Ops: ops})
	if err != nil {
		return nil, fmt.Errorf("actorstore: encoding a batch: %v", err)
	}
	r, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/batch", body: body, ctype: cborType, write: true})
	if err != nil {
		return nil, err
	}
	return read(r, func(b []byte) ([]host.BatchResult, error) {
		rs, _, err := readList(b, "results", readResult)
		return rs, err
	})
}

// unsendable returns the store's error for an operation whose key or
// value a CBOR request cannot carry (invalid UTF-8 in a key, a value that
// is not one well-formed data item), or nil. The store checks an
// operation's key, then its value's size, then its well-formedness.
func unsendable(op *wireBatchOp) *core.Error {
	if err := core.CheckKey(op.Type, op.ID); err != nil {
		return err
	}
	if op.Op != "delete" {
		return core.CheckValue(op.Value)
	}
	return nil
}

// probeBatch finds what the server answers to a batch whose operation k
// cannot be sent (local is what the store would say of it), without
// changing anything: it sends operations 0..k-1 followed by an operation
// that always fails, so that an earlier operation's failure is the
// server's own answer. For a malformed value the probe also carries, at
// k, a well-formed value of the same length, which finds whether the
// store would first refuse it as too large.
func (c *Client) probeBatch(ctx context.Context, ops []wireBatchOp, k int, local *core.Error) error {
	fail := wireBatchOp{Op: "delete", Type: "", ID: "-"} // INVALID_KEY, always
	var sized *wireBatchOp
	if local.Code == core.InvalidValue && len(ops[k].Value) > 0 {
		p := ops[k]
		p.Value = sameLengthValue(len(p.Value))
		sized = &p
	}
	together := sized != nil && k+2 <= core.MaxBatchOps
	probe := append(ops[:k:k], fail)
	if together {
		probe = append(ops[:k:k], *sized, fail)
	}
	be, err := c.probe(ctx, probe)
	switch {
	case err != nil:
		return err
	case be.Index < k:
		return be
	case together && be.Index == k && errors.Is(be, host.ErrValueTooLarge):
		return be
	case sized != nil && !together: // too long a batch to probe both at once
		be, err := c.probe(ctx, []wireBatchOp{*sized, fail})
		if err != nil {
			return err
		}
		if be.Index == 0 && errors.Is(be, host.ErrValueTooLarge) {
			var e *Error
			if errors.As(be, &e) {
				e2 := *e
				e2.Message = strings.Replace(e.Message, "batch operation 0: ", "batch operation "+strconv.Itoa(k)+": ", 1)
				return &host.BatchError{Index: k, Err: &e2}
			}
		}
	}
	local.Index = k
	local.Msg = "batch operation " + strconv.Itoa(k) + ": " + local.Msg
	return coreError(local)
}

// probe sends a batch that must fail and returns its *host.BatchError,
// or the error that kept the server from answering. Probes change
// nothing, so each carries its own idempotency key.
func (c *Client) probe(ctx context.Context, ops []wireBatchOp) (*host.BatchError, error) {
	_, err := c.sendBatch(host.WithIdempotencyKey(ctx, newIdempotencyKey()), ops)
	var be *host.BatchError
	if errors.As(err, &be) {
		return be, nil
	}
	if err == nil {
		err = errors.New("actorstore: the server accepted a batch operation with an empty actor type")
	}
	return nil, err
}

// sameLengthValue is a well-formed value of n bytes (n > 0): a byte
// string, its length in a head wide enough (not always the shortest,
// which is still well-formed).
func sameLengthValue(n int) []byte {
	b := make([]byte, n)
	switch {
	case n <= 24:
		b[0] = 0x40 | byte(n-1)
	case n <= 1+1+0xff:
		b[0], b[1] = 0x58, byte(n-2)
	case n <= 1+2+0xffff:
		b[0] = 0x59
		binary.BigEndian.PutUint16(b[1:], uint16(n-3))
	default:
		b[0] = 0x5a
		binary.BigEndian.PutUint32(b[1:], uint32(n-5))
	}
	return b
}
