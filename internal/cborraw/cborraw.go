// Package cborraw walks CBOR without decoding it: it finds where each
// data item ends, so that the items of a message — stored values above
// all — can be cut out of it byte for byte. Decoders normalize what they
// read (fxamacker/cbor drops every self-described CBOR tag 55799 it
// meets, and may change lengths and heads), and a value must reach the
// store, and come back from it, exactly as it was written. The fields
// around the values are read with Text, Uint and the like, or decoded
// as usual.
//
// The walker checks what it needs to find an item's end — heads,
// lengths, indefinite-length chunks and breaks, nesting depth — and no
// more: text strings are not checked for UTF-8 inside items, nor simple
// values for their range. The store checks the values it is given.
package cborraw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Major types.
const (
	MajorUint   = 0 // unsigned integer
	MajorNegInt = 1 // negative integer
	MajorBytes  = 2 // byte string
	MajorText   = 3 // text string
	MajorArray  = 4
	MajorMap    = 5
	MajorTag    = 6
	MajorSimple = 7 // simple values, floats and the break
)

// MaxDepth bounds the nesting of arrays, maps and tags the walker
// follows within one item: as deep as a stored value may be (512) and
// the message's own maps and arrays around it.
const MaxDepth = 512 + 8

// SelfDescribed is the head of tag 55799, self-described CBOR (RFC 8949
// §3.4.6).
var SelfDescribed = []byte{0xd9, 0xd9, 0xf7}

// ErrTruncated is returned for an item that ends past its input.
var ErrTruncated = errors.New("truncated CBOR")

// Head reads the head of the item at off: its major type, additional
// information, argument (the length, count, tag number or value) and
// where its content starts. An indefinite length (ai 31) has argument 0.
func Head(b []byte, off int) (major, ai byte, arg uint64, next int, err error) {
	if off < 0 || off >= len(b) {
		return 0, 0, 0, 0, ErrTruncated
	}
	major, ai = b[off]>>5, b[off]&0x1f
	off++
	switch {
	case ai < 24:
		return major, ai, uint64(ai), off, nil
	case ai <= 27:
		n := 1 << (ai - 24)
		if len(b)-off < n {
			return 0, 0, 0, 0, ErrTruncated
		}
		var buf [8]byte
		copy(buf[8-n:], b[off:off+n])
		return major, ai, binary.BigEndian.Uint64(buf[:]), off + n, nil
	case ai == 31 && (major >= MajorBytes && major <= MajorMap || major == MajorSimple):
		return major, ai, 0, off, nil
	}
	return 0, 0, 0, 0, fmt.Errorf("reserved additional information %d at byte %d", ai, off-1)
}

// End returns where the item at off ends.
func End(b []byte, off int) (int, error) { return skip(b, off, 0) }

