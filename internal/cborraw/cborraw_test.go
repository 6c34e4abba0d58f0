package cborraw

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnd(t *testing.T) {
	for _, c := range []struct {
		hex string
		end int // -1: an error
	}{
		{"00", 1}, {"1817", 2}, {"1b0000000000000001", 9}, {"20", 1}, {"3bffffffffffffffff", 9},
		{"4100", 2}, {"6161", 2}, {"5f4100ff", 4}, {"7f6161ff", 4}, {"7f61614100ff", -1}, {"7f7f6161ffff", -1},
		{"80", 1}, {"9f01ff", 3}, {"9f01", -1}, {"a0", 1}, {"bf6161f6ff", 5}, {"bf6161ff", -1}, {"a161", -1},
		{"d9d9f7a0", 4}, {"d9d9f7d9d9f7f6", 7}, {"c0", -1}, {"f4", 1}, {"f97e00", 3}, {"fb7ff8000000000001", 9},
		{"ff", -1}, {"1c", -1}, {"5c", -1}, {"fc", -1}, {"1f", -1}, {"df", -1},
		{"9b0000000100000000", -1}, {"5b0000000100000000", -1}, {"a0ff", 1}, {"", -1},
	} {
		end, err := End(unhex(t, c.hex), 0)
		if c.end < 0 && err == nil || c.end >= 0 && (err != nil || end != c.end) {
			t.Errorf("End(%s) = %d, %v; want %d", c.hex, end, err, c.end)
		}
	}
}

func TestDepth(t *testing.T) {
	deep := func(n int) []byte { return append(bytes.Repeat([]byte{0x81}, n), 0x00) }
	if end, err := End(deep(MaxDepth), 0); err != nil || end != MaxDepth+1 {
		t.Errorf("%d levels: %d, %v", MaxDepth, end, err)
	}
	if _, err := End(deep(MaxDepth+1), 0); err == nil || !strings.Contains(err.Error(), "too deep") {
		t.Errorf("%d levels: %v", MaxDepth+1, err)
	}
	tags := append(bytes.Repeat([]byte{0xc6}, MaxDepth+1), 0x00)
	if _, err := End(tags, 0); err == nil {
		t.Errorf("%d tags: no error", MaxDepth+1)
	}
}

