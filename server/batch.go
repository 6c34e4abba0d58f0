package server

import (
	"fmt"
	"net/http"
	"reflect"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

// batchBody is a batch request: {"ops": [op, ...]}. A bare array of ops
// is read too.
type batchBody struct {
	Ops []batchOp `cbor:"ops"`
}

// batchOp is one operation of a batch request.
type batchOp struct {
	Op              *string         `cbor:"op"`
	Type            *string         `cbor:"type"`
	ID              *string         `cbor:"id"`
	Value           cbor.RawMessage `cbor:"value"`
	ExpectedVersion *uint64         `cbor:"expectedVersion"`
}

// batchDec reads batch requests strictly: no unknown or repeated keys,
// and limits as wide as the store's for the values inside.
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
	var ops []batchOp
	if len(body) > 0 && body[0]>>5 == 4 {
		err = batchDec.Unmarshal(body, &ops)
	} else {
		var b batchBody
		err = batchDec.Unmarshal(body, &b)
		ops = b.Ops
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, codeInvalidArgument, "malformed batch: want {\"ops\": [{\"op\", \"type\", \"id\", \"value\", \"expectedVersion\"}, ...]}: %v", err)
	}
	out := make([]host.BatchOp, len(ops))
	for i, op := range ops {
		bad := func(format string, args ...any) error {
			ae := errorf(http.StatusBadRequest, codeInvalidArgument, "batch operation %d: %s", i, fmt.Sprintf(format, args...))
			ae.Index = &i
			return ae
		}
		if op.Op == nil {
			return nil, bad(`"op" is missing`)
		}
		if op.Type == nil || op.ID == nil {
			return nil, bad(`"type" and "id" are required`)
		}
		needValue := *op.Op != "delete"
		switch {
		case needValue && op.Value == nil:
			return nil, bad(`"value" is missing (write null for a null value)`)
		case !needValue && op.Value != nil:
			return nil, bad(`a delete takes no "value"`)
		case *op.Op == "updateVersioned" && op.ExpectedVersion == nil:
			return nil, bad(`"expectedVersion" is missing`)
		case *op.Op != "updateVersioned" && op.ExpectedVersion != nil:
			return nil, bad(`"expectedVersion" is only for updateVersioned`)
		}
		switch *op.Op {
		case "insert":
			out[i] = host.InsertOp(*op.Type, *op.ID, op.Value)
		case "update":
			out[i] = host.UpdateOp(*op.Type, *op.ID, op.Value)
		case "updateVersioned":
			out[i] = host.UpdateVersionedOp(*op.Type, *op.ID, op.Value, *op.ExpectedVersion)
		case "delete":
			out[i] = host.DeleteOp(*op.Type, *op.ID)
		default:
			return nil, bad(`unknown op %q; want insert, update, updateVersioned or delete`, *op.Op)
		}
	}
	return out, nil
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
		if res[i].Found || ops[i].Kind != host.BatchDelete {
			e.actor(&res[i].Actor)
		} else {
			e.null()
		}
		e.key("found").bool(res[i].Found).end()
	}
	return r.respond(http.StatusOK, e.end().end())
}
