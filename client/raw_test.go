package client

import (
	"bytes"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestReadActorKeepsBytes checks that values come back byte for byte,
// in forms a decoder would normalize: self-described CBOR (tag 55799),
// indefinite lengths, non-shortest heads, unsorted keys, NaN payloads.
func TestReadActorKeepsBytes(t *testing.T) {
	for _, v := range [][]byte{
		{0xd9, 0xd9, 0xf7, 0xa0},                   // 55799({})
		{0xd9, 0xd9, 0xf7, 0xd9, 0xd9, 0xf7, 0xf6}, // 55799(55799(null))
		{0x9f, 0x01, 0x7f, 0x61, 0x61, 0xff, 0xff}, // [_ 1, (_ "a")]
		{0x18, 0x01}, // 1 in two bytes
		{0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02}, // {"b": 1, "a": 2}
		{0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1},       // a NaN with a payload
		{0xf6},
	} {
		b, err := cbor.Marshal(map[string]any{"type": "t", "id": "i", "version": 7, "value": cbor.RawMessage(v)})
		if err != nil {
			t.Fatal(err)
		}
		a, err := readActor(b)
		if err != nil || !bytes.Equal(a.Value, v) || a.Type != "t" || a.ID != "i" || a.Version != 7 {
			t.Errorf("value %x: read %+v, %v", v, a, err)
		}
	}
}

// FuzzWalker feeds the walker arbitrary bytes: it must never panic, and
// must find the end of every well-formed item where a decoder does.
func FuzzWalker(f *testing.F) {
	for _, s := range []string{"a0", "d9d9f7a0", "9f01ff", "bf6161f6ff", "5f4100ff", "7f6161ff", "c0", "ff", "1c", "9b0000000100000000",
		"a46474797065617662696461746776657273696f6e006576616c7565d9d9f7a0"} {
		b := make([]byte, len(s)/2)
		for i := range b {
			var x byte
			for _, c := range s[2*i : 2*i+2] {
				x = x<<4 | byte(bytes.IndexByte([]byte("0123456789abcdef"), byte(c)))
			}
			b[i] = x
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := skip(b, 0, 0)
		var rest []byte
		item, derr := func() ([]byte, error) {
			var raw cbor.RawMessage
			r, err := wireDec.UnmarshalFirst(b, &raw)
			rest = r
			return raw, err
		}()
		if derr == nil && len(item) > 0 && b[0] != 0xd9 { // the decoder drops a leading 55799
			if err != nil || end != len(b)-len(rest) {
				t.Errorf("%x: walker ends at %d (%v), decoder at %d", b, end, err, len(b)-len(rest))
			}
		}
		if err == nil && (end <= 0 || end > len(b)) {
			t.Errorf("%x: walker ends at %d", b, end)
		}
		readActor(b)
		readEvent(b)
		readResult(b)
		rawItems(b)
	})
}
