package server

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
	"github.com/actorstore/actorstore/internal/cborraw"
)

// A batch request is {"ops": [op, ...]} (or a bare array of ops), each
// op {"op", "type", "id", "value", "expectedVersion"}. It is read with
// the walker of internal/cborraw, not a CBOR decoder, so that each value
// reaches the store as the bytes it was sent as (a decoder would drop a
// leading self-described CBOR tag, 55799); the store checks the values.
// Self-described tags on the body and on an operation's other fields
// mark them as CBOR and are passed over.

// batchFields are the keys of an operation, in the order its refusals
// are checked.
var batchFields = [...]string{"op", "type", "id", "value", "expectedVersion"}

// batchWant is the shape of a batch, for messages.
const batchWant = `want {"ops": [{"op", "type", "id", "value", "expectedVersion"}, ...]}`

// batchDec decodes the other request objects (the bodies of the cluster
// routes) strictly: no unknown or repeated keys, and limits as wide as
// the store's.
var batchDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   cborjson.MaxNesting + 8,
		MaxArrayElements:  1 << 30,
		MaxMapPairs:       1 << 30,
		DefaultMapType:    reflect.TypeOf(map[string]any(nil)),
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// readBatch reads a batch request, JSON (converted to CBOR as values are)
// or CBOR, into the store's operations.
func (s *Server) readBatch(r *request) ([]host.BatchOp, error) {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if !isCBORBody(r.Request) {
		if body, err = cborjson.FromJSON(body); err != nil {
			return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "malformed JSON batch: %v", err)
		}
	}
	items, err := batchItems(cborraw.Untag(body))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "malformed batch: %s: %v", batchWant, err)
	}
	out := make([]host.BatchOp, len(items))
	for i, item := range items {
		if out[i], err = batchOp(item); err != nil {
			ae := errorf(http.StatusBadRequest, codeInvalidArgument, "batch operation %d: %v", i, err)
			ae.Index = &i
			return nil, ae
		}
	}
	return out, nil
}

// batchItems returns the operations of a batch body, each as its bytes.
func batchItems(body []byte) ([][]byte, error) {
	major, _, _, _, err := cborraw.Head(body, 0)
	if err != nil {
		return nil, err
	}
	if major == cborraw.MajorArray {
		return cborraw.Items(body)
	}
	var ops []byte
	err = cborraw.Entries(body, func(key string, value []byte) error {
		switch {
		case key != "ops":
			return fmt.Errorf("unknown key %q", key)
		case ops != nil:
			return fmt.Errorf(`repeated key "ops"`)
		}
		ops = cborraw.Untag(value)
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case ops == nil || cborraw.IsNull(ops):
		return nil, nil
	}
	items, err := cborraw.Items(ops)
	if err != nil {
		return nil, fmt.Errorf(`"ops" must be an array: %v`, err)
	}
	return items, nil
}

// batchOp reads one operation.
func batchOp(item []byte) (host.BatchOp, error) {
	var f [len(batchFields)][]byte
	err := cborraw.Entries(cborraw.Untag(item), func(key string, value []byte) error {
		for k, name := range batchFields {
			if key != name {
				continue
			}
			if f[k] != nil {
				return fmt.Errorf("repeated key %q", key)
			}
			f[k] = value
			return nil
		}
		return fmt.Errorf("unknown key %q", key)
	})
	if err != nil {
		return host.BatchOp{}, fmt.Errorf("want a map of %q: %v", batchFields, err)
	}
	// Fields other than the value: null is absent.
	for k := range f {
		if batchFields[k] != "value" && f[k] != nil {
			if f[k] = cborraw.Untag(f[k]); cborraw.IsNull(f[k]) {
				f[k] = nil
			}
		}
	}
	opRaw, typRaw, idRaw, value, expRaw := f[0], f[1], f[2], f[3], f[4]
	if opRaw == nil {
		return host.BatchOp{}, errors.New(`"op" is missing`)
	}
	op, err := cborraw.Text(opRaw)
	if err != nil {
		return host.BatchOp{}, fmt.Errorf(`"op" must be text: %v`, err)
	}
	if typRaw == nil || idRaw == nil {
		return host.BatchOp{}, errors.New(`"type" and "id" are required`)
	}
	typ, err := cborraw.Text(typRaw)
	if err != nil {
		return host.BatchOp{}, fmt.Errorf(`"type" must be text: %v`, err)
	}
	id, err := cborraw.Text(idRaw)
	if err != nil {
		return host.BatchOp{}, fmt.Errorf(`"id" must be text: %v`, err)
	}
	needValue := op != "delete"
	switch {
	case needValue && value == nil:
		return host.BatchOp{}, errors.New(`"value" is missing (write null for a null value)`)
	case !needValue && value != nil:
		return host.BatchOp{}, errors.New(`a delete takes no "value"`)
	case op == "updateVersioned" && expRaw == nil:
		return host.BatchOp{}, errors.New(`"expectedVersion" is missing`)
	case op != "updateVersioned" && expRaw != nil:
		return host.BatchOp{}, errors.New(`"expectedVersion" is only for updateVersioned`)
	}
	switch op {
	case "insert":
		return host.InsertOp(typ, id, cbor.RawMessage(value)), nil
	case "update":
		return host.UpdateOp(typ, id, cbor.RawMessage(value)), nil
	case "updateVersioned":
		expected, err := cborraw.Uint(expRaw)
		if err != nil {
			return host.BatchOp{}, fmt.Errorf(`"expectedVersion" must be an unsigned integer: %v`, err)
		}
		return host.UpdateVersionedOp(typ, id, cbor.RawMessage(value), expected), nil
	case "delete":
		return host.DeleteOp(typ, id), nil
	}
	return host.BatchOp{}, fmt.Errorf("unknown op %q; want insert, update, updateVersioned or delete", op)
}

func (s *Server) batch(r *request) error {
	ctx, err := writeContext(r)
	if err != nil {
		return err
	}
	ops, err := s.readBatch(r)
	if err != nil {
		return err
	}
	res, err := s.store.Batch(ctx, ops...)
	if err != nil {
		return err
	}
	e := r.enc().object(1).key("results").array(len(res))
	for i := range res {
		e.object(2).key("actor")
		if res[i].Found || ops[i].Kind() != "delete" {
			e.actor(&res[i].Actor)
		} else {
			e.null()
		}
		e.key("found").bool(res[i].Found).end()
	}
	return r.respond(http.StatusOK, e.end().end())
}
