package cborjson

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/x448/float16"
)

// maxBignumBytes bounds the bignums ToJSON writes as JSON numbers; longer
// ones are written in the $tag form, so that conversions stay linear.
const maxBignumBytes = 996 // ≤ maxIntDigits decimal digits

// ToJSON converts one CBOR data item (RFC 8949, any well-formed encoding)
// to JSON, writing what JSON cannot say in the reserved forms described in
// the package documentation.
//
// # Errors
//
// An *Error (errors.Is ErrSyntax) when b is not exactly one well-formed
// CBOR item, holds a text string that is not UTF-8, or nests deeper than
// MaxNesting.
func ToJSON(b []byte) ([]byte, error) { return AppendJSON(nil, b) }

// AppendJSON is ToJSON appending to dst. On error dst is returned
// unchanged in length.
func AppendJSON(dst, b []byte) ([]byte, error) {
	s := scanners.Get().(*scanner)
	defer s.release()
	s.in = b
	end, err := s.scan(0, 0)
	if err != nil {
		return dst[:len(dst):len(dst)], err
	}
	if end != len(b) {
		return dst[:len(dst):len(dst)], errAt(end, "%d bytes after the CBOR item", len(b)-end)
	}
	w := writer{in: b, out: dst, objects: s.objects}
	w.item(0)
	return w.out, nil
}

// scanners keeps scanners' buffers for reuse.
var scanners = sync.Pool{New: func() any { return new(scanner) }}

func (s *scanner) release() {
	s.in = nil
	if cap(s.objects) > 4096 || cap(s.keys) > 4096 {
		return
	}
	clear(s.keys[:cap(s.keys)])
	s.objects, s.keys = s.objects[:0], s.keys[:0]
	scanners.Put(s)
}

// readHead reads the head of an item at off: its major type, additional
// information, argument (0 when indefinite) and the offset after it.
func readHead(b []byte, off int) (major, ai byte, arg uint64, next int, err error) {
	if off >= len(b) {
		return 0, 0, 0, off, errAt(off, "unexpected end of CBOR")
	}
	major, ai = b[off]>>5, b[off]&0x1f
	next = off + 1
	switch {
	case ai < 24:
		arg = uint64(ai)
	case ai <= 27:
		w := 1 << (ai - 24)
		if len(b)-next < w {
			return 0, 0, 0, off, errAt(off, "unexpected end of CBOR")
		}
		for _, c := range b[next : next+w] {
			arg = arg<<8 | uint64(c)
		}
		next += w
	case ai == 31:
		if major == 0 || major == 1 || major == 6 {
			return 0, 0, 0, off, errAt(off, "indefinite length on an integer or tag")
		}
	default:
		return 0, 0, 0, off, errAt(off, "reserved additional information %d", ai)
	}
	return major, ai, arg, next, nil
}

// skip returns the offset after the well-formed item at off.
func skip(b []byte, off, depth int) (int, error) {
	s := scanner{in: b, noObjects: true}
	return s.scan(off, depth)
}

// scanner checks an item's well-formedness and decides, for each map in
// document order, whether it is written as a JSON object.
type scanner struct {
	in        []byte
	objects   []bool   // per map, in the order they start
	keys      [][]byte // open maps' text keys, innermost last
	noObjects bool
}

// scan checks the item at off and returns the offset after it.
func (s *scanner) scan(off, depth int) (int, error) {
	major, ai, arg, next, err := readHead(s.in, off)
	if err != nil {
		return off, err
	}
	switch major {
	case 0, 1:
		return next, nil
	case 2, 3:
		_, end, err := s.str(off)
		return end, err
	case 4, 5, 6:
		if depth >= MaxNesting {
			return off, errAt(off, "CBOR nested deeper than %d", MaxNesting)
		}
	}
	switch major {
	case 4:
		return s.items(next, ai == 31, arg, depth+1)
	case 5:
		return s.mapItems(next, ai == 31, arg, depth+1)
	case 6:
		return s.scan(next, depth+1)
	}
	// major 7
	switch {
	case ai == 24 && arg < 32:
		return off, errAt(off, "two-byte simple value below 32")
	case ai == 31:
		return off, errAt(off, "unexpected break")
	}
	return next, nil
}

// items scans n items (or up to a break when indef) from off.
func (s *scanner) items(off int, indef bool, n uint64, depth int) (int, error) {
	for i := uint64(0); indef || i < n; i++ {
		if indef && off < len(s.in) && s.in[off] == 0xff {
			return off + 1, nil
		}
		if !indef && n-i > uint64(len(s.in)-off) {
			return off, errAt(off, "array or map length runs past the end")
		}
		var err error
		if off, err = s.scan(off, depth); err != nil {
			return off, err
		}
	}
	return off, nil
}

