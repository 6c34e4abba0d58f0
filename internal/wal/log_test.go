package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestLogAppendRotateReplay(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(p.String(), func(t *testing.T) {
			d := mustOpen(t)
			want := payloads(7)
			l := mustOpenLog(t, d, 1, Options{Sync: p})
			for _, w := range want[:3] {
				appendWait(t, l, w)
			}
			if got := l.Size(); got != frameEnd(nil, 0, -1)+int64(3*frameHdrLen+1+4+7) {
				t.Fatalf("Size() = %d", got)
			}
			if err := l.Rotate(4); err != nil {
				t.Fatal(err)
			}
			if got := l.Size(); got != segHeaderLen {
				t.Fatalf("Size() after Rotate = %d", got)
			}
			var tickets []uint64
			for _, w := range want[3:] {
				tickets = append(tickets, l.Append(w)) // no Wait: Close writes them
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := l.Wait(tickets[3]); err != nil {
				t.Fatalf("Wait after Close for a record Close wrote: %v", err)
			}
			checkSeqs(t, d.Segments, 1, 4)
			got, rec := mustReplay(t, d)
			checkPayloads(t, got, want)
			if rec.Records != 7 || rec.TornFile != "" || got[3].file != filepath.Join(d.Path(), segName(4)) || got[3].off != segHeaderLen {
				t.Fatalf("recovery %+v, record 3 at %s:%d", rec, got[3].file, got[3].off)
			}
		})
	}
}

func TestOpenLogExisting(t *testing.T) {
	d := mustOpen(t)
	writeSegment(t, d, 5, nil)
	l := mustOpenLog(t, d, 5, Options{}) // an empty segment is replaced
	if _, err := d.OpenLog(6, Options{}); err == nil {
		t.Fatal("a second OpenLog on the Dir succeeded")
	}
	appendWait(t, l, []byte("r"))
	l.Close()
	if _, err := d.OpenLog(5, Options{}); err == nil {
		t.Fatal("OpenLog over a segment with records succeeded")
	}
	if _, err := d.OpenLog(3, Options{}); err == nil {
		t.Fatal("OpenLog before an existing segment succeeded")
	}
	for _, o := range []Options{{Sync: 3}, {Sync: -1}, {Interval: -time.Second}} {
		if _, err := d.OpenLog(9, o); err == nil {
			t.Fatalf("OpenLog(%+v) succeeded", o)
		}
	}
	l = mustOpenLog(t, d, 9, Options{})
	if err := l.Rotate(9); err == nil {
		t.Fatal("Rotate to the current first sequence succeeded")
	}
	if err := l.Wait(5); err == nil {
		t.Fatal("Wait for a ticket never issued succeeded")
	}
}