// skip returns where the item at off ends, depth being its nesting.
func skip(b []byte, off, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, errors.New("CBOR nested too deep")
	}
	major, ai, arg, off, err := Head(b, off)
	if err != nil {
		return 0, err
	}
	indef := ai == 31
	switch major {
	case MajorUint, MajorNegInt:
		return off, nil
	case MajorSimple:
		if indef {
			return 0, errors.New("unexpected break")
		}
		return off, nil
	case MajorBytes, MajorText:
		if !indef {
			if uint64(len(b)-off) < arg {
				return 0, ErrTruncated
			}
			return off + int(arg), nil
		}
		for {
			if off < len(b) && b[off] == 0xff {
				return off + 1, nil
			}
			m, cai, n, next, err := Head(b, off)
			if err != nil || m != major || cai == 31 || uint64(len(b)-next) < n {
				return 0, errors.New("bad chunk in an indefinite-length string")
			}
			off = next + int(n)
		}
	case MajorTag:
		return skip(b, off, depth+1)
	}
	// Arrays and maps.
	per := uint64(1)
	if major == MajorMap {
		per = 2
	}
	if indef {
		for {
			if off < len(b) && b[off] == 0xff {
				return off + 1, nil
			}
			for range per {
				if off, err = skip(b, off, depth+1); err != nil {
					return 0, err
				}
			}
		}
	}
	if arg > uint64(len(b)) { // each item takes a byte at least
		return 0, ErrTruncated
	}
	for i := uint64(0); i < arg*per; i++ {
		if off, err = skip(b, off, depth+1); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// Container reads b, one array (MajorArray) or map (MajorMap) and nothing
// after it, and calls item with the exact bytes of each of its items in
// order (for a map: each key, then its value).
func Container(b []byte, want byte, item func(raw []byte) error) error {
	major, ai, n, off, err := Head(b, 0)
	if err != nil {
		return err
	}
	if major != want {
		return fmt.Errorf("%s, want %s", describe(major), describe(want))
	}
	if want == MajorMap {
		n *= 2
	}
	for i := uint64(0); ai == 31 || i < n; i++ {
		if ai == 31 && off < len(b) && b[off] == 0xff {
			off++
			break
		}
		end, err := skip(b, off, 1)
		if err != nil {
			return err
		}
		if err := item(b[off:end]); err != nil {
			return err
		}
		off = end
	}
	if off != len(b) {
		return fmt.Errorf("%d bytes after the CBOR item", len(b)-off)
	}
	return nil
}

// Items returns the items of b, one array and nothing after it, each as
// its exact bytes (slices of b).
func Items(b []byte) ([][]byte, error) {
	var out [][]byte
	err := Container(b, MajorArray, func(raw []byte) error {
		out = append(out, raw)
		return nil
	})
	return out, err
}

// Entries calls entry with each key and value of b, one map with text
// keys and nothing after it, the value as its exact bytes (a slice of
// b). Keys come in the map's order, repeated ones included.
func Entries(b []byte, entry func(key string, value []byte) error) error {
	var key string
	odd := false
	return Container(b, MajorMap, func(raw []byte) error {
		odd = !odd
		if odd {
			k, err := Text(raw)
			if err != nil {
				return fmt.Errorf("map key: %v", err)
			}
			key = k
			return nil
		}
		return entry(key, raw)
	})
}

// Fields returns the entries of b, one map with text keys, each key
// once, and nothing after it; each value is its exact bytes (a slice of
// b).
func Fields(b []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := Entries(b, func(key string, value []byte) error {
		if _, dup := out[key]; dup {
			return fmt.Errorf("repeated key %q", key)
		}
		out[key] = value
		return nil
	})
	return out, err
}

// IsNull reports whether raw is CBOR null.
func IsNull(raw []byte) bool { return len(raw) == 1 && raw[0] == 0xf6 }

// Untag returns raw without the self-described CBOR tags (55799) that
// begin it: the tag marks a document as CBOR and says nothing of the
// item inside.
func Untag(raw []byte) []byte {
	for len(raw) > 3 && raw[0] == SelfDescribed[0] && raw[1] == SelfDescribed[1] && raw[2] == SelfDescribed[2] {
		raw = raw[3:]
	}
	return raw
}

// Text returns the text of raw, one text string (of definite or
// indefinite length) and nothing after it, which must be valid UTF-8.
func Text(raw []byte) (string, error) {
	major, ai, n, off, err := Head(raw, 0)
	if err != nil {
		return "", err
	}
	if major != MajorText {
		return "", fmt.Errorf("%s, want text", describe(major))
	}
	var s string
	if ai != 31 {
		if uint64(len(raw)-off) < n {
			return "", ErrTruncated
		}
		s = string(raw[off : off+int(n)])
		off += int(n)
	} else {
		end, err := End(raw, 0)
		if err != nil {
			return "", err
		}
		var buf []byte
		for off < end-1 {
			_, _, n, next, _ := Head(raw, off) // checked by End
			buf = append(buf, raw[next:next+int(n)]...)
			off = next + int(n)
		}
		s, off = string(buf), end
	}
	if off != len(raw) {
		return "", fmt.Errorf("%d bytes after the CBOR item", len(raw)-off)
	}
	if !utf8.ValidString(s) {
		return "", errors.New("text that is not UTF-8")
	}
	return s, nil
}

// Uint returns the value of raw, one unsigned integer (major type 0) and
// nothing after it.
func Uint(raw []byte) (uint64, error) {
	major, _, n, off, err := Head(raw, 0)
	if err != nil {
		return 0, err
	}
	if major != MajorUint {
		return 0, fmt.Errorf("%s, want an unsigned integer", describe(major))
	}
	if off != len(raw) {
		return 0, fmt.Errorf("%d bytes after the CBOR item", len(raw)-off)
	}
	return n, nil
}

// describe names a major type for messages.
func describe(major byte) string {
	return [...]string{"an unsigned integer", "a negative integer", "a byte string", "text",
		"an array", "a map", "a tag", "a simple value or float"}[major&7]
}
