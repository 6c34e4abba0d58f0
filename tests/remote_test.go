package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/client"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborraw"
)

// TestModelRemote runs the model test through the HTTP server and the
// client, on both engines, beside an embedded store: every result, error
// (code, fields, batch index), event and statistic must match the model,
// and the client must return the very Go values the embedded store does,
// error messages included. Half the operations of TestModel, as each one
// is a round trip (under -race, a costly one), still enough to reach
// every outcome of mustSee.
func TestModelRemote(t *testing.T) {
	runModel(t, append([]target{{engine: host.EngineNative}}, remoteTargets...), 10_000)
}

// cutter is a TCP proxy that can cut every connection through it.
type cutter struct {
	l       net.Listener
	backend string

	mu    sync.Mutex
	conns map[net.Conn]bool
	total int
}

func newCutter(t *testing.T, backend string) *cutter {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{l: l, backend: backend, conns: map[net.Conn]bool{}}
	go c.serve()
	t.Cleanup(func() { l.Close(); c.cut() })
	return c
}

func (c *cutter) serve() {
	for {
		in, err := c.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", c.backend)
		if err != nil {
			in.Close()
			continue
		}
		c.mu.Lock()
		c.conns[in], c.conns[out] = true, true
		c.total++
		c.mu.Unlock()
		go func() { io.Copy(out, in); out.Close() }()
		go func() { io.Copy(in, out); in.Close() }()
	}
}

// cut closes every connection open through the proxy.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		conn.Close()
		delete(c.conns, conn)
	}
}

// TestSubscriptionThroughCuts follows the feed of a real server through a
// proxy that cuts the connection every few milliseconds while a writer
// makes 2,000 events: the subscription must deliver each of them once,
// in order, with its value.
func TestSubscriptionThroughCuts(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for _, e := range engines {
		s := openStore(t, e, host.Options{ReplayBufferSize: 100_000})
		direct := serveStore(t, s)
		px := newCutter(t, direct.URL()[len("http://"):])
		c, err := client.New("http://"+px.l.Addr().String(), client.Options{
			Retry: client.RetryPolicy{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sub, err := c.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromNow(), Filter: host.Filter{ActorType: "t"}})
		if err != nil {
			t.Fatal(err)
		}
		const n = 2000
		go func() {
			for i := range n {
				id := strconv.Itoa(i)
				s.Insert(context.Background(), "t", id, i)
				s.Insert(context.Background(), "other", id, i) // filtered out
				if i%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		stop := make(chan struct{})
		var cuts sync.WaitGroup
		cuts.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(1+r.IntN(8)) * time.Millisecond):
					px.cut()
				}
			}
		})
		for i := range n {
			ev, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("%v, seed %d: waiting for event %d: %v", e, seed, i, err)
			}
			var v int
			a := host.Actor{Value: ev.NewValue}
			a.Decode(&v)
			if ev.Sequence != uint64(2*i+1) || ev.ActorType != "t" || v != i {
				t.Fatalf("%v, seed %d: event %d is #%d %s/%s value %d, want #%d value %d", e, seed, i, ev.Sequence,
					ev.ActorType, ev.ActorID, v, 2*i+1, i)
			}
		}
		close(stop)
		cuts.Wait()
		sub.Close()
		px.mu.Lock()
		conns := px.total
		px.mu.Unlock()
		if conns < 5 {
			t.Errorf("%v: only %d connections: the cuts did not cut", e, conns)
		}
		t.Logf("%v: %d events through %d connections", e, n, conns)
	}
}

// TestBatchValuesByteExact writes every value of vectors/values.json,
// well-formed or not, in a batch through the client and in one on an
// embedded store: results and errors must be the same, values byte for
// byte (a leading self-described CBOR tag, 55799, included).
func TestBatchValuesByteExact(t *testing.T) {
	f, err := loadVectorFile(filepath.Join("vectors", "values.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local := openStore(t, host.EngineNative, host.Options{})
	remote := openTarget(t, target{engine: host.EngineNative, remote: true}, host.Options{})
	n, selfDescribed := 0, 0
	for _, v := range f.Vectors {
		for _, st := range v.Steps {
			if st.Op != "insert" || st.ValueHex == nil {
				continue
			}
			key := v.Name + "/" + st.ID.s
			value := cbor.RawMessage(*st.ValueHex)
			if bytes.HasPrefix(value, cborraw.SelfDescribed) {
				selfDescribed++
			}
			ops := []host.BatchOp{host.InsertOp("b", key, 1), host.InsertOp("b", key+"/2", value), host.UpdateOp("b", key, value)}
			var got []string
			for _, s := range []host.API{local, remote} {
				rs, err := s.Batch(ctx, ops...)
				got = append(got, fmt.Sprintf("%#v %v", rs, err))
			}
			if got[0] != got[1] {
				t.Errorf("%s (%x):\nembedded: %s\nclient:   %s", key, value, got[0], got[1])
			}
			n++
		}
	}
	if n < 50 || selfDescribed == 0 {
		t.Fatalf("only %d values, %d self-described", n, selfDescribed)
	}
}

// TestConsistencyLevels checks that the server takes every read the
// client makes at each consistency level.
func TestConsistencyLevels(t *testing.T) {
	s := openStore(t, host.EngineNative, host.Options{})
	url := serveStore(t, s).URL()
	ctx := context.Background()
	if _, err := s.Insert(ctx, "t", "a", 1); err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{client.Linearizable, client.Leader, client.Local} {
		c, err := client.New(url, client.Options{Consistency: level})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, ok, err := c.Get(ctx, "t", "a"); !ok || err != nil {
			t.Errorf("%s: get: %v %v", level, ok, err)
		}
		if as, err := c.GetAll(ctx, "t"); len(as) != 1 || err != nil {
			t.Errorf("%s: getAll: %d actors, %v", level, len(as), err)
		}
		if p, err := c.Changes(ctx, 0, host.Filter{}, 0); len(p.Events) == 0 || p.Events[0].Sequence != 1 || err != nil {
			t.Errorf("%s: changes: %d events, %v", level, len(p.Events), err)
		}
		sub, err := c.Subscribe(ctx, host.SubscriptionOptions{})
		if err != nil {
			t.Fatalf("%s: subscribe: %v", level, err)
		}
		if ev, err := next(ctx, sub, eventWait); err != nil || ev.Sequence != 1 {
			t.Errorf("%s: subscription: #%d, %v", level, ev.Sequence, err)
		}
		sub.Close()
		if _, err := c.Update(ctx, "t", "a", 2); err != nil {
			t.Errorf("%s: update: %v", level, err)
		}
	}
}