// TestGroupCommit runs 16 writers under SyncAlways: every Wait returns only
// after its record was fsynced, and fsyncs are shared.
func TestGroupCommit(t *testing.T) {
	const writers, each, size = 16, 40, 50
	d := mustOpen(t)
	files := wrapFiles(d, func(f *testFile) { f.syncDelay = time.Millisecond })
	l := mustOpenLog(t, d, 1, Options{Sync: SyncAlways})
	tf := files()[0]
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := fmt.Appendf(nil, "%02d:%03d:", w, i)
				p = append(p, bytes.Repeat([]byte{'.'}, size-len(p))...)
				ticket := l.Append(p)
				if err := l.Wait(ticket); err != nil {
					errs <- err
					return
				}
				// Tickets count frames of one size, so the record ends here.
				end := int64(ticket) * (frameHdrLen + size)
				if _, _, _, synced := tf.stats(); synced < end {
					errs <- fmt.Errorf("Wait(%d) returned with %d bytes fsynced, record ends at %d", ticket, synced, end)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	writes, syncs, _, _ := tf.stats()
	t.Logf("%d records, %d writes, %d fsyncs", writers*each, writes, syncs)
	if syncs >= writers*each || writes > syncs {
		t.Fatalf("%d records took %d writes and %d fsyncs: no group commit", writers*each, writes, syncs)
	}
	l.Close()
	got, _ := mustReplay(t, d)
	next := make([]int, writers)
	for _, r := range got {
		var w, i int
		fmt.Sscanf(string(r.payload), "%02d:%03d:", &w, &i)
		if i != next[w] {
			t.Fatalf("writer %d: record %d where %d was due", w, i, next[w])
		}
		next[w]++
	}
	if len(got) != writers*each {
		t.Fatalf("replayed %d records", len(got))
	}
}

// TestAppendDoesNotBlock holds a leader inside fsync and appends meanwhile.
func TestAppendDoesNotBlock(t *testing.T) {
	d := mustOpen(t)
	gate := make(chan struct{})
	wrapFiles(d, func(f *testFile) { f.syncGate = gate })
	l := mustOpenLog(t, d, 1, Options{})
	waited := make(chan error)
	go func() { waited <- l.Wait(l.Append([]byte("first"))) }()
	appended := make(chan uint64)
	go func() {
		time.Sleep(10 * time.Millisecond) // let the leader reach fsync
		appended <- l.Append([]byte("second"))
	}()
	var second uint64
	select {
	case second = <-appended:
	case <-time.After(5 * time.Second):
		t.Fatal("Append blocked behind an fsync")
	}
	select {
	case err := <-waited:
		t.Fatalf("Wait returned (%v) before its fsync finished", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(gate)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(second); err != nil {
		t.Fatal(err)
	}
}

func TestStickyWriteError(t *testing.T) { testSticky(t, func(f *testFile) { f.failWrite = true }) }
func TestStickyFsyncError(t *testing.T) { testSticky(t, func(f *testFile) { f.failSync = true }) }

func testSticky(t *testing.T, inject func(*testFile)) {
	d := mustOpen(t)
	files := wrapFiles(d, nil)
	l := mustOpenLog(t, d, 1, Options{})
	tf := files()[0]
	first := l.Append([]byte("durable"))
	if err := l.Wait(first); err != nil {
		t.Fatal(err)
	}
	tf.set(inject)
	if err := l.Wait(l.Append([]byte("lost"))); !errors.Is(err, errInjected) {
		t.Fatalf("Wait = %v, want the injected error", err)
	}
	writes, syncs, _, _ := tf.stats()
	tf.set(func(f *testFile) { f.failWrite, f.failSync = false, false }) // the disk "recovers"
	later := l.Append([]byte("later"))
	for name, err := range map[string]error{"Wait": l.Wait(later), "Sync": l.Sync(), "Rotate": l.Rotate(10), "Close": l.Close()} {
		if !errors.Is(err, errInjected) {
			t.Fatalf("%s after the failure = %v, want the injected error", name, err)
		}
	}
	if w, s, _, _ := tf.stats(); w != writes || s != syncs {
		t.Fatalf("the failed log went on writing: writes %d→%d, fsyncs %d→%d", writes, w, syncs, s)
	}
	if err := l.Wait(first); err != nil {
		t.Fatalf("Wait for a record durable before the failure: %v", err)
	}
	checkSeqs(t, d.Segments, 1) // no rotation happened
}

func TestOversizeRecordFailsLog(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 128 MiB")
	}
	d := mustOpen(t)
	l := mustOpenLog(t, d, 1, Options{})
	ticket := l.Append(make([]byte, MaxPayload+1))
	if err := l.Wait(ticket); err == nil {
		t.Fatal("an oversize record was accepted")
	}
	if err := l.Wait(l.Append([]byte("x"))); err == nil {
		t.Fatal("a record after a missing one was accepted")
	}
}

// TestIntervalWaitBeforeFsync: under SyncInterval, Wait returns once the
// record is written; the background goroutine fsyncs later, only when
// something was written, and stops on Close.
func TestIntervalWaitBeforeFsync(t *testing.T) {
	d := mustOpen(t)
	files := wrapFiles(d, nil)
	l := mustOpenLog(t, d, 1, Options{Sync: SyncInterval, Interval: time.Hour})
	tf := files()[0]
	appendWait(t, l, []byte("a"))
	if writes, syncs, _, _ := tf.stats(); writes != 1 || syncs != 0 {
		t.Fatalf("after Wait: %d writes, %d fsyncs; want 1 and 0", writes, syncs)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, syncs, _, _ := tf.stats(); syncs != 1 {
		t.Fatalf("Sync made %d fsyncs", syncs)
	}
	l.Close()

	d2 := mustOpen(t)
	files = wrapFiles(d2, nil)
	l = mustOpenLog(t, d2, 1, Options{Sync: SyncInterval, Interval: 2 * time.Millisecond})
	tf = files()[0]
	appendWait(t, l, []byte("b"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, syncs, written, synced := tf.stats()
		if syncs >= 1 && synced == written {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the interval goroutine never fsynced")
		}
		time.Sleep(time.Millisecond)
	}
	_, before, _, _ := tf.stats()
	time.Sleep(30 * time.Millisecond)
	if _, after, _, _ := tf.stats(); after != before {
		t.Fatalf("%d fsyncs with nothing written", after-before)
	}
	l.Close()
	select {
	case <-l.done:
	default:
		t.Fatal("the interval goroutine still runs after Close")
	}
}

func TestNeverSyncsUntilClose(t *testing.T) {
	d := mustOpen(t)
	files := wrapFiles(d, nil)
	l := mustOpenLog(t, d, 1, Options{Sync: SyncNever})
	tf := files()[0]
	for range 10 {
		appendWait(t, l, []byte("n"))
	}
	if _, syncs, _, _ := tf.stats(); syncs != 0 {
		t.Fatalf("%d fsyncs under SyncNever", syncs)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, syncs, written, synced := tf.stats(); syncs != 1 || synced != written {
		t.Fatalf("Close: %d fsyncs, %d of %d bytes synced", syncs, synced, written)
	}
}

func TestRotateFailureIsSticky(t *testing.T) {
	d := mustOpen(t)
	l := mustOpenLog(t, d, 1, Options{})
	appendWait(t, l, []byte("a"))
	// A directory where the next segment would go makes its creation fail.
	if err := os.Mkdir(filepath.Join(d.Path(), segName(2)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.Rotate(2); err == nil {
		t.Fatal("Rotate succeeded")
	}
	if err := l.Wait(l.Append([]byte("b"))); err == nil {
		t.Fatal("Wait after a failed Rotate succeeded")
	}
	l.Close()
}
