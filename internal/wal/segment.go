package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	segMagic     = "ASWAL001"
	segHeaderLen = 16 // magic + u64 LE first seq
	frameHdrLen  = 12 // u32 length, u32 payload CRC, u32 header CRC

	// MaxPayload is the largest record a frame holds: 128 MiB.
	MaxPayload = 128 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segName(seq uint64) string  { return fmt.Sprintf("wal-%020d.log", seq) }
func snapName(seq uint64) string { return fmt.Sprintf("snap-%020d.snap", seq) }

// parseName returns the sequence number in prefix + 20 digits + suffix.
func parseName(name, prefix, suffix string) (uint64, bool) {
	if len(name) != len(prefix)+20+len(suffix) || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	digits := name[len(prefix) : len(prefix)+20]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// appendHeader appends a segment header.
func appendHeader(dst []byte, first uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(dst, segMagic...), first)
}

// appendFrame appends the frame of payload, whose CRC-32C is sum.
func appendFrame(dst, payload []byte, sum uint32) []byte {
	n := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, sum)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[n:n+8], castagnoli))
	return append(dst, payload...)
}

// segScan is what readSegment found.
type segScan struct {
	records int
	end     int64 // offset just past the last good frame (or 0 for a short header)
	torn    bool  // bytes past end are a torn tail
	reason  string
}

// readSegment reads a segment of size bytes from r, calling fn with each
// record's payload (valid only during the call) and frame offset. A torn
// tail is reported in the result, with end where to cut; damage that is
// not a torn tail is a *CorruptError naming path. Errors from fn and read
// errors are returned as they are.
//
// first is the sequence the file name carries. A segment shorter than its
// header is torn at 0; the caller decides whether that is allowed.
func readSegment(r io.Reader, size int64, path string, first uint64, fn func(payload []byte, off int64) error) (segScan, error) {
	corrupt := func(off int64, format string, a ...any) (segScan, error) {
		return segScan{}, &CorruptError{File: path, Offset: off, Reason: fmt.Sprintf(format, a...)}
	}
	if size < segHeaderLen {
		return segScan{torn: true, reason: "incomplete segment header"}, nil
	}
	var h [segHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return segScan{}, readErr(path, err)
	}
	if string(h[:8]) != segMagic {
		return corrupt(0, "not an Actor Store log")
	}
	if got := binary.LittleEndian.Uint64(h[8:]); got != first {
		return corrupt(8, "header says first sequence %d, file name says %d", got, first)
	}
	s := segScan{end: segHeaderLen}
	var payload []byte
	for s.end < size {
		off, rem := s.end, size-s.end
		if rem < frameHdrLen {
			s.torn, s.reason = true, "incomplete frame header"
			return s, nil
		}
		var fh [frameHdrLen]byte
		if _, err := io.ReadFull(r, fh[:]); err != nil {
			return segScan{}, readErr(path, err)
		}
		if crc32.Checksum(fh[:8], castagnoli) != binary.LittleEndian.Uint32(fh[8:]) {
			zero, err := zeroTail(fh[:], r)
			if err != nil {
				return segScan{}, readErr(path, err)
			}
			if !zero {
				return corrupt(off, "bad frame header checksum")
			}
			s.torn, s.reason = true, "zero-filled tail"
			return s, nil
		}
		n := int64(binary.LittleEndian.Uint32(fh[0:]))
		if n > MaxPayload {
			return corrupt(off, "frame length %d exceeds the maximum %d", n, MaxPayload)
		}
		if n > rem-frameHdrLen {
			s.torn, s.reason = true, "incomplete frame"
			return s, nil
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return segScan{}, readErr(path, err)
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(fh[4:]) {
			// The last frame, or one followed only by zeros (a write whose
			// later pages never reached the disk), is torn.
			zero, err := zeroTail(nil, r)
			if err != nil {
				return segScan{}, readErr(path, err)
			}
			if !zero {
				return corrupt(off, "bad checksum")
			}
			s.torn, s.reason = true, "incomplete frame"
			return s, nil
		}
		if err := fn(payload, off); err != nil {
			return segScan{}, err
		}
		s.records++
		s.end = off + frameHdrLen + n
	}
	return s, nil
}

// zeroTail reports whether head and everything left in r are zero bytes.
func zeroTail(head []byte, r io.Reader) (bool, error) {
	if !allZero(head) {
		return false, nil
	}
	var buf [32 << 10]byte
	for {
		n, err := r.Read(buf[:])
		if !allZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func readErr(path string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = fmt.Errorf("file shrank while being read: %w", err)
	}
	return fmt.Errorf("actorstore: read log %s: %w", path, err)
}

// createSegment creates wal-<first>.log holding only its header, fsynced,
// with the directory fsynced. An existing file of that name is replaced
// only when it holds no frame (empty or header-only).
func createSegment(dir string, first uint64) (*os.File, error) {
	path := filepath.Join(dir, segName(first))
	if fi, err := os.Stat(path); err == nil && fi.Size() > segHeaderLen {
		return nil, fmt.Errorf("actorstore: log segment %s already holds records", path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("actorstore: create log segment: %w", err)
	}
	if _, err = f.Write(appendHeader(nil, first)); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("actorstore: create log segment %s: %w", path, err)
	}
	return f, nil
}
