package cborjson

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/x448/float16"
)

// maxJSONDepth bounds the nesting of JSON arrays and objects FromJSON
// reads: room for MaxNesting CBOR levels written as $tag or $map forms.
const maxJSONDepth = 4 * MaxNesting

// maxIntDigits bounds the digits of an integer literal, so that big ones
// convert in bounded time; its bignum fits in maxBignumBytes.
const maxIntDigits = 2400

// FromJSON converts one JSON value (RFC 8259, white space around it
// allowed) to deterministic CBOR, reading the reserved forms described in
// the package documentation.
//
// # Errors
//
// An *Error (errors.Is ErrSyntax) for JSON that is not well-formed, text
// that is not UTF-8, an object with a repeated key, a number out of the
// float64 range, nesting deeper than 4*MaxNesting, or a malformed
// reserved form.
func FromJSON(j []byte) ([]byte, error) { return AppendCBOR(nil, j) }

// AppendCBOR is FromJSON appending to dst. On error dst is returned
// unchanged in length.
func AppendCBOR(dst, j []byte) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, len(j)) // CBOR is rarely longer than its JSON
	}
	p := parsers.Get().(*parser)
	defer p.release()
	p.in, p.pos, p.out = j, 0, dst
	p.ws()
	if err := p.value(0); err != nil {
		return dst[:len(dst):len(dst)], err
	}
	p.ws()
	if p.pos != len(p.in) {
		return dst[:len(dst):len(dst)], errAt(p.pos, "unexpected %s after the JSON value", p.what())
	}
	return p.out, nil
}

// pair locates a key/value pair of a map being written, by offsets in
// parser.out: key at [k, v), value at [v, end).
type pair struct{ k, v, end int }

type parser struct {
	in      []byte
	pos     int
	out     []byte
	pairs   []pair // open maps' pairs, innermost last
	scratch []byte // a string's bytes when it had escapes
	tmp     []byte // a map's pairs while they are sorted
}

// parsers keeps parsers' buffers for reuse.
var parsers = sync.Pool{New: func() any { return new(parser) }}

// release returns p to the pool, keeping buffers of a reasonable size.
func (p *parser) release() {
	p.in, p.out = nil, nil
	if cap(p.scratch) > 64<<10 || cap(p.tmp) > 64<<10 || cap(p.pairs) > 4096 {
		return
	}
	p.pairs, p.scratch, p.tmp = p.pairs[:0], p.scratch[:0], p.tmp[:0]
	parsers.Put(p)
}

func (p *parser) ws() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// what describes the byte at pos for an error message.
func (p *parser) what() string {
	if p.pos >= len(p.in) {
		return "end of input"
	}
	c := p.in[p.pos]
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + hex.EncodeToString([]byte{c})
}

func (p *parser) value(depth int) error {
	if p.pos >= len(p.in) {
		return errAt(p.pos, "unexpected end of input, want a JSON value")
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.out = appendHead(p.out, 3, uint64(len(s)))
		p.out = append(p.out, s...)
		return nil
	case c == 't':
		return p.literal("true", 0xf5)
	case c == 'f':
		return p.literal("false", 0xf4)
	case c == 'n':
		return p.literal("null", 0xf6)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return errAt(p.pos, "unexpected %s, want a JSON value", p.what())
}

func (p *parser) literal(word string, b byte) error {
	if !bytes.HasPrefix(p.in[p.pos:], []byte(word)) {
		return errAt(p.pos, "invalid literal, want %s", word)
	}
	p.pos += len(word)
	p.out = append(p.out, b)
	return nil
}

func (p *parser) array(depth int) error {
	if depth > maxJSONDepth {
		return errAt(p.pos, "JSON nested deeper than %d", maxJSONDepth)
	}
	p.pos++
	start := len(p.out)
	n := uint64(0)
	p.ws()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		p.out = append(p.out, 0x80)
		return nil
	}
	for {
		p.ws()
		if err := p.value(depth); err != nil {
			return err
		}
		n++
		p.ws()
		if p.pos >= len(p.in) {
			return errAt(p.pos, "unexpected end of input in an array")
		}
		c := p.in[p.pos]
		p.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			p.pos--
			return errAt(p.pos, "unexpected %s in an array, want ',' or ']'", p.what())
		}
	}
	var h [9]byte
	p.out = slices.Insert(p.out, start, appendHead(h[:0], 4, n)...)
	return nil
}

