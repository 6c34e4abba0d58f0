// Package cborjson maps values between JSON and CBOR, the way the HTTP API
// carries stored values as JSON.
//
// Everything JSON can say maps to CBOR and back unchanged in meaning. What
// JSON cannot say is written as a one-member JSON object whose key names
// the form — never dropped:
//
//	CBOR                                    JSON
//	unsigned / negative integer             number without fraction or exponent: 7, -3, 18446744073709551615
//	bignum (tag 2 or 3 on ≤ 996 bytes)      the same, exactly: 18446744073709551616
//	float (16, 32 or 64 bits)               number with a fraction or exponent: 1.0, 2.5, 1e+300, -0.0
//	NaN, Infinity, -Infinity                {"$float": "NaN"}, {"$float": "Infinity"}, {"$float": "-Infinity"}
//	byte string                             {"$bytes": "00ff"} (lowercase hex)
//	text string                             string
//	array                                   array
//	map with text keys                      object, keys in the map's order
//	map with other keys, or repeated keys   {"$map": [[key, value], ...]}
//	tag n (other than the bignums above)    {"$tag": [n, content]}
//	false, true, null                       false, true, null
//	undefined                               {"$undefined": true}
//	simple value n (0-19, 32-255)           {"$simple": n}
//
// An integer too large or too small for JSON numbers to carry exactly in
// every reader (beyond ±2^53) is still written as a JSON number with all
// its digits; FromJSON also accepts {"$int": "<decimal>"} for it, as
// programs that cannot write such a literal need.
//
// The reserved keys are $bytes, $float, $int, $map, $tag, $undefined and
// $simple, and only in an object with exactly one member. A real map that
// happens to have one member under a reserved key is escaped by writing
// it in the $map form: the map {"$bytes": "00"} reads
// {"$map": [["$bytes", "00"]]}. Objects with other keys, or more members,
// are plain maps whatever their keys.
//
// FromJSON writes deterministic CBOR (RFC 8949 §4.2.1, as the Go host's
// encoder does): the shortest head for every length and integer; the
// shortest float (16, 32 or 64 bits) that holds the value exactly, NaN as
// f97e00; map keys sorted by their encoded bytes ($map pairs too, equal
// keys kept in the order given); integers beyond 64 bits as bignums.
// Objects with a repeated key are refused.
//
// Round trips: ToJSON then FromJSON returns the same bytes for every CBOR
// item FromJSON can write (deterministic CBOR); other encodings of the
// same value (longer heads, wider floats, indefinite lengths, unsorted
// keys, NaN payloads, bignums with leading zeros or that fit 64 bits)
// come back in that deterministic form. FromJSON then
// ToJSON returns the same text for JSON in the form ToJSON writes (no
// insignificant white space, keys in CBOR order, numbers as ToJSON
// formats them, strings escaped as ToJSON escapes them).
package cborjson

import (
	"errors"
	"fmt"
)

// MaxNesting is the deepest nesting of CBOR arrays, maps and tags ToJSON
// reads, as the store accepts. FromJSON reads JSON nested up to
// 4*MaxNesting deep (each $tag and $map level takes three JSON levels);
// the store refuses CBOR nested deeper than MaxNesting.
const MaxNesting = 512

// ErrSyntax is wrapped by every error of this package: the input is not
// well-formed (JSON or CBOR), or a reserved form is malformed.
var ErrSyntax = errors.New("cborjson: malformed input")

// Error reports what is wrong with the input and where.
type Error struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	Msg    string
}

// Error returns the message and the offset.
func (e *Error) Error() string { return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset) }

// Unwrap returns ErrSyntax.
func (e *Error) Unwrap() error { return ErrSyntax }

func errAt(off int, format string, args ...any) error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// reserved keys of the one-member forms.
const (
	keyBytes     = "$bytes"
	keyFloat     = "$float"
	keyInt       = "$int"
	keyMap       = "$map"
	keyTag       = "$tag"
	keyUndefined = "$undefined"
	keySimple    = "$simple"
)

func isReserved(k string) bool {
	switch k {
	case keyBytes, keyFloat, keyInt, keyMap, keyTag, keyUndefined, keySimple:
		return true
	}
	return false
}