func (s *scanner) mapItems(off int, indef bool, n uint64, depth int) (int, error) {
	idx := len(s.objects)
	if !s.noObjects {
		s.objects = append(s.objects, false)
	}
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	textKeys := true
	for i := uint64(0); indef || i < n; i++ {
		if indef && off < len(s.in) && s.in[off] == 0xff {
			off++
			break
		}
		if !indef && n-i > uint64(len(s.in)-off)/2 {
			return off, errAt(off, "array or map length runs past the end")
		}
		k := off
		var err error
		if off, err = s.scan(off, depth); err != nil {
			return off, err
		}
		if textKeys && s.in[k]>>5 == 3 {
			t, _, _ := s.str(k)
			s.keys = append(s.keys, t)
		} else {
			textKeys = false
		}
		if indef && off < len(s.in) && s.in[off] == 0xff {
			return off, errAt(off, "indefinite-length map ends after a key")
		}
		if off, err = s.scan(off, depth); err != nil {
			return off, err
		}
	}
	if !s.noObjects {
		s.objects[idx] = textKeys && objectKeys(s.keys[base:])
	}
	return off, nil
}

// objectKeys reports whether a map with these text keys is written as a
// JSON object: its keys are distinct and it is not one reserved key.
func objectKeys(keys [][]byte) bool {
	if len(keys) == 1 {
		return !isReserved(string(keys[0]))
	}
	if len(keys) <= 16 {
		for i := range keys {
			for j := i + 1; j < len(keys); j++ {
				if bytes.Equal(keys[i], keys[j]) {
					return false
				}
			}
		}
		return true
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, bytes.Compare)
	for i := 1; i < len(sorted); i++ {
		if bytes.Equal(sorted[i-1], sorted[i]) {
			return false
		}
	}
	return true
}

// str checks the byte or text string at off and returns its content (a
// slice of the input when definite, else the chunks joined) and the
// offset after it.
func (s *scanner) str(off int) ([]byte, int, error) {
	major, ai, n, next, err := readHead(s.in, off)
	if err != nil {
		return nil, off, err
	}
	if ai != 31 {
		return s.chunk(major, n, next)
	}
	var joined []byte
	for {
		if next >= len(s.in) {
			return nil, next, errAt(next, "unexpected end of CBOR")
		}
		if s.in[next] == 0xff {
			return joined, next + 1, nil
		}
		cm, cai, cn, cnext, err := readHead(s.in, next)
		if err != nil {
			return nil, next, err
		}
		if cm != major || cai == 31 {
			return nil, next, errAt(next, "bad chunk in an indefinite-length string")
		}
		c, end, err := s.chunk(major, cn, cnext)
		if err != nil {
			return nil, end, err
		}
		if joined == nil {
			joined = []byte{}
		}
		joined = append(joined, c...)
		next = end
	}
}

func (s *scanner) chunk(major byte, n uint64, off int) ([]byte, int, error) {
	if n > uint64(len(s.in)-off) {
		return nil, off, errAt(off, "string runs past the end")
	}
	c := s.in[off : off+int(n)]
	if major == 3 && !utf8.Valid(c) {
		return nil, off, errAt(off, "text string is not valid UTF-8")
	}
	return c, off + int(n), nil
}

// writer writes JSON for an item the scanner checked.
type writer struct {
	in      []byte
	pos     int
	out     []byte
	objects []bool
	nmap    int
}

