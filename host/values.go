package host

import (
	"bytes"
	"reflect"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
)

var (
	encMode cbor.EncMode
	// decMode decodes maps into map[string]any; decModeAnyKeys is the
	// fallback for maps with keys of other types, into map[any]any.
	decMode, decModeAnyKeys cbor.DecMode
)

func init() {
	var err error
	// Core deterministic encoding (RFC 8949 §4.2): the same Go value is
	// always the same bytes, on every run and every host.
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339Nano
	if encMode, err = eo.EncMode(); err != nil {
		panic(err)
	}
	// Limits as wide as the store's own, so that values it accepts decode.
	do := cbor.DecOptions{
		MaxNestedLevels:  core.MaxNesting + 1,
		MaxArrayElements: 1 << 30,
		MaxMapPairs:      1 << 30,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
	}
	if decMode, err = do.DecMode(); err != nil {
		panic(err)
	}
	do.DefaultMapType = nil
	if decModeAnyKeys, err = do.DecMode(); err != nil {
		panic(err)
	}
}

// decode decodes CBOR into v; when a map's keys are not all strings and
// v holds an any, maps decode into map[any]any instead.
func decode(data []byte, v any) error {
	err := decMode.Unmarshal(data, v)
	if err != nil && decModeAnyKeys.Unmarshal(data, v) == nil {
		return nil
	}
	return err
}

// EncodeValue turns a value into CBOR as a Store does with the values it
// is given: a cbor.RawMessage is copied as is, anything else gets core
// deterministic encoding (times as RFC 3339 text). A value that cannot be
// encoded is ErrInvalidValue. Size limits are the store's to check, in
// operation order. Other hosts of the API (the client) encode with it, so
// that a value is the same bytes whichever store it goes to.
func EncodeValue(v any) ([]byte, error) {
	var b []byte
	if raw, ok := v.(cbor.RawMessage); ok {
		b = bytes.Clone(raw)
	} else {
		var err error
		if b, err = encMode.Marshal(v); err != nil {
			return nil, errorf(ErrInvalidValue, "invalid value: cannot encode %T: %v", v, err)
		}
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
