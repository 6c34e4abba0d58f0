package core

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a hex string written with optional spaces, failing the test
// on a typo.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// wellFormedHex are well-formed, valid items: RFC 8949 Appendix A examples
// and a few more edge cases.
var wellFormedHex = []string{
	"00", "01", "0a", "17", "1818", "1819", "1864", "1903e8", "1a000f4240",
	"1b000000e8d4a51000", "1bffffffffffffffff", "20", "29", "3863", "3903e7",
	"3bffffffffffffffff", "c249010000000000000000", "c349010000000000000000",
	"f90000", "f98000", "f93c00", "fb3ff199999999999a", "f93e00", "f97bff",
	"fa47c35000", "fa7f7fffff", "fb7e37e43c8800759c", "f90001", "f90400",
	"f9c400", "fbc010666666666666", "f97c00", "f97e00", "f9fc00", "fa7f800000",
	"fa7fc00000", "faff800000", "fb7ff0000000000000", "fb7ff8000000000000",
	"fbfff0000000000000", "f4", "f5", "f6", "f7", "f0", "f820", "f8ff",
	"c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0",
	"c1fb41d452d9ec200000", "d74401020304", "d818456449455446",
	"d82076687474703a2f2f7777772e6578616d706c652e636f6d", "40", "4401020304",
	"60", "6161", "6449455446", "62225c", "62c3bc", "63e6b0b4", "64f0908591",
	"80", "83010203", "8301820203820405", "a0", "a201020304",
	"a26161016162820203", "826161a161626163", "5f42010243030405ff",
	"7f657374726561646d696e67ff", "9fff", "9f018202039f0405ffff",
	"9f01820203820405ff", "83018202039f0405ff", "83019f0203ff820405",
	"bf61610161629f0203ffff", "826161bf61626163ff", "bf6346756ef563416d7421ff",
	// More edge cases: empty indefinite strings, empty chunks, nested tags,
	// invalid UTF-8 in byte strings (allowed), non-minimal heads (allowed),
	// maps with container keys, simple values 0..19 and 24.
	"5fff", "7fff", "7f60ff", "5f40ff", "c6c7d81800", "41ff", "44c328c0af",
	"1800", "190000", "1a00000000", "1b0000000000000000", "5800", "780161",
	"a1800a", "a1a0a0", "e0", "f3", "bfff", "9f9fffff", "c69fff", "d9d9f7c600",
	"7f62c3bc63e6b0b4ff", "a16161c4c5c6c701", "81f8ff",
}

// malformedHex are not well-formed: RFC 8949 Appendix C, in its order,
// then trailing bytes, invalid UTF-8 and huge declared lengths.
var malformedHex = []string{
	// C: end of input in a head.
	"18", "19", "1a", "1b", "1901", "1a0102", "1b01020304050607", "38", "58",
	"78", "98", "9a01ff00", "b8", "d8", "f8", "f900", "fa0000", "fb000000",
	// C: definite-length strings with short data.
	"41", "61", "5affffffff00", "5bffffffffffffffff010203", "7affffffff00",
	"7b7fffffffffffffff010203",
	// C: definite-length maps and arrays not closed with enough items.
	"81", "818181818181818181", "8200", "a1", "a20102", "a100", "a2000000",
	// C: tag number not followed by tag content.
	"c0",
	// C: indefinite-length strings not closed by a break.
	"5f4100", "7f6100",
	// C: indefinite-length maps and arrays not closed by a break.
	"9f", "9f0102", "bf", "bf01020102", "819f", "9f8000",
	"9f9f9f9f9fffffffff", "9f819f819f9fffffff",
	// C: reserved additional information values.
	"1c", "1d", "1e", "3c", "3d", "3e", "5c", "5d", "5e", "7c", "7d", "7e",
	"9c", "9d", "9e", "bc", "bd", "be", "dc", "dd", "de", "fc", "fd", "fe",
	// C: reserved two-byte encodings of simple values.
	"f800", "f801", "f818", "f81f",
	// C: indefinite-length string chunks not of the correct type.
	"5f00ff", "5f21ff", "5f6100ff", "5f80ff", "5fa0ff", "5fc000ff", "5fe0ff",
	"7f4100ff",
	// C: indefinite-length string chunks not definite length.
	"5f5f4100ffff", "7f7f6100ffff",
	// C: break occurring on its own outside of an indefinite-length item.
	"ff",
	// C: break occurring in a definite-length array or map or a tag.
	"81ff", "8200ff", "a1ff", "a1ff00", "a100ff", "a20000ff", "9f81ff",
	"9f829f819f9fffffffff", "c1ff", "9fc1ff",
	// C: break in an indefinite-length map in a value position.
	"bf00ff", "bf000000ff",
	// C: major type 0, 1, 6 with additional information 31.
	"1f", "3f", "df", "df00",
	// Trailing bytes after one complete item.
	"0000", "8000", "a0ff", "5fff00", "f6f6", "9fff00",
	// Invalid UTF-8 in text strings, map keys and chunks.
	"61ff", "62c328", "62c0af", "63eda080", "64f8888080", "61c3",
	"a161ff00", "7f61ffff", "7f61c361bcff", "8161fe", "c061fe",
	// Huge declared lengths that cannot fit in the input.
	"9bffffffffffffffff", "bbffffffffffffffff", "bb7fffffffffffffff01",
	"bb800000000000000000", "9affffffff", "5bffffffffffffffff",
	"7bffffffffffffffff", "5f5bffffffffffffffffff", "bf9bffffffffffffffffff",
	"9b0000000000000002f6", "a2000000",
}

