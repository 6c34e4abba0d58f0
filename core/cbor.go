package core

import (
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// MaxNesting is the deepest nesting of arrays, maps and tags a value may
// have. Decoders on every host recurse; this keeps them safe.
const MaxNesting = 512

// frame is an open array, map or tag: left counts the items still due
// (definite), or seen counts the items read so far (indefinite).
type frame struct {
	left  uint64
	seen  uint64
	indef bool
	isMap bool
}

// CheckValue reports whether b is exactly one well-formed CBOR data item
// (RFC 8949 §5.3.1 and Appendix C) whose text strings are valid UTF-8,
// whose nesting is at most MaxNesting, and whose tags 0-3 hold the type of
// content RFC 8949 §3.4 requires (text for 0, a number for 1, bytes for 2
// and 3), so that every host's decoder reads it. It never recurses and
// never panics.
//
// It is one flat loop on purpose: in the wasm guest every function call
// is expensive, and values are checked on every write.
func CheckValue(b []byte) *Error {
	if wellFormed(b) {
		return nil
	}
	if len(b) == 0 {
		return errorf(InvalidValue, "invalid value: empty")
	}
	var buf [16]frame // enough for most values: no allocation
	stack := buf[:0]
	off, n := 0, len(b)
	for {
		// One item is due: account for it in the innermost container, or
		// close an indefinite container at its break byte.
		if d := len(stack); d > 0 {
			top := &stack[d-1]
			if top.indef {
				if off < n && b[off] == 0xff {
					if top.isMap && top.seen%2 == 1 {
						return malformed("indefinite-length map ends after a key", off)
					}
					off++
					stack = stack[:d-1]
					stack = popDone(stack)
					if len(stack) == 0 {
						break
					}
					continue
				}
				top.seen++
			} else {
				top.left--
			}
		}
		if off >= n {
			return malformed("unexpected end", off)
		}
		start := off
		ib := b[off]
		off++
		major, ai := ib>>5, ib&0x1f
		var arg uint64
		switch {
		case ai < 24:
			arg = uint64(ai)
		case ai <= 27:
			w := 1 << (ai - 24)
			if n-off < w {
				return malformed("unexpected end", off)
			}
			for _, c := range b[off : off+w] {
				arg = arg<<8 | uint64(c)
			}
			off += w
		case ai == 31:
			switch major {
			case 0, 1, 6:
				return malformed("indefinite length on an integer or tag", start)
			case 7:
				return malformed("unexpected break", start)
			}
		default:
			return malformed("reserved additional information", start)
		}
		switch major {
		case 2, 3:
			if ai == 31 {
				var err *Error
				if off, err = indefString(b, off, major); err != nil {
					return err
				}
				break
			}
			// str, inline: most values are short strings.
			if arg > uint64(n-off) {
				return malformed("string runs past the end", off)
			}
			end := off + int(arg)
			if major == 3 {
				// ASCII 8 bytes at a time, inline (a call per string
				// is dear in the wasm guest); utf8.Valid decides the rest.
				var or uint64
				i := off
				for ; i+8 <= end; i += 8 {
					or |= *(*uint64)(unsafe.Pointer(&b[i]))
				}
				for ; i < end; i++ {
					or |= uint64(b[i])
				}
				if or&0x8080808080808080 != 0 && !utf8.Valid(b[off:end]) {
					return malformed("text string is not valid UTF-8", off)
				}
			}
			off = end
		case 4, 5:
			if len(stack) >= MaxNesting {
				return malformed("nesting deeper than 512", start)
			}
			if ai == 31 {
				stack = append(stack, frame{indef: true, isMap: major == 5})
				continue
			}
			// Every item takes at least one byte: a longer count cannot fit.
			rest := uint64(n - off)
			if arg > rest || (major == 5 && arg*2 > rest) {
				return malformed("container length runs past the end", start)
			}
			if major == 5 {
				arg *= 2
			}
			if arg > 0 {
				stack = append(stack, frame{left: arg})
				continue
			}
		case 6:
			if len(stack) >= MaxNesting {
				return malformed("nesting deeper than 512", start)
			}
			if arg <= 3 && off < n && !tagContentOK(arg, b[off]) {
				return malformed("tag "+strconv.Itoa(int(arg))+" holds the wrong type of content", off)
			}
			stack = append(stack, frame{left: 1})
			continue
		case 7:
			if ai == 24 && arg < 32 {
				return malformed("two-byte simple value below 32", start)
			}
		}
		stack = popDone(stack)
		if len(stack) == 0 {
			break
		}
	}
	if off != n {
		return errorf(InvalidValue, "invalid value: %d trailing bytes after the CBOR item", n-off)
	}
	return nil
}

// wellFormed is CheckValue's fast path, for the values most writes carry:
// definite lengths, no tags, ASCII text, at most MaxNesting containers in
// all. It counts the items still due instead of keeping a stack (a
// container adds its items), which the guest runs several times faster.
// It returns true only for values CheckValue accepts; false sends the
// value to the full check, which decides it and says why.
func wellFormed(b []byte) bool {
	n := uint64(len(b))
	var off, due, containers uint64 = 0, 1, 0
	for due > 0 {
		if off >= n || due > n-off {
			return false
		}
		ib := b[off]
		off++
		major, ai := ib>>5, ib&0x1f
		arg := uint64(ai)
		if ai >= 24 {
			if ai > 27 {
				return false // indefinite lengths, breaks, reserved
			}
			w := uint64(1) << (ai - 24)
			if n-off < w {
				return false
			}
			arg = 0
			for _, c := range b[off : off+w] {
				arg = arg<<8 | uint64(c)
			}
			off += w
		}
		due--
		switch major {
		case 2, 3:
			if arg > n-off {
				return false
			}
			end := off + arg
			if major == 3 {
				var or uint64
				i := off
				for ; i+8 <= end; i += 8 {
					or |= *(*uint64)(unsafe.Pointer(&b[i]))
				}
				for ; i < end; i++ {
					or |= uint64(b[i])
				}
				if or&0x8080808080808080 != 0 {
					return false
				}
			}
			off = end
		case 4, 5:
			if containers++; containers > MaxNesting || arg > n-off {
				return false
			}
			if major == 5 {
				arg *= 2
			}
			due += arg
		case 6:
			return false
		case 7:
			if ai == 24 && arg < 32 {
				return false
			}
		}
	}
	return off == n
}

// tagContentOK checks the content of the tags every decoder interprets:
// 0 (date/time text), 1 (epoch number), 2 and 3 (bignum bytes).
func tagContentOK(tag uint64, head byte) bool {
	switch tag {
	case 0:
		return head>>5 == 3
	case 1:
		return head>>5 <= 1 || (head >= 0xf9 && head <= 0xfb)
	default:
		return head>>5 == 2
	}
}

// popDone closes the definite containers whose items are all read.
func popDone(stack []frame) []frame {
	for d := len(stack); d > 0 && !stack[d-1].indef && stack[d-1].left == 0; d-- {
		stack = stack[:d-1]
	}
	return stack
}

func malformed(why string, off int) *Error {
	return errorf(InvalidValue, "invalid value: %s at byte %d", why, off)
}

// str skips a definite-length string of length l at off.
func str(b []byte, off int, major byte, l uint64) (int, *Error) {
	if l > uint64(len(b)-off) {
		return off, malformed("string runs past the end", off)
	}
	end := off + int(l)
	if major == 3 && !ascii(b[off:end]) && !utf8.Valid(b[off:end]) {
		return off, malformed("text string is not valid UTF-8", off)
	}
	return end, nil
}

// ascii reports whether b is all ASCII, 8 bytes at a time.
func ascii(b []byte) bool {
	var or uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		or |= *(*uint64)(unsafe.Pointer(&b[i]))
	}
	for ; i < len(b); i++ {
		or |= uint64(b[i])
	}
	return or&0x8080808080808080 == 0
}

// indefString skips the chunks of an indefinite-length string and its
// break byte: each chunk a definite string of the same major type.
func indefString(b []byte, off int, major byte) (int, *Error) {
	for {
		if off >= len(b) {
			return off, malformed("unexpected end", off)
		}
		ib := b[off]
		if ib == 0xff {
			return off + 1, nil
		}
		if ib>>5 != major || ib&0x1f > 27 {
			return off, malformed("bad chunk in indefinite-length string", off)
		}
		var l uint64
		off++
		if ai := ib & 0x1f; ai < 24 {
			l = uint64(ai)
		} else {
			w := 1 << (ai - 24)
			if len(b)-off < w {
				return off, malformed("unexpected end", off)
			}
			for _, c := range b[off : off+w] {
				l = l<<8 | uint64(c)
			}
			off += w
		}
		var err *Error
		if off, err = str(b, off, major, l); err != nil {
			return off, err
		}
	}
}