func (p *parser) object(depth int) error {
	if depth > maxJSONDepth {
		return errAt(p.pos, "JSON nested deeper than %d", maxJSONDepth)
	}
	open := p.pos
	p.pos++
	start := len(p.out)
	base := len(p.pairs)
	defer func() { p.pairs = p.pairs[:base] }()
	p.ws()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		p.out = append(p.out, 0xa0)
		return nil
	}
	for {
		p.ws()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return errAt(p.pos, "unexpected %s in an object, want a string key", p.what())
		}
		k := len(p.out)
		s, err := p.str()
		if err != nil {
			return err
		}
		p.out = appendHead(p.out, 3, uint64(len(s)))
		p.out = append(p.out, s...)
		p.ws()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return errAt(p.pos, "unexpected %s after an object key, want ':'", p.what())
		}
		p.pos++
		p.ws()
		v := len(p.out)
		if err := p.value(depth); err != nil {
			return err
		}
		p.pairs = append(p.pairs, pair{k, v, len(p.out)})
		p.ws()
		if p.pos >= len(p.in) {
			return errAt(p.pos, "unexpected end of input in an object")
		}
		c := p.in[p.pos]
		p.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			p.pos--
			return errAt(p.pos, "unexpected %s in an object, want ',' or '}'", p.what())
		}
	}
	ps := p.pairs[base:]
	if len(ps) == 1 {
		if key, ok := shortText(p.out[ps[0].k:ps[0].v]); ok && isReserved(key) {
			form, err := p.special(key, p.out[ps[0].v:ps[0].end], open)
			if err != nil {
				return err
			}
			p.out = append(p.out[:start], form...)
			return nil
		}
	}
	return p.writeMap(start, ps, true, open)
}

// writeMap rewrites the pairs written from start (ps, in order) as one
// map: its head, then the pairs sorted by key bytes.
func (p *parser) writeMap(start int, ps []pair, unique bool, off int) error {
	out := p.out
	slices.SortStableFunc(ps, func(a, b pair) int { return bytes.Compare(out[a.k:a.v], out[b.k:b.v]) })
	if unique {
		for i := 1; i < len(ps); i++ {
			if bytes.Equal(out[ps[i-1].k:ps[i-1].v], out[ps[i].k:ps[i].v]) {
				return errAt(off, "object has a repeated key")
			}
		}
	}
	p.tmp = append(p.tmp[:0], out[start:]...)
	p.out = appendHead(out[:start], 5, uint64(len(ps)))
	for _, q := range ps {
		p.out = append(p.out, p.tmp[q.k-start:q.end-start]...)
	}
	return nil
}

// shortText returns the text of a CBOR text string shorter than 24 bytes.
func shortText(b []byte) (string, bool) {
	if len(b) == 0 || b[0]>>5 != 3 || int(b[0]&0x1f) != len(b)-1 {
		return "", false
	}
	return string(b[1:]), true
}

