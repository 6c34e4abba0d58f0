package host

import (
	"bytes"
	"reflect"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = (cbor.EncOptions{Time: cbor.TimeRFC3339Nano}).EncMode(); err != nil {
		panic(err)
	}
	// Limits as wide as the store's own: any value it accepts decodes.
	if decMode, err = (cbor.DecOptions{
		MaxNestedLevels:  core.MaxNesting + 1,
		MaxArrayElements: 1 << 30,
		MaxMapPairs:      1 << 30,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
	}).DecMode(); err != nil {
		panic(err)
	}
}

// encode turns a value into CBOR; a cbor.RawMessage is copied as is.
func (s *Store) encode(v any) ([]byte, error) {
	var b []byte
	if raw, ok := v.(cbor.RawMessage); ok {
		b = bytes.Clone(raw)
	} else {
		var err error
		if b, err = encMode.Marshal(v); err != nil {
			return nil, errorf(ErrInvalidValue, "invalid value: cannot encode %T: %v", v, err)
		}
	}
	if len(b) > s.opts.MaxValueBytes {
		return nil, errorf(ErrValueTooLarge, "value too large: %d bytes, limit %d", len(b), s.opts.MaxValueBytes)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
