package host

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/actorstore/actorstore/core"
)

// bothEngines returns a native and a wasm engine with options o.
func bothEngines(t *testing.T, o core.Options) map[string]engine {
	t.Helper()
	n, cerr := newNative(o)
	if cerr != nil {
		t.Fatal(cerr)
	}
	w, err := newWASM(context.Background(), "", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.close(context.Background()) })
	return map[string]engine{"native": n, "wasm": w}
}

// TestEnginesPageAlike checks that both engines end get_all pages at the
// same actors for every page size (core.Store.ScanPage decides for both).
func TestEnginesPageAlike(t *testing.T) {
	engs := bothEngines(t, core.Options{})
	for _, e := range engs {
		for i := range 120 {
			n := i % 40
			v := append([]byte{0x58, byte(n)}, bytes.Repeat([]byte{byte(i)}, n)...)
			if _, err := e.apply(&core.Op{Kind: core.KindInsert, Type: "t", ID: fmt.Sprint(i), Value: v}, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, maxBytes := range []int{0, 1, 60, 61, 62, 100, 1000, 1 << 20} {
		pages := map[string][]string{}
		for name, e := range engs {
			after := ""
			for {
				page, more, err := e.scan("t", after, maxBytes)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, a := range page {
					ids = append(ids, a.ID)
				}
				pages[name] = append(pages[name], fmt.Sprint(ids))
				if !more {
					break
				}
				after = page[len(page)-1].ID
			}
		}
		if fmt.Sprint(pages["native"]) != fmt.Sprint(pages["wasm"]) {
			t.Errorf("maxBytes %d: native pages %v, wasm pages %v", maxBytes, pages["native"], pages["wasm"])
		}
	}
	for name, e := range engs {
		if _, _, err := e.scan("", "", 100); err == nil || err.Code != core.InvalidKey || err.Index != -1 {
			t.Errorf("%s: scan of an empty type: %v", name, err)
		}
	}
}

// TestEnginesSessionsAlike runs the same snapshot and restore calls on
// both engines: same errors, same stream, same restored state.
func TestEnginesSessionsAlike(t *testing.T) {
	engs := bothEngines(t, core.Options{})
	streams := map[string][]byte{}
	for name, e := range engs {
		if _, err := e.snapshotNext(100); err == nil || err.Code != core.InvalidArgument {
			t.Errorf("%s: snapshotNext without a snapshot: %v", name, err)
		}
		if err := e.restoreWrite([]byte{1}); err == nil || err.Code != core.InvalidArgument {
			t.Errorf("%s: restoreWrite without a restore: %v", name, err)
		}
		if _, err := e.restoreEnd(); err == nil || err.Code != core.InvalidArgument {
			t.Errorf("%s: restoreEnd without a restore: %v", name, err)
		}
		for i := range 30 {
			if _, err := e.apply(&core.Op{Kind: core.KindInsert, Type: "t", ID: fmt.Sprint(i), Value: []byte{0x18, byte(i)}}, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		info, err := e.snapshotBegin()
		if err != nil || info.Sequence != 30 || info.Actors != 30 || info.Events != 30 {
			t.Fatalf("%s: snapshotBegin = %+v, %v", name, info, err)
		}
		for {
			chunk, err := e.snapshotNext(0)
			if err != nil {
				t.Fatal(err)
			}
			if len(chunk) == 0 {
				break
			}
			streams[name] = append(streams[name], chunk...)
		}
		e.snapshotEnd()
	}
	if !bytes.Equal(streams["native"], streams["wasm"]) {
		t.Fatalf("snapshots differ: native %d bytes, wasm %d", len(streams["native"]), len(streams["wasm"]))
	}
	for name, e := range engs {
		// Restore the other engine's snapshot over a changed state.
		if _, err := e.apply(&core.Op{Kind: core.KindDelete, Type: "t", ID: "3"}, 40); err != nil {
			t.Fatal(err)
		}
		if err := e.restoreBegin(); err != nil {
			t.Fatal(err)
		}
		if err := e.restoreWrite(streams["native"]); err != nil {
			t.Fatal(err)
		}
		seq, err := e.restoreEnd()
		if err != nil || seq != 30 {
			t.Fatalf("%s: restoreEnd = %d, %v", name, seq, err)
		}
		if a, found, err := e.get("t", "3"); err != nil || !found || a.Version != 0 {
			t.Errorf("%s: after the restore, t/3 = %+v, %v, %v", name, a, found, err)
		}
		// A failed write abandons the restore on both.
		if err := e.restoreBegin(); err != nil {
			t.Fatal(err)
		}
		if err := e.restoreWrite([]byte("garbage!garbage!")); err == nil || err.Code != core.InvalidArgument {
			t.Errorf("%s: restoreWrite of garbage: %v", name, err)
		}
		if _, err := e.restoreEnd(); err == nil || err.Code != core.InvalidArgument {
			t.Errorf("%s: restoreEnd after a failed write: %v", name, err)
		}
	}
}

// TestWASMEngineRenews checks what durable stores heal with: a wasm engine
// that trapped reports it, and renew gives a working one with the same
// options; a native engine cannot lose its state.
func TestWASMEngineRenews(t *testing.T) {
	engs := bothEngines(t, core.Options{MaxValueBytes: 100})
	if _, ok := engs["native"].(renewable); ok {
		t.Error("the native engine is renewable")
	}
	w := engs["wasm"].(*wasmEngine)
	if w.lost() {
		t.Fatal("a new engine is lost")
	}
	w.dead = &trapError{fmt.Errorf("simulated trap")}
	if !w.lost() {
		t.Fatal("a trapped engine is not lost")
	}
	fresh, err := w.renew(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.close(context.Background())
	if _, err := fresh.apply(&core.Op{Kind: core.KindInsert, Type: "t", ID: "x", Value: make([]byte, 101)}, 1); err == nil ||
		err.Code != core.ValueTooLarge {
		t.Errorf("the renewed engine does not keep MaxValueBytes: %v", err)
	}
	if st, err := fresh.stats(); err != nil || st.Actors != 0 {
		t.Errorf("renewed engine: %+v, %v", st, err)
	}
}
