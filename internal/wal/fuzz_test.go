package wal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadSegment feeds arbitrary bytes to the segment reader: it never
// panics, and either reports corruption inside the data, or returns records
// that re-encode to exactly the bytes up to its cut.
func FuzzReadSegment(f *testing.F) {
	full, offs := encodeSegment(1, payloads(4)...)
	f.Add(full)
	f.Add(full[:offs[2]+7])
	f.Add(full[:10])
	f.Add(append(bytes.Clone(full), make([]byte, 40)...))
	f.Add(append(bytes.Clone(full[:offs[3]+12]), make([]byte, 40)...))
	f.Add([]byte{})
	f.Add([]byte(segMagic + "\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got [][]byte
		next := int64(segHeaderLen)
		scan, err := readSegment(bytes.NewReader(data), int64(len(data)), "seg", 1, func(p []byte, off int64) error {
			if off != next {
				t.Fatalf("record at %d, the previous one ended at %d", off, next)
			}
			next = off + frameHdrLen + int64(len(p))
			got = append(got, bytes.Clone(p))
			return nil
		})
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.File != "seg" || ce.Offset < 0 || ce.Offset >= int64(len(data)) {
				t.Fatalf("error %v is not a corruption inside the data", err)
			}
			return
		}
		if scan.end > int64(len(data)) || !scan.torn && scan.end != int64(len(data)) || scan.records != len(got) {
			t.Fatalf("scan %+v of %d bytes", scan, len(data))
		}
		if len(data) < segHeaderLen {
			if !scan.torn || scan.end != 0 {
				t.Fatalf("short segment: %+v", scan)
			}
			return
		}
		if enc, _ := encodeSegment(1, got...); !bytes.Equal(enc, data[:scan.end]) {
			t.Fatalf("records do not re-encode to the %d bytes kept", scan.end)
		}
	})
}