// special returns the CBOR of a reserved form whose member's value was
// written as v; off is the form's offset in the JSON, for errors.
func (p *parser) special(key string, v []byte, off int) ([]byte, error) {
	bad := func(want string) ([]byte, error) {
		return nil, errAt(off, "malformed %s form: want {%q: %s}", key, key, want)
	}
	switch key {
	case keyBytes:
		s, ok := definiteText(v)
		if !ok {
			return bad("hex digits")
		}
		b := make([]byte, 0, 9+len(s)/2)
		b = appendHead(b, 2, uint64(len(s)/2))
		n := len(b)
		b = b[:n+len(s)/2]
		if _, err := hex.Decode(b[n:], s); err != nil || len(s)%2 != 0 {
			return bad("hex digits")
		}
		return b, nil
	case keyFloat:
		s, _ := definiteText(v)
		switch string(s) {
		case "NaN":
			return []byte{0xf9, 0x7e, 0x00}, nil
		case "Infinity":
			return []byte{0xf9, 0x7c, 0x00}, nil
		case "-Infinity":
			return []byte{0xf9, 0xfc, 0x00}, nil
		}
		return bad(`"NaN", "Infinity" or "-Infinity"`)
	case keyInt:
		s, ok := definiteText(v)
		if !ok || !isIntLiteral(s) || len(s) > maxIntDigits+1 {
			return bad("a decimal integer string")
		}
		return appendInt(nil, s), nil
	case keyTag:
		items, ok := arrayItems(v)
		if !ok || len(items) != 2 || items[0][0]>>5 != 0 {
			return bad("[tag number, content]")
		}
		_, _, n, _, _ := readHead(items[0], 0)
		return append(appendHead(nil, 6, n), items[1]...), nil
	case keyMap:
		items, ok := arrayItems(v)
		if !ok {
			return bad("[[key, value], ...]")
		}
		b := make([]byte, 0, len(v))
		base := len(p.pairs)
		for _, it := range items {
			kv, ok := arrayItems(it)
			if !ok || len(kv) != 2 {
				p.pairs = p.pairs[:base]
				return bad("[[key, value], ...]")
			}
			k := len(b)
			b = append(b, kv[0]...)
			p.pairs = append(p.pairs, pair{k, len(b), len(b) + len(kv[1])})
			b = append(b, kv[1]...)
		}
		saved := p.out
		p.out = b
		p.writeMap(0, p.pairs[base:], false, off)
		b, p.out = p.out, saved
		p.pairs = p.pairs[:base]
		return b, nil
	case keyUndefined:
		if !bytes.Equal(v, []byte{0xf5}) {
			return bad("true")
		}
		return []byte{0xf7}, nil
	case keySimple:
		major, ai, n, next, _ := readHead(v, 0)
		if major != 0 || ai == 31 || next != len(v) || (n >= 20 && n < 32) || n > 255 {
			return bad("a number from 0 to 19 or 32 to 255")
		}
		if n < 20 {
			return []byte{0xe0 | byte(n)}, nil
		}
		return []byte{0xf8, byte(n)}, nil
	}
	panic("unreachable: " + key)
}

// definiteText returns the content of a definite-length text string that
// is the whole of b.
func definiteText(b []byte) ([]byte, bool) {
	major, ai, n, next, err := readHead(b, 0)
	if err != nil || major != 3 || ai == 31 || uint64(len(b)-next) != n {
		return nil, false
	}
	return b[next:], true
}

// arrayItems splits a definite-length array that is the whole of b, as
// this package writes them, into its items.
func arrayItems(b []byte) ([][]byte, bool) {
	major, ai, n, off, err := readHead(b, 0)
	if err != nil || major != 4 || ai == 31 || n > uint64(len(b)) {
		return nil, false
	}
	items := make([][]byte, 0, n)
	for range n {
		end, err := skip(b, off, 0)
		if err != nil {
			return nil, false
		}
		items = append(items, b[off:end])
		off = end
	}
	return items, off == len(b)
}