func (w *writer) item(depth int) {
	major, ai, arg, next, _ := readHead(w.in, w.pos)
	switch major {
	case 0:
		w.pos = next
		w.out = strconv.AppendUint(w.out, arg, 10)
	case 1:
		w.pos = next
		if arg == math.MaxUint64 {
			w.out = append(w.out, "-18446744073709551616"...)
		} else {
			w.out = append(w.out, '-')
			w.out = strconv.AppendUint(w.out, arg+1, 10)
		}
	case 2:
		s := scanner{in: w.in}
		b, end, _ := s.str(w.pos)
		w.pos = end
		w.out = append(w.out, `{"$bytes":"`...)
		w.out = hex.AppendEncode(w.out, b)
		w.out = append(w.out, `"}`...)
	case 3:
		s := scanner{in: w.in}
		t, end, _ := s.str(w.pos)
		w.pos = end
		w.out = appendString(w.out, t)
	case 4:
		w.pos = next
		w.out = append(w.out, '[')
		for i := uint64(0); ai == 31 || i < arg; i++ {
			if ai == 31 && w.in[w.pos] == 0xff {
				w.pos++
				break
			}
			if i > 0 {
				w.out = append(w.out, ',')
			}
			w.item(depth + 1)
		}
		w.out = append(w.out, ']')
	case 5:
		w.pos = next
		w.writeMap(ai == 31, arg, depth)
	case 6:
		w.pos = next
		if (arg == 2 || arg == 3) && w.bignum(arg == 3) {
			return
		}
		w.out = append(w.out, `{"$tag":[`...)
		w.out = strconv.AppendUint(w.out, arg, 10)
		w.out = append(w.out, ',')
		w.item(depth + 1)
		w.out = append(w.out, "]}"...)
	case 7:
		w.pos = next
		switch {
		case ai == 20:
			w.out = append(w.out, "false"...)
		case ai == 21:
			w.out = append(w.out, "true"...)
		case ai == 22:
			w.out = append(w.out, "null"...)
		case ai == 23:
			w.out = append(w.out, `{"$undefined":true}`...)
		case ai == 25:
			w.float(float64(float16.Frombits(uint16(arg)).Float32()))
		case ai == 26:
			w.float(float64(math.Float32frombits(uint32(arg))))
		case ai == 27:
			w.float(math.Float64frombits(arg))
		default: // simple values 0-19 and 32-255
			w.out = append(w.out, `{"$simple":`...)
			w.out = strconv.AppendUint(w.out, arg, 10)
			w.out = append(w.out, '}')
		}
	}
}

func (w *writer) writeMap(indef bool, n uint64, depth int) {
	object := w.objects[w.nmap]
	w.nmap++
	if object {
		w.out = append(w.out, '{')
	} else {
		w.out = append(w.out, `{"$map":[`...)
	}
	for i := uint64(0); indef || i < n; i++ {
		if indef && w.in[w.pos] == 0xff {
			w.pos++
			break
		}
		if i > 0 {
			w.out = append(w.out, ',')
		}
		if object {
			w.item(depth + 1)
			w.out = append(w.out, ':')
			w.item(depth + 1)
		} else {
			w.out = append(w.out, '[')
			w.item(depth + 1)
			w.out = append(w.out, ',')
			w.item(depth + 1)
			w.out = append(w.out, ']')
		}
	}
	if object {
		w.out = append(w.out, '}')
	} else {
		w.out = append(w.out, "]}"...)
	}
}

// bignum writes the content of tag 2 or 3 at pos as a JSON integer when
// it is a byte string of at most maxBignumBytes once leading zeros are
// dropped (a bignum, RFC 8949 §3.4.3), and reports whether it did.
func (w *writer) bignum(neg bool) bool {
	if w.in[w.pos]>>5 != 2 {
		return false
	}
	s := scanner{in: w.in}
	b, end, _ := s.str(w.pos)
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) > maxBignumBytes {
		return false
	}
	m := new(big.Int).SetBytes(b)
	if neg {
		m.Add(m, big.NewInt(1))
		w.out = append(w.out, '-')
	}
	w.out = m.Append(w.out, 10)
	w.pos = end
	return true
}

// float writes a float as a JSON number that reads back as a float: with
// a fraction or an exponent, formatted as encoding/json formats floats.
func (w *writer) float(f float64) {
	switch {
	case math.IsNaN(f):
		w.out = append(w.out, `{"$float":"NaN"}`...)
		return
	case math.IsInf(f, 1):
		w.out = append(w.out, `{"$float":"Infinity"}`...)
		return
	case math.IsInf(f, -1):
		w.out = append(w.out, `{"$float":"-Infinity"}`...)
		return
	}
	start := len(w.out)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.out = strconv.AppendFloat(w.out, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(w.out)
		if n-start >= 4 && w.out[n-4] == 'e' && w.out[n-3] == '-' && w.out[n-2] == '0' {
			w.out[n-2] = w.out[n-1]
			w.out = w.out[:n-1]
		}
		return
	}
	if bytes.IndexByte(w.out[start:], '.') < 0 {
		w.out = append(w.out, ".0"...)
	}
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as ToJSON escapes
// text: quotes, backslashes, control characters, and U+2028 and U+2029
// (which some JavaScript parsers refuse raw). Invalid UTF-8 becomes
// U+FFFD.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
