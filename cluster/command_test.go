package cluster

import (
	"bytes"
	"reflect"
	"testing"
)

var sampleCommands = []command{
	{kind: cmdWrite, ts: 1700000000000000000, ops: []op{{kind: opInsert, typ: "user", id: "u1", value: []byte{0x01}}}},
	{kind: cmdWrite, ts: -5, key: "k-1", hasKey: true, ops: []op{{kind: opDelete, typ: "t", id: "a/b"}}},
	{kind: cmdWrite, key: "", hasKey: true, ops: []op{{kind: opUpdateVersioned, typ: "t", id: "x", expected: 1 << 40, value: []byte{}}}},
	{kind: cmdBatch, ts: 42, ops: []op{
		{kind: opInsert, typ: "a", id: "1", value: []byte{0xa1, 0x61, 0x78, 0x01}},
		{kind: opUpdate, typ: "a", id: "1", value: []byte{0xf6}},
		{kind: opDelete, typ: "a", id: "2"},
	}},
	{kind: cmdBatch, ts: 43, key: "empty", hasKey: true, ops: []op{}},
	{kind: cmdRestore, ts: 7, snap: []byte("snapshot bytes")},
}

// TestCommandRoundTrip checks that every kind of command decodes to what
// was encoded.
func TestCommandRoundTrip(t *testing.T) {
	for i, c := range sampleCommands {
		got, err := decodeCommand(c.encode())
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if c.kind == cmdRestore && len(got.snap) == 0 {
			t.Fatalf("command %d: no snapshot", i)
		}
		if !reflect.DeepEqual(*got, c) {
			t.Errorf("command %d: got %+v, want %+v", i, *got, c)
		}
	}
}

// TestCommandDecodeRefusesDamage checks that truncations, a wrong version
// and trailing bytes are refused rather than misread.
func TestCommandDecodeRefusesDamage(t *testing.T) {
	for i, c := range sampleCommands {
		b := c.encode()
		if c.kind != cmdRestore {
			for n := range len(b) {
				if _, err := decodeCommand(b[:n]); err == nil {
					t.Errorf("command %d cut to %d bytes decoded", i, n)
				}
			}
			if _, err := decodeCommand(append(bytes.Clone(b), 0)); err == nil {
				t.Errorf("command %d with a trailing byte decoded", i)
			}
		}
		bad := bytes.Clone(b)
		bad[0] = 2
		if _, err := decodeCommand(bad); err == nil {
			t.Errorf("command %d of version 2 decoded", i)
		}
	}
}

// FuzzDecodeCommand checks that any bytes decode or fail cleanly, and
// that what decodes encodes back to the same bytes.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands {
		f.Add(c.encode())
	}
	f.Add([]byte{1, 2, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			return
		}
		if again := c.encode(); !bytes.Equal(again, b) {
			// Varints have one shortest form; a longer one in the input
			// may decode, but must decode to the same command.
			c2, err := decodeCommand(again)
			if err != nil || !reflect.DeepEqual(c, c2) {
				t.Fatalf("re-encoding %x gave %x (%v)", b, again, err)
			}
		}
	})
}
