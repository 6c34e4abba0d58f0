package tests

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/fxamacker/cbor/v2"
)

// valueDec decodes stored values for semantic comparison: maps with text
// keys become map[string]any, as JSON objects do.
var valueDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		MaxNestedLevels:  1000,
		MaxArrayElements: 1 << 30,
		MaxMapPairs:      1 << 30,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// inputValue is the value a step or batch operation writes: the raw CBOR
// of valueHex passed through untouched, or the JSON value for the host's
// encoder.
func inputValue(v json.RawMessage, h *hexBytes) any {
	if h != nil {
		return cbor.RawMessage(*h)
	}
	return goValue(v)
}

// goValue decodes a JSON value as a Go program would write it: integers
// as int64 (or uint64), other numbers as float64.
func goValue(raw json.RawMessage) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		panic(fmt.Sprintf("value %s was validated as JSON: %v", raw, err))
	}
	return fromNumbers(v)
}

// fromNumbers replaces the json.Numbers in v by int64, uint64 or float64.
func fromNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(x.String(), 10, 64); err == nil {
			return u
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromNumbers(x[k])
		}
	}
	return v
}

// checkValue compares a stored CBOR value with an expected one: exactly
// with valueHex, semantically (as JSON, numbers as float64) with value.
func checkValue(got []byte, want json.RawMessage, wantHex *hexBytes) error {
	if wantHex != nil {
		if !bytes.Equal(got, *wantHex) {
			return fmt.Errorf("value %s, want %s", describe(got), describe(*wantHex))
		}
		return nil
	}
	var g any
	if err := valueDec.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("value %s does not decode as JSON-like data (%v), want %s", describe(got), err, want)
	}
	var w any
	if err := json.Unmarshal(want, &w); err != nil {
		return fmt.Errorf("expected value %s: %v", want, err)
	}
	if !reflect.DeepEqual(jsonModel(g), w) {
		return fmt.Errorf("value %s, want %s", describe(got), want)
	}
	return nil
}

// jsonModel maps decoded CBOR onto the JSON data model: every number
// becomes a float64. Other non-JSON items are left as they are, so they
// compare unequal to any JSON value.
func jsonModel(v any) any {
	switch x := v.(type) {
	case uint64:
		return float64(x)
	case int64:
		return float64(x)
	case float32:
		return float64(x)
	case []any:
		for i := range x {
			x[i] = jsonModel(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonModel(x[k])
		}
	}
	return v
}

// describe shows CBOR bytes as hex and, when they are well-formed, in
// diagnostic notation.
func describe(b []byte) string {
	if b == nil {
		return "(none)"
	}
	h := hex.EncodeToString(b)
	if len(h) > 200 {
		h = h[:200] + "…"
	}
	if d, err := cbor.Diagnose(b); err == nil && len(d) <= 200 {
		return fmt.Sprintf("%s (%s)", h, d)
	}
	return h
}