// str reads a JSON string at pos and returns its UTF-8 bytes: a slice of
// the input when it has no escapes, else of p.scratch.
func (p *parser) str() ([]byte, error) {
	p.pos++ // the opening quote
	start := p.pos
	ascii := true
	for i := p.pos; i < len(p.in); i++ {
		c := p.in[i]
		switch {
		case c == '"':
			s := p.in[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, errAt(start, "string is not valid UTF-8")
			}
			p.pos = i + 1
			return s, nil
		case c == '\\':
			return p.escapedStr(start)
		case c < 0x20:
			return nil, errAt(i, "control character in a string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, errAt(len(p.in), "unexpected end of input in a string")
}

func (p *parser) escapedStr(start int) ([]byte, error) {
	b := p.scratch[:0]
	i := start
	for {
		if i >= len(p.in) {
			return nil, errAt(i, "unexpected end of input in a string")
		}
		c := p.in[i]
		switch {
		case c == '"':
			p.pos = i + 1
			p.scratch = b
			return b, nil
		case c < 0x20:
			return nil, errAt(i, "control character in a string")
		case c == '\\':
			if i+1 >= len(p.in) {
				return nil, errAt(i, "unexpected end of input in a string")
			}
			e := p.in[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(p.in, i)
				if !ok {
					return nil, errAt(i-2, "invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+6 <= len(p.in) && p.in[i] == '\\' && p.in[i+1] == 'u' {
						r2, ok = hex4(p.in, i+2)
					}
					r = utf16.DecodeRune(r, r2)
					if !ok || r == utf8.RuneError {
						return nil, errAt(i-6, "lone surrogate in a \\u escape")
					}
					i += 6
				}
				b = utf8.AppendRune(b, r)
			default:
				return nil, errAt(i-2, "invalid escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(p.in[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, errAt(i, "string is not valid UTF-8")
			}
			b = append(b, p.in[i:i+size]...)
			i += size
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads a JSON number: an integer when it has neither fraction nor
// exponent, else a float64.
func (p *parser) number() error {
	start := p.pos
	i := p.pos
	if p.in[i] == '-' {
		i++
	}
	digits := i
	switch {
	case i < len(p.in) && p.in[i] == '0':
		i++
	case i < len(p.in) && p.in[i] >= '1' && p.in[i] <= '9':
		for i < len(p.in) && p.in[i] >= '0' && p.in[i] <= '9' {
			i++
		}
	default:
		return errAt(i, "invalid number")
	}
	isInt := true
	if i < len(p.in) && p.in[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(p.in) && p.in[i] >= '0' && p.in[i] <= '9' {
			i++
		}
		if i == d {
			return errAt(i, "invalid number: no digits after '.'")
		}
	}
	if i < len(p.in) && (p.in[i] == 'e' || p.in[i] == 'E') {
		isInt = false
		i++
		if i < len(p.in) && (p.in[i] == '+' || p.in[i] == '-') {
			i++
		}
		d := i
		for i < len(p.in) && p.in[i] >= '0' && p.in[i] <= '9' {
			i++
		}
		if i == d {
			return errAt(i, "invalid number: no digits in the exponent")
		}
	}
	p.pos = i
	lit := p.in[start:i]
	if isInt {
		if i-digits > maxIntDigits {
			return errAt(start, "integer of more than %d digits", maxIntDigits)
		}
		p.out = appendInt(p.out, lit)
		return nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return errAt(start, "number %s is out of the float64 range", lit)
	}
	p.out = appendFloat(p.out, f)
	return nil
}

func isIntLiteral(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var two64 = new(big.Int).Lsh(big.NewInt(1), 64)

// appendInt writes a decimal integer literal (checked by the caller) as a
// CBOR integer, or as a bignum beyond 64 bits.
func appendInt(dst, lit []byte) []byte {
	neg := lit[0] == '-'
	mag := lit
	if neg {
		mag = lit[1:]
	}
	if u, err := strconv.ParseUint(string(mag), 10, 64); err == nil {
		switch {
		case !neg:
			return appendHead(dst, 0, u)
		case u == 0:
			return append(dst, 0x00)
		default:
			return appendHead(dst, 1, u-1)
		}
	}
	m, _ := new(big.Int).SetString(string(mag), 10)
	if !neg {
		return append(appendHead(append(dst, 0xc2), 2, uint64(len(m.Bytes()))), m.Bytes()...)
	}
	m.Sub(m, big.NewInt(1)) // -1 - m'
	if m.Cmp(two64) < 0 {
		return appendHead(dst, 1, m.Uint64())
	}
	return append(appendHead(append(dst, 0xc3), 2, uint64(len(m.Bytes()))), m.Bytes()...)
}

// appendFloat writes f in the shortest of float16, float32 and float64
// that holds it exactly, as the Go host's deterministic encoder does.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, 0xf9, 0x7e, 0x00)
	case math.IsInf(f, 1):
		return append(dst, 0xf9, 0x7c, 0x00)
	case math.IsInf(f, -1):
		return append(dst, 0xf9, 0xfc, 0x00)
	}
	f32 := float32(f)
	if float64(f32) != f {
		u := math.Float64bits(f)
		return append(dst, 0xfb, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	p := float16.PrecisionFromfloat32(f32)
	f16 := float16.Fromfloat32(f32)
	if p == float16.PrecisionExact || (p == float16.PrecisionUnknown && f16.Float32() == f32) {
		u := f16.Bits()
		return append(dst, 0xf9, byte(u>>8), byte(u))
	}
	u := math.Float32bits(f32)
	return append(dst, 0xfa, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// appendHead writes a CBOR head with the shortest argument.
func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return append(dst, m|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