func TestItemsAndFields(t *testing.T) {
	items, err := Items(unhex(t, "83d9d9f7a09f01ff1801"))
	if err != nil || len(items) != 3 || hex.EncodeToString(items[0]) != "d9d9f7a0" ||
		hex.EncodeToString(items[1]) != "9f01ff" || hex.EncodeToString(items[2]) != "1801" {
		t.Errorf("Items: %x, %v", items, err)
	}
	if items, err := Items(unhex(t, "9f0102ff")); err != nil || len(items) != 2 {
		t.Errorf("indefinite Items: %x, %v", items, err)
	}
	for _, bad := range []string{"a0", "8201", "820102ff", "8100ff", "9f01", ""} {
		if items, err := Items(unhex(t, bad)); err == nil {
			t.Errorf("Items(%s) = %x", bad, items)
		}
	}
	m, err := Fields(unhex(t, "bf6176d9d9f7f6616101ff"))
	if err != nil || len(m) != 2 || hex.EncodeToString(m["v"]) != "d9d9f7f6" || hex.EncodeToString(m["a"]) != "01" {
		t.Errorf("Fields: %x, %v", m, err)
	}
	if m, err := Fields(unhex(t, "a27f6161ff0161610102")); err == nil || !strings.Contains(err.Error(), `repeated key "a"`) {
		t.Errorf("Fields with a repeated key: %x, %v", m, err)
	}
	for _, bad := range []string{"a10101", "a161ff01", "80", "a1616101ff", "a0a0", "a1c16161f6"} {
		if m, err := Fields(unhex(t, bad)); err == nil {
			t.Errorf("Fields(%s) = %x", bad, m)
		}
	}
	var keys []string
	if err := Entries(unhex(t, "a2616201616102"), func(k string, v []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil || !reflect.DeepEqual(keys, []string{"b", "a"}) {
		t.Errorf("Entries: keys %q, %v", keys, err)
	}
}

func TestScalars(t *testing.T) {
	for hx, want := range map[string]string{"60": "", "6161": "a", "7f6161626263ff": "abc", "7fff": "", "63e282ac": "€"} {
		if s, err := Text(unhex(t, hx)); err != nil || s != want {
			t.Errorf("Text(%s) = %q, %v", hx, s, err)
		}
	}
	for _, bad := range []string{"61ff", "7f61ffff", "6261", "616100", "4161", "01", "7f4161ff", ""} {
		if s, err := Text(unhex(t, bad)); err == nil {
			t.Errorf("Text(%s) = %q", bad, s)
		}
	}
	for hx, want := range map[string]uint64{"00": 0, "17": 23, "1818": 24, "1b00000000000000ff": 255, "1bffffffffffffffff": 1<<64 - 1} {
		if n, err := Uint(unhex(t, hx)); err != nil || n != want {
			t.Errorf("Uint(%s) = %d, %v", hx, n, err)
		}
	}
	for _, bad := range []string{"20", "f93c00", "0000", "18", "c100", ""} {
		if n, err := Uint(unhex(t, bad)); err == nil {
			t.Errorf("Uint(%s) = %d", bad, n)
		}
	}
	if !IsNull([]byte{0xf6}) || IsNull([]byte{0xf7}) || IsNull([]byte{0xf6, 0x00}) {
		t.Error("IsNull")
	}
	for in, want := range map[string]string{"d9d9f7a0": "a0", "d9d9f7d9d9f7f6": "f6", "a0": "a0", "d9d9f7": "d9d9f7", "d9d9f6a0": "d9d9f6a0"} {
		if got := hex.EncodeToString(Untag(unhex(t, in))); got != want {
			t.Errorf("Untag(%s) = %s, want %s", in, got, want)
		}
	}
}

// decMode decodes with the walker's limits.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{MaxNestedLevels: MaxDepth, MaxArrayElements: 1 << 30, MaxMapPairs: 1 << 30,
		UTF8: cbor.UTF8DecodeInvalid}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// FuzzWalker feeds the walker arbitrary bytes: it must never panic; it
// must find the end of every item a decoder reads where the decoder
// does; and what it cuts out of an array or a map must be whole items.
func FuzzWalker(f *testing.F) {
	for _, s := range []string{"a0", "d9d9f7a0", "9f01ff", "bf6161f6ff", "5f4100ff", "7f6161ff", "c0", "ff", "1c", "9b0000000100000000",
		"a46474797065617662696461746776657273696f6e006576616c7565d9d9f7a0", "83d9d9f7a09f01ff1801", "7f6161626263ff", "1bffffffffffffffff"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Add(append(bytes.Repeat([]byte{0x81}, MaxDepth), 0x00))
	f.Add(append(bytes.Repeat([]byte{0x81}, MaxDepth+1), 0x00))
	f.Add(append(bytes.Repeat([]byte{0xd9, 0xd9, 0xf7}, MaxDepth), 0x00))
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := End(b, 0)
		if err == nil && (end <= 0 || end > len(b)) {
			t.Fatalf("%x: walker ends at %d", b, end)
		}
		var raw cbor.RawMessage
		if rest, derr := decMode.UnmarshalFirst(b, &raw); derr == nil {
			if err != nil || end != len(b)-len(rest) {
				t.Fatalf("%x: walker ends at %d (%v), decoder at %d", b, end, err, len(b)-len(rest))
			}
		}
		whole := func(raw []byte) error {
			if e, err := End(raw, 0); err != nil || e != len(raw) {
				t.Fatalf("%x: item %x ends at %d (%v)", b, raw, e, err)
			}
			return nil
		}
		if err := Container(b, MajorArray, whole); err == nil && end != len(b) {
			t.Fatalf("%x: an array read to its end, but the item ends at %d", b, end)
		}
		Container(b, MajorMap, whole)
		Fields(b)
		if s, err := Text(b); err == nil {
			var want string
			if derr := decMode.Unmarshal(b, &want); derr != nil || want != s {
				t.Fatalf("%x: Text %q, decoder %q (%v)", b, s, want, derr)
			}
		}
		if n, err := Uint(b); err == nil {
			var want uint64
			if derr := decMode.Unmarshal(b, &want); derr != nil || want != n {
				t.Fatalf("%x: Uint %d, decoder %d (%v)", b, n, want, derr)
			}
		}
		Untag(b)
	})
}
