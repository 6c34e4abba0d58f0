package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	want := append(payloads(5), nil, bytes.Repeat([]byte{0}, 1000), make([]byte, 300<<10))
	data, offs := encodeSegment(42, want...)
	var got [][]byte
	var gotOffs []int64
	scan, err := readSegment(bytes.NewReader(data), int64(len(data)), "seg", 42, func(p []byte, off int64) error {
		got, gotOffs = append(got, bytes.Clone(p)), append(gotOffs, off)
		return nil
	})
	if err != nil || scan.torn || scan.end != int64(len(data)) || scan.records != len(want) {
		t.Fatalf("readSegment = %+v, %v; want %d records to offset %d", scan, err, len(want), len(data))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) || gotOffs[i] != offs[i] {
			t.Fatalf("record %d: %d bytes at %d, want %d bytes at %d", i, len(got[i]), gotOffs[i], len(want[i]), offs[i])
		}
	}
	if _, err := readSegment(bytes.NewReader(data), int64(len(data)), "seg", 43, func([]byte, int64) error { return nil }); asCorrupt(t, err).Offset != 8 {
		t.Fatalf("first sequence mismatch: %v, want corruption at offset 8", err)
	}
}

// TestReplayCutAtEveryOffset cuts the log at every byte of its last three
// records, as a crash can, and checks that replay keeps exactly the records
// written in full, cuts the file there, and that logging goes on after.
func TestReplayCutAtEveryOffset(t *testing.T) {
	want := payloads(6)
	full, offs := encodeSegment(1, want...)
	base := t.TempDir()
	for cut := offs[3]; cut <= int64(len(full)); cut++ {
		d := mustOpenAt(t, filepath.Join(base, "c", strings.Repeat("x", 0)+itoa(cut)))
		path := writeSegment(t, d, 1, full[:cut])
		kept := 0
		for kept < len(offs) && frameEnd(offs, len(full), kept) <= cut {
			kept++
		}
		end := frameEnd(offs, len(full), kept-1)
		got, rec := mustReplay(t, d)
		checkPayloads(t, got, want[:kept])
		if size := fileSize(t, path); size != end {
			t.Fatalf("cut %d: file is %d bytes after replay, want %d", cut, size, end)
		}
		if torn := cut != end; torn != (rec.TornFile != "") || torn && (rec.TornFile != path || rec.TornOffset != end || rec.TornBytes != cut-end) {
			t.Fatalf("cut %d: recovery %+v, want torn=%v at %d, %d bytes", cut, rec, torn, end, cut-end)
		}
		l, err := d.OpenLog(uint64(kept)+1, Options{Sync: SyncNever})
		if err != nil {
			t.Fatalf("cut %d: OpenLog: %v", cut, err)
		}
		appendWait(t, l, []byte("after"))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		got, rec = mustReplay(t, d)
		checkPayloads(t, got, append(want[:kept:kept], []byte("after")))
		if rec.TornFile != "" {
			t.Fatalf("cut %d: second replay cut again: %+v", cut, rec)
		}
		d.Close()
	}
}

func frameEnd(offs []int64, size, i int) int64 {
	if i < 0 {
		return segHeaderLen
	}
	if i+1 < len(offs) {
		return offs[i+1]
	}
	return int64(size)
}

func itoa(n int64) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int64) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// TestReplayFlippedByte flips every byte of a middle frame, header and
// payload: always corruption at that frame, after the records before it.
func TestReplayFlippedByte(t *testing.T) {
	want := payloads(5)
	full, offs := encodeSegment(1, want...)
	d := mustOpen(t)
	for i := offs[2]; i < offs[3]; i++ {
		data := bytes.Clone(full)
		data[i] ^= 0x41
		path := writeSegment(t, d, 1, data)
		got, _, err := replayAll(d)
		ce := asCorrupt(t, err)
		if ce.File != path || ce.Offset != offs[2] {
			t.Fatalf("flip at %d: %v, want corruption in %s at offset %d", i, err, path, offs[2])
		}
		checkPayloads(t, got, want[:2])
		if size := fileSize(t, path); size != int64(len(full)) {
			t.Fatalf("flip at %d: corrupt file was changed to %d bytes", i, size)
		}
		if !strings.Contains(err.Error(), "actorstore: corrupt log "+path+" at offset "+itoa(offs[2])+": ") {
			t.Fatalf("message %q", err)
		}
	}
	for _, c := range []struct {
		at   int
		off  int64
		text string
	}{{0, 0, "not an Actor Store log"}, {9, 8, "first sequence"}} {
		data := bytes.Clone(full)
		data[c.at] ^= 1
		writeSegment(t, d, 1, data)
		_, _, err := replayAll(d)
		if ce := asCorrupt(t, err); ce.Offset != c.off || !strings.Contains(ce.Reason, c.text) {
			t.Fatalf("flip at %d: %v, want %q at offset %d", c.at, err, c.text, c.off)
		}
	}
}

func TestReplayLastFrameBadChecksumIsTorn(t *testing.T) {
	want := payloads(3)
	full, offs := encodeSegment(1, want...)
	full[len(full)-1] ^= 1
	d := mustOpen(t)
	path := writeSegment(t, d, 1, full)
	got, rec := mustReplay(t, d)
	checkPayloads(t, got, want[:2])
	if rec.TornOffset != offs[2] || fileSize(t, path) != offs[2] {
		t.Fatalf("recovery %+v, want cut at %d", rec, offs[2])
	}
}

