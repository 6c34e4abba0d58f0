package host

import (
	"bytes"
	"context"
	"testing"
)

// TestCaptureSnapshotIsTheStateAtCapture checks that a captured snapshot
// streams the state of its moment, not the writes made after it, and the
// same bytes Snapshot writes for that state.
func TestCaptureSnapshotIsTheStateAtCapture(t *testing.T) {
	ctx := context.Background()
	for _, e := range []Engine{EngineNative, EngineWASM} {
		s, err := Open(ctx, Options{Engine: e})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		for i := range 100 {
			if _, err := s.Insert(ctx, "t", string(rune('a'+i%26))+string(rune('0'+i/26)), i); err != nil {
				t.Fatal(err)
			}
		}
		var want bytes.Buffer
		if err := s.Snapshot(ctx, &want); err != nil {
			t.Fatal(err)
		}
		c, err := s.CaptureSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if _, err := s.Update(ctx, "t", "a0", i); err != nil {
				t.Fatal(err)
			}
		}
		var got bytes.Buffer
		n, err := c.WriteTo(&got)
		if err != nil || n != int64(got.Len()) {
			t.Fatalf("%v: WriteTo: %d, %v (wrote %d)", e, n, err, got.Len())
		}
		if _, err := c.WriteTo(&got); err == nil {
			t.Errorf("%v: a second WriteTo succeeded", e)
		}
		c.Close()
		c.Close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%v: captured snapshot differs from the state at capture (%d vs %d bytes)", e, got.Len(), want.Len())
		}
		// Snapshots work again once it is released.
		if err := s.Snapshot(ctx, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
}
