package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// mustOpen opens a store on engine e, closed when the test ends.
func mustOpen(t testing.TB, e Engine, o Options) *Store {
	t.Helper()
	o.Engine = e
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// eachEngine runs fn as a subtest on both engines.
func eachEngine(t *testing.T, fn func(t *testing.T, e Engine)) {
	for _, e := range engines {
		t.Run(e.String(), func(t *testing.T) { fn(t, e) })
	}
}

func TestClosed(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		sub, err := s.Subscribe(ctx, SubscriptionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { _, err := sub.Next(ctx); done <- err }()
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("waiting Next after Close: %v", err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		calls := map[string]func() error{
			"Insert": func() error { _, err := s.Insert(ctx, "t", "i", 1); return err },
			"Get":    func() error { _, _, err := s.Get(ctx, "t", "i"); return err },
			"GetAll": func() error { _, err := s.GetAll(ctx, "t"); return err },
			"Delete": func() error { _, _, err := s.Delete(ctx, "t", "i"); return err },
			"Batch":  func() error { _, err := s.Batch(ctx, InsertOp("t", "i", 1)); return err },
			"Stats":  func() error { _, err := s.Stats(ctx); return err },
			"Changes": func() error {
				_, err := s.Changes(ctx, 0, Filter{}, 1)
				return err
			},
			"Subscribe": func() error { _, err := s.Subscribe(ctx, SubscriptionOptions{}); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: %v", name, err)
			}
		}
	})
}

func TestSubscriptionCloseAndContext(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		sub, _ := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
		if st, _ := s.Stats(ctx); st.ActiveSubscriptions != 1 {
			t.Fatalf("ActiveSubscriptions = %d", st.ActiveSubscriptions)
		}
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if _, err := sub.Next(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next with expired context: %v", err)
		}
		done := make(chan error)
		go func() { _, err := sub.Next(ctx); done <- err }()
		sub.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Subscription.Close: %v", err)
		}
		sub.Close()
		if st, _ := s.Stats(ctx); st.ActiveSubscriptions != 0 {
			t.Fatalf("ActiveSubscriptions after close = %d", st.ActiveSubscriptions)
		}
		canceled, cancel2 := context.WithCancel(ctx)
		cancel2()
		if _, err := s.Insert(canceled, "t", "i", 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Insert with canceled context: %v", err)
		}
	})
}

func TestSubscriptionWakesAndLags(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{ReplayBufferSize: 4})
		sub, _ := s.Subscribe(ctx, SubscriptionOptions{Start: FromNow()})
		got := make(chan ChangeEvent)
		go func() { ev, _ := sub.Next(ctx); got <- ev }()
		time.Sleep(10 * time.Millisecond) // let Next wait
		s.Insert(ctx, "t", "a", 1)
		if ev := <-got; ev.Sequence != 1 || ev.ActorID != "a" {
			t.Fatalf("woken with %+v", ev)
		}
		for i := 0; i < 10; i++ { // the subscriber falls 10 events behind a buffer of 4
			s.Insert(ctx, "t", fmt.Sprint("b", i), i)
		}
		_, err := sub.Next(ctx)
		var ce *CompactedError
		if !errors.As(err, &ce) || ce.Requested != 2 || ce.Oldest != 8 {
			t.Fatalf("lagging subscriber: %v %+v", err, ce)
		}
		if _, err := sub.Next(ctx); !errors.Is(err, ErrCompacted) {
			t.Fatalf("compaction is not sticky: %v", err)
		}
		if _, err := s.Subscribe(ctx, SubscriptionOptions{Start: FromSequence(3)}); !errors.Is(err, ErrCompacted) {
			t.Fatalf("Subscribe from an evicted sequence: %v", err)
		}
	})
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{ReplayBufferSize: -1}, {MaxValueBytes: 65 << 20}, {MaxDataBytes: 2 << 30}, {ReplayBufferBytes: -5}, {Engine: 7},
	} {
		if _, err := Open(context.Background(), o); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidArgument", o, err)
		}
	}
}

func TestValuesAreCopied(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		raw := cbor.RawMessage{0x63, 'a', 'b', 'c'}
		a, err := s.Insert(ctx, "t", "i", raw)
		if err != nil {
			t.Fatal(err)
		}
		raw[1] = 'X'
		a.Value[2] = 'Y'
		g, _, _ := s.Get(ctx, "t", "i")
		g.Value[3] = 'Z'
		g, _, _ = s.Get(ctx, "t", "i")
		if !bytes.Equal(g.Value, []byte{0x63, 'a', 'b', 'c'}) {
			t.Fatalf("stored value changed through a caller's slice: %x", g.Value)
		}
	})
}

