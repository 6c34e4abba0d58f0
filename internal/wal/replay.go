package wal

import (
	"bufio"
	"fmt"
	"os"
)

// Recovery describes what Replay read and cut.
type Recovery struct {
	// Records is the number of records passed to fn.
	Records int
	// TornFile is the segment whose torn tail was cut, or "" when none
	// was; TornOffset is where it was cut and TornBytes how many bytes
	// went.
	TornFile   string
	TornOffset int64
	TornBytes  int64
}

// Replay reads every segment in order of first sequence and calls fn with
// each valid record: its payload (valid only during the call; copy it to
// keep it), the segment's path and the frame's offset. Call it before
// OpenLog.
//
// A torn tail of the last segment (an incomplete frame at its end, a frame
// whose payload checksum fails and which only zeros follow, or a
// zero-filled tail) is what a crash leaves of writes that were never
// acknowledged: Replay truncates the segment there, fsyncs it and reports
// it in Recovery. Any other damage, including a torn tail in an earlier
// segment, stops Replay with a *CorruptError. An error returned by fn
// stops it and is returned as it is.
func (d *Dir) Replay(fn func(payload []byte, file string, off int64) error) (Recovery, error) {
	var rec Recovery
	segs, err := d.Segments()
	if err != nil {
		return rec, err
	}
	for i, s := range segs {
		last := i == len(segs)-1
		scan, err := replaySegment(s, last, func(p []byte, off int64) error { return fn(p, s.Path, off) })
		rec.Records += scan.records
		if err != nil {
			return rec, err
		}
		if scan.torn {
			rec.TornFile, rec.TornOffset, rec.TornBytes = s.Path, scan.end, scan.size-scan.end
		}
	}
	return rec, nil
}

type replayScan struct {
	segScan
	size int64
}

// replaySegment reads one segment and cuts its torn tail when it is the
// last one.
func replaySegment(s File, last bool, fn func([]byte, int64) error) (replayScan, error) {
	f, err := os.OpenFile(s.Path, os.O_RDWR, 0)
	if err != nil {
		return replayScan{}, fmt.Errorf("actorstore: open log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return replayScan{}, fmt.Errorf("actorstore: open log: %w", err)
	}
	if size := fi.Size(); size < segHeaderLen && (!last || size == 0) {
		if last { // created, and the crash came before its header: nothing to cut
			return replayScan{}, nil
		}
		return replayScan{size: size}, &CorruptError{File: s.Path, Offset: 0, Reason: "incomplete segment header in a segment that is not the last"}
	}
	n := 0
	scan, err := readSegment(bufio.NewReaderSize(f, 256<<10), fi.Size(), s.Path, s.Seq, func(p []byte, off int64) error {
		if err := fn(p, off); err != nil {
			return err
		}
		n++
		return nil
	})
	r := replayScan{segScan: scan, size: fi.Size()}
	r.records = n
	if err != nil || !scan.torn {
		return r, err
	}
	if !last {
		reason := "torn record in a segment that is not the last: " + scan.reason
		return r, &CorruptError{File: s.Path, Offset: scan.end, Reason: reason}
	}
	if err := f.Truncate(scan.end); err != nil {
		return r, fmt.Errorf("actorstore: cut torn tail of %s: %w", s.Path, err)
	}
	if err := f.Sync(); err != nil {
		return r, fmt.Errorf("actorstore: cut torn tail of %s: %w", s.Path, err)
	}
	return r, nil
}
