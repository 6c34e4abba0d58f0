package core

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxNesting is the deepest nesting of arrays, maps and tags a value may
// have. Decoders on every host recurse; this keeps them safe.
const MaxNesting = 512

// CheckValue reports whether b is exactly one well-formed CBOR data item
// (RFC 8949 §5.3.1 and Appendix C) whose text strings are valid UTF-8 and
// whose nesting is at most MaxNesting. It never recurses and never panics.
func CheckValue(b []byte) *Error {
	if len(b) == 0 {
		return errorf(InvalidValue, "invalid value: empty")
	}
	c := cborChecker{b: b}
	if err := c.item(); err != nil {
		return err
	}
	if c.off != len(b) {
		return errorf(InvalidValue, "invalid value: %d trailing bytes after the CBOR item", len(b)-c.off)
	}
	return nil
}

type cborChecker struct {
	b     []byte
	off   int
	stack []frame
}

// frame is an open array, map or tag: left counts the items still due
// (definite), or seen counts the items read so far (indefinite).
type frame struct {
	left  uint64
	seen  uint64
	indef bool
	isMap bool
}

func (c *cborChecker) fail(why string) *Error {
	return errorf(InvalidValue, "invalid value: %s at byte %d", why, c.off)
}

// head reads an initial byte and its argument.
func (c *cborChecker) head() (major byte, ai byte, arg uint64, err *Error) {
	if c.off >= len(c.b) {
		return 0, 0, 0, c.fail("unexpected end")
	}
	ib := c.b[c.off]
	c.off++
	major, ai = ib>>5, ib&0x1f
	var n int
	switch {
	case ai < 24:
		return major, ai, uint64(ai), nil
	case ai == 24:
		n = 1
	case ai == 25:
		n = 2
	case ai == 26:
		n = 4
	case ai == 27:
		n = 8
	case ai == 31:
		return major, ai, 0, nil
	default:
		c.off--
		return 0, 0, 0, c.fail("reserved additional information")
	}
	if len(c.b)-c.off < n {
		return 0, 0, 0, c.fail("unexpected end")
	}
	p := c.b[c.off : c.off+n]
	c.off += n
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	return major, ai, arg, nil
}

func (c *cborChecker) str(major byte, n uint64) *Error {
	if n > uint64(len(c.b)-c.off) {
		return c.fail("string runs past the end")
	}
	s := c.b[c.off : c.off+int(n)]
	c.off += int(n)
	if major == 3 && !utf8.Valid(s) {
		return c.fail("text string is not valid UTF-8")
	}
	return nil
}

// indefString checks the chunks of an indefinite-length string.
func (c *cborChecker) indefString(major byte) *Error {
	for {
		if c.off >= len(c.b) {
			return c.fail("unexpected end")
		}
		if c.b[c.off] == 0xff {
			c.off++
			return nil
		}
		m, ai, n, err := c.head()
		if err != nil {
			return err
		}
		if m != major || ai == 31 {
			return c.fail("bad chunk in indefinite-length string")
		}
		if err := c.str(m, n); err != nil {
			return err
		}
	}
}

// item checks one data item, nested items included, without recursion.
func (c *cborChecker) item() *Error {
	for {
		closed := false
		if n := len(c.stack); n > 0 {
			top := &c.stack[n-1]
			if top.indef {
				if c.off < len(c.b) && c.b[c.off] == 0xff {
					if top.isMap && top.seen%2 == 1 {
						return c.fail("indefinite-length map ends after a key")
					}
					c.off++
					c.stack = c.stack[:n-1]
					closed = true
				} else {
					top.seen++
				}
			} else {
				top.left--
			}
		}
		if !closed {
			if err := c.one(); err != nil {
				return err
			}
		}
		for n := len(c.stack); n > 0 && !c.stack[n-1].indef && c.stack[n-1].left == 0; n-- {
			c.stack = c.stack[:n-1]
		}
		if len(c.stack) == 0 {
			return nil
		}
	}
}

// one reads one data item's head; strings are consumed whole, containers
// push a frame for their contents.
func (c *cborChecker) one() *Error {
	major, ai, arg, err := c.head()
	if err != nil {
		return err
	}
	switch major {
	case 0, 1:
		if ai == 31 {
			c.off--
			return c.fail("indefinite length on an integer")
		}
	case 2, 3:
		if ai == 31 {
			return c.indefString(major)
		}
		return c.str(major, arg)
	case 4, 5:
		if len(c.stack) >= MaxNesting {
			return c.fail("nesting deeper than 512")
		}
		if ai == 31 {
			c.stack = append(c.stack, frame{indef: true, isMap: major == 5})
			return nil
		}
		// Every item takes at least one byte: a longer count cannot fit.
		if arg > uint64(len(c.b)-c.off) || (major == 5 && arg*2 > uint64(len(c.b)-c.off)) {
			return c.fail("container length runs past the end")
		}
		if major == 5 {
			arg *= 2
		}
		if arg > 0 {
			c.stack = append(c.stack, frame{left: arg})
		}
	case 6:
		if ai == 31 {
			c.off--
			return c.fail("indefinite length on a tag")
		}
		if len(c.stack) >= MaxNesting {
			return c.fail("nesting deeper than 512")
		}
		c.stack = append(c.stack, frame{left: 1})
	case 7:
		switch {
		case ai == 24 && arg < 32:
			return c.fail("two-byte simple value below 32")
		case ai == 31:
			c.off--
			return c.fail("unexpected break")
		}
	}
	return nil
}
