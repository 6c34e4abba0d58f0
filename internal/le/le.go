// Package le reads and writes the little-endian integers and uvarints of
// the ABI (internal/abi), mutation records and snapshots (core). It is
// encoding/binary's subset that the module needs, without encoding/binary,
// which links reflect into it (RATIONALE.md: "A small module").
// The byte layouts are encoding/binary's exactly.
package le

// MaxVarintLen64 is the longest encoding of a 64-bit uvarint.
const MaxVarintLen64 = 10

// Uint32 reads b[0:4].
func Uint32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Uint64 reads b[0:8].
func Uint64(b []byte) uint64 {
	_ = b[7]
	return uint64(Uint32(b)) | uint64(Uint32(b[4:]))<<32
}

// PutUint32 writes v into b[0:4].
func PutUint32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// PutUint64 writes v into b[0:8].
func PutUint64(b []byte, v uint64) {
	_ = b[7]
	PutUint32(b, uint32(v))
	PutUint32(b[4:], uint32(v>>32))
}

// AppendUint32 appends v.
func AppendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// AppendUint64 appends v.
func AppendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// AppendUvarint appends v as a uvarint: seven bits a byte, low first, the
// high bit set on all but the last.
func AppendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// Uvarint decodes a uvarint from the start of b and returns it and the
// bytes it took. n is 0 when b ends before the uvarint does, and -(bytes
// read) when it overflows 64 bits, as binary.Uvarint.
func Uvarint(b []byte) (v uint64, n int) {
	var s uint
	for i, c := range b {
		if i == MaxVarintLen64 {
			return 0, -(i + 1)
		}
		if c < 0x80 {
			if i == MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1)
			}
			return v | uint64(c)<<s, i + 1
		}
		v |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}