func TestLargeValuesAndPaging(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{ReplayBufferBytes: 64 << 20})
		big := bytes.Repeat([]byte("x"), 1<<20-16)
		if _, err := s.Insert(ctx, "big", "one", big); err != nil {
			t.Fatalf("1 MiB value: %v", err)
		}
		if _, err := s.Insert(ctx, "big", "two", append(big, make([]byte, 20)...)); !errors.Is(err, ErrValueTooLarge) {
			t.Fatalf("oversized value: %v", err)
		}
		val := bytes.Repeat([]byte("v"), 1000)
		ops := make([]BatchOp, 3000)
		for i := range ops {
			ops[i] = InsertOp("page", fmt.Sprintf("%05d", i), val)
		}
		if _, err := s.Batch(ctx, ops...); err != nil {
			t.Fatal(err)
		}
		all, err := s.GetAll(ctx, "page") // ~3 MB: several engine pages
		if err != nil || len(all) != 3000 {
			t.Fatalf("GetAll: %d actors, %v", len(all), err)
		}
		for i, a := range all {
			if a.ID != fmt.Sprintf("%05d", i) {
				t.Fatalf("GetAll[%d] = %s", i, a.ID)
			}
		}
		p, err := s.Changes(ctx, 0, Filter{}, 5000) // ~4 MB per engine page
		if err != nil || len(p.Events) == 0 || len(p.Events) == 3001 {
			t.Fatalf("Changes: %d events, %v", len(p.Events), err)
		}
		seen := len(p.Events)
		for p.Next < 3001 {
			if p, err = s.Changes(ctx, p.Next, Filter{}, 5000); err != nil {
				t.Fatal(err)
			}
			seen += len(p.Events)
		}
		if seen != 3001 {
			t.Fatalf("paged through %d events, want 3001", seen)
		}
	})
}

// TestGuestMemoryIsReclaimed guards the module's GC setting: a steady
// stream of updates must not grow guest memory without bound.
func TestGuestMemoryIsReclaimed(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, EngineWASM, Options{ReplayBufferSize: 100})
	val := bytes.Repeat([]byte("m"), 4000)
	for i := 0; i < 100; i++ {
		s.Insert(ctx, "m", fmt.Sprint(i), val)
	}
	mem := s.eng.(*wasmEngine).mem
	measure := func() uint32 {
		for i := 0; i < 20_000; i++ { // 80 MB of values written
			if _, err := s.Update(ctx, "m", fmt.Sprint(i%100), val); err != nil {
				t.Fatal(err)
			}
		}
		return mem.Size()
	}
	first := measure()
	second := measure()
	t.Logf("guest memory after 20k and 40k updates of 4 KB: %d MiB, %d MiB", first>>20, second>>20)
	if second > first+first/2 {
		t.Fatalf("guest memory keeps growing: %d then %d bytes", first, second)
	}
}

func TestCacheDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		compiledByDir.Delete(dir) // a fresh runtime, as a new process has
		s, err := Open(ctx, Options{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Insert(ctx, "t", "i", i); err != nil {
			t.Fatal(err)
		}
		s.Close(ctx)
	}
}

// TestGuestFailureIsReported: when the guest traps (here: the Go runtime
// refuses a second _initialize), that call and every later one report
// ErrInternal instead of answering from a lost state.
func TestGuestFailureIsReported(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, EngineWASM, Options{})
	if _, err := s.Insert(ctx, "t", "i", 1); err != nil {
		t.Fatal(err)
	}
	w := s.eng.(*wasmEngine)
	if _, err := w.call(w.mod.ExportedFunction("_initialize")); err == nil {
		t.Fatal("a second _initialize did not trap")
	} else {
		t.Log(err)
	}
	for i := 0; i < 2; i++ {
		if _, _, err := s.Get(ctx, "t", "i"); !errors.Is(err, ErrInternal) {
			t.Fatalf("Get after the guest died: %v", err)
		}
		if _, err := s.Insert(ctx, "t", "j", 1); !errors.Is(err, ErrInternal) {
			t.Fatalf("Insert after the guest died: %v", err)
		}
	}
}
