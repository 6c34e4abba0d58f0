package le

import (
	"encoding/binary"
	"math"
	"testing"
)

// The reference is encoding/binary, whose layouts these are.

var samples = []uint64{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, math.MaxUint32, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64}

func TestFixedMatchesBinary(t *testing.T) {
	for _, v := range samples {
		if got, want := AppendUint64([]byte{9}, v), binary.LittleEndian.AppendUint64([]byte{9}, v); string(got) != string(want) {
			t.Errorf("AppendUint64(%d) = %x, want %x", v, got, want)
		}
		if got, want := AppendUint32(nil, uint32(v)), binary.LittleEndian.AppendUint32(nil, uint32(v)); string(got) != string(want) {
			t.Errorf("AppendUint32(%d) = %x, want %x", uint32(v), got, want)
		}
		b := make([]byte, 8)
		PutUint64(b, v)
		if Uint64(b) != v || binary.LittleEndian.Uint64(b) != v {
			t.Errorf("PutUint64/Uint64(%d): %x", v, b)
		}
		PutUint32(b, uint32(v))
		if Uint32(b) != uint32(v) || binary.LittleEndian.Uint32(b) != uint32(v) {
			t.Errorf("PutUint32/Uint32(%d): %x", uint32(v), b)
		}
	}
}

func TestUvarintMatchesBinary(t *testing.T) {
	for _, v := range samples {
		b := AppendUvarint([]byte{}, v)
		if want := binary.AppendUvarint(nil, v); string(b) != string(want) {
			t.Errorf("AppendUvarint(%d) = %x, want %x", v, b, want)
		}
		if got, n := Uvarint(append(b, 0xff)); got != v || n != len(b) {
			t.Errorf("Uvarint(%x) = %d, %d", b, got, n)
		}
		for i := range b {
			if got, n := Uvarint(b[:i]); got != 0 || n != 0 {
				t.Errorf("Uvarint(%x), truncated = %d, %d; want 0, 0", b[:i], got, n)
			}
		}
	}
	for _, b := range [][]byte{
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02},       // 65 bits
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // 11 bytes
	} {
		gv, gn := Uvarint(b)
		wv, wn := binary.Uvarint(b)
		if gv != wv || gn != wn || gn >= 0 {
			t.Errorf("Uvarint(%x) = %d, %d; binary.Uvarint %d, %d", b, gv, gn, wv, wn)
		}
	}
}

// FuzzUvarint checks Uvarint against binary.Uvarint on any bytes, and
// AppendUvarint against binary.AppendUvarint on any value.
func FuzzUvarint(f *testing.F) {
	f.Add([]byte{}, uint64(0))
	f.Add([]byte{0x80, 0x01}, uint64(128))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint64(math.MaxUint64))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, uint64(1<<63))
	f.Fuzz(func(t *testing.T, b []byte, v uint64) {
		gv, gn := Uvarint(b)
		if wv, wn := binary.Uvarint(b); gv != wv || gn != wn {
			t.Fatalf("Uvarint(%x) = %d, %d; binary.Uvarint %d, %d", b, gv, gn, wv, wn)
		}
		if got, want := AppendUvarint(nil, v), binary.AppendUvarint(nil, v); string(got) != string(want) {
			t.Fatalf("AppendUvarint(%d) = %x, want %x", v, got, want)
		}
	})
}