func TestReplayZeroTail(t *testing.T) {
	want := payloads(3)
	full, offs := encodeSegment(1, want...)
	for _, c := range []struct {
		name      string
		data      []byte
		kept      int
		cut, torn int64
	}{
		{"zeros after the last frame", append(bytes.Clone(full), make([]byte, 5000)...), 3, int64(len(full)), 5000},
		{"zeros from a header on", append(bytes.Clone(full[:offs[1]]), make([]byte, len(full)-int(offs[1]))...), 1, offs[1], int64(len(full)) - offs[1]},
		// a frame whose header reached the disk but not the pages after it
		{"zeros from a payload on", append(bytes.Clone(full[:offs[1]+12]), make([]byte, 4096)...), 1, offs[1], 12 + 4096},
	} {
		d := mustOpen(t)
		path := writeSegment(t, d, 1, c.data)
		got, rec := mustReplay(t, d)
		checkPayloads(t, got, want[:c.kept])
		if rec.TornFile != path || rec.TornOffset != c.cut || rec.TornBytes != c.torn || fileSize(t, path) != c.cut {
			t.Fatalf("%s: recovery %+v, want %d bytes cut at %d", c.name, rec, c.torn, c.cut)
		}
	}
	// Zeros in the middle, with data after them, are corruption.
	data := append(append(bytes.Clone(full), make([]byte, 100)...), full[offs[0]:offs[1]]...)
	d := mustOpen(t)
	writeSegment(t, d, 1, data)
	if _, _, err := replayAll(d); asCorrupt(t, err).Offset != int64(len(full)) {
		t.Fatalf("zeros then data: %v", err)
	}
}

func TestReplayTornNonLastSegment(t *testing.T) {
	want := payloads(6)
	seg1, offs := encodeSegment(1, want[:3]...)
	seg2, _ := encodeSegment(4, want[3:]...)
	for _, cut := range []int64{offs[2] + 5, int64(len(seg1)) - 1, 7} {
		d := mustOpen(t)
		p1 := writeSegment(t, d, 1, seg1[:cut])
		writeSegment(t, d, 4, seg2)
		_, _, err := replayAll(d)
		ce := asCorrupt(t, err)
		if ce.File != p1 {
			t.Fatalf("cut %d: %v, want corruption in %s", cut, err, p1)
		}
		if fileSize(t, p1) != cut {
			t.Fatalf("cut %d: a non-last segment was truncated", cut)
		}
	}
	// Intact, both replay in order.
	d := mustOpen(t)
	writeSegment(t, d, 1, seg1)
	writeSegment(t, d, 4, seg2)
	got, _ := mustReplay(t, d)
	checkPayloads(t, got, want)
}

func TestReplayShortLastSegment(t *testing.T) {
	seg1, _ := encodeSegment(1, payloads(2)...)
	for _, n := range []int{0, 7, 15, 16} {
		d := mustOpen(t)
		writeSegment(t, d, 1, seg1)
		hdr := appendHeader(nil, 3)
		p := writeSegment(t, d, 3, hdr[:n])
		got, rec := mustReplay(t, d)
		checkPayloads(t, got, payloads(2))
		wantTorn := n > 0 && n < segHeaderLen
		if (rec.TornFile == p) != wantTorn || fileSize(t, p) != int64(n)*boolInt(!wantTorn) {
			t.Fatalf("%d-byte last segment: recovery %+v, size %d", n, rec, fileSize(t, p))
		}
		l := mustOpenLog(t, d, 3, Options{}) // reuses the empty segment
		appendWait(t, l, []byte("x"))
		l.Close()
		got, _ = mustReplay(t, d)
		checkPayloads(t, got, append(payloads(2), []byte("x")))
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestReplayOversizeFrame(t *testing.T) {
	data := appendHeader(nil, 1)
	var h [frameHdrLen]byte
	h[0], h[1], h[2], h[3] = 1, 0, 0, 0x08 // MaxPayload + 1
	le32(h[8:], crcOf(h[:8]))
	data = append(data, h[:]...)
	d := mustOpen(t)
	writeSegment(t, d, 1, data)
	_, _, err := replayAll(d)
	if ce := asCorrupt(t, err); ce.Offset != segHeaderLen || !strings.Contains(ce.Reason, "exceeds") {
		t.Fatalf("oversize frame: %v", err)
	}
}

func TestReplayCallbackError(t *testing.T) {
	d := mustOpen(t)
	data, _ := encodeSegment(1, payloads(3)...)
	writeSegment(t, d, 1, data)
	stop := errors.New("stop")
	n := 0
	rec, err := d.Replay(func([]byte, string, int64) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || rec.Records != 1 {
		t.Fatalf("Replay = %+v, %v; want 1 record and the callback's error as is", rec, err)
	}
}

func TestReplayIgnoresOtherNames(t *testing.T) {
	d := mustOpen(t)
	data, _ := encodeSegment(1, payloads(1)...)
	writeSegment(t, d, 1, data)
	os.WriteFile(filepath.Join(d.Path(), "wal-1.log"), []byte("junk"), 0o644)
	got, _ := mustReplay(t, d)
	checkPayloads(t, got, payloads(1))
}