func TestCheckValueWellFormed(t *testing.T) {
	for _, h := range wellFormedHex {
		if err := CheckValue(unhex(t, h)); err != nil {
			t.Errorf("CheckValue(%s) = %v, want nil", h, err)
		}
	}
}

func TestCheckValueMalformed(t *testing.T) {
	for _, h := range malformedHex {
		err := CheckValue(unhex(t, h))
		if err == nil {
			t.Errorf("CheckValue(%s) = nil, want InvalidValue", h)
			continue
		}
		if err.Code != InvalidValue || err.Index != -1 || !strings.HasPrefix(err.Msg, "invalid value: ") {
			t.Errorf("CheckValue(%s) = %+v, want code InvalidValue, index -1, an invalid value message", h, err)
		}
	}
}

// tagContentHex pairs tags 0-3, whose content RFC 8949 §3.4 fixes (text;
// an integer or a float; bytes), with content of each kind; other tags take
// anything. true means valid.
var tagContentHex = map[string]bool{
	"c06161": true, "c07f6161ff": true, "d80060": true, "c000": false, "c04100": false, "c080": false,
	"c0c06161": false, "c11a514b67b0": true, "c120": true, "c13bffffffffffffffff": true, "c1f93c00": true,
	"c1fa47c35000": true, "c1fb3ff199999999999a": true, "c1f5": false, "c1f6": false, "c1f820": false,
	"c16161": false, "c1c100": false, "c1c600": false, "c180": false, "d9000120": true, "d9000160": false,
	"c240": true, "c25f4100ff": true, "c36100": false, "c380": false, "c3a0": false, "c2c240": false,
	"da0000000240": true, "db000000000000000360": false, "c400": true, "c46100": true, "d8208180": true,
	"81c000": false, "81c06161": true, "a1c06161c100": true, "a100c0f6": false,
}

func TestCheckValueTagContent(t *testing.T) {
	for h, want := range tagContentHex {
		err := CheckValue(unhex(t, h))
		if (err == nil) != want || err != nil && err.Code != InvalidValue {
			t.Errorf("CheckValue(%s) = %v, want ok %v", h, err, want)
		}
	}
}

func TestCheckValueEmpty(t *testing.T) {
	for _, b := range [][]byte{nil, {}} {
		if err := CheckValue(b); err == nil || err.Code != InvalidValue {
			t.Errorf("CheckValue(%#v) = %v, want InvalidValue", b, err)
		}
	}
}

// nested builds depth levels of the one-byte container head open, closed
// by close after the innermost item inner.
func nested(open byte, depth int, inner []byte, close []byte) []byte {
	b := bytes.Repeat([]byte{open}, depth)
	b = append(b, inner...)
	for range depth {
		b = append(b, close...)
	}
	return b
}

func TestCheckValueNesting(t *testing.T) {
	cases := []struct {
		name        string
		open        byte
		inner       []byte
		close       []byte
		innerLevels int // nesting levels the inner item adds
	}{
		{"arrays", 0x81, []byte{0x00}, nil, 0},
		{"arrays around an empty array", 0x81, []byte{0x80}, nil, 1},
		{"arrays around an empty map", 0x81, []byte{0xa0}, nil, 1},
		{"indefinite arrays", 0x9f, []byte{0x00}, []byte{0xff}, 0},
		{"indefinite arrays around an empty one", 0x9f, []byte{0x9f, 0xff}, []byte{0xff}, 1},
		{"tags", 0xc6, []byte{0x00}, nil, 0},
		{"tags around a tag", 0xc6, []byte{0xd8, 0x20, 0x00}, nil, 1},
		{"tags around a date", 0xc6, []byte{0xc0, 0x60}, nil, 1},
	}
	for _, c := range cases {
		for _, levels := range []int{1, MaxNesting - 1, MaxNesting, MaxNesting + 1, 4 * MaxNesting} {
			b := nested(c.open, levels-c.innerLevels, c.inner, c.close)
			err := CheckValue(b)
			if want := levels <= MaxNesting; (err == nil) != want {
				t.Errorf("%s, %d levels: CheckValue = %v, want ok %v", c.name, levels, err, want)
			}
		}
	}
}

func TestCheckValueMapNesting(t *testing.T) {
	// A map whose one value is the next map: {0: {0: ... 0}}.
	for _, levels := range []int{MaxNesting, MaxNesting + 1} {
		b := append(bytes.Repeat([]byte{0xa1, 0x00}, levels-1), 0xa1, 0x00, 0x00)
		if err := CheckValue(b); (err == nil) != (levels <= MaxNesting) {
			t.Errorf("%d nested maps: CheckValue = %v", levels, err)
		}
		// The same in key position: {{... : 0}: 0}.
		k := append(bytes.Repeat([]byte{0xa1}, levels), 0x00)
		k = append(k, bytes.Repeat([]byte{0x00}, levels)...)
		if err := CheckValue(k); (err == nil) != (levels <= MaxNesting) {
			t.Errorf("%d nested map keys: CheckValue = %v", levels, err)
		}
	}
}

func TestCheckValueDeepInputNoStackOverflow(t *testing.T) {
	// A million levels: rejected, without recursion.
	for _, open := range []byte{0x81, 0x9f, 0xc6, 0xa1} {
		if err := CheckValue(bytes.Repeat([]byte{open}, 1<<20)); err == nil {
			t.Errorf("1<<20 x %#x accepted", open)
		}
	}
}

func TestCheckValueSiblingsAfterDeepNesting(t *testing.T) {
	// [[...512...], [...512...]] is too deep, [[..511..], [..511..]] is not.
	for _, inner := range []int{MaxNesting - 1, MaxNesting} {
		one := nested(0x81, inner, []byte{0x00}, nil)
		b := append([]byte{0x82}, one...)
		b = append(b, one...)
		if err := CheckValue(b); (err == nil) != (inner+1 <= MaxNesting) {
			t.Errorf("two siblings of %d levels: CheckValue = %v", inner, err)
		}
	}
}

func TestCheckValueLargeContainers(t *testing.T) {
	// An array of 100000 items, and an indefinite map of 50000 pairs.
	arr := append([]byte{0x9a, 0x00, 0x01, 0x86, 0xa0}, bytes.Repeat([]byte{0xf6}, 100000)...)
	if err := CheckValue(arr); err != nil {
		t.Errorf("array of 100000: %v", err)
	}
	if err := CheckValue(arr[:len(arr)-1]); err == nil {
		t.Error("array of 100000 with one item missing accepted")
	}
	m := append(append([]byte{0xbf}, bytes.Repeat([]byte{0x01, 0x02}, 50000)...), 0xff)
	if err := CheckValue(m); err != nil {
		t.Errorf("indefinite map of 50000 pairs: %v", err)
	}
}
