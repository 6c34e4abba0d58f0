package tests

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/actorstore/actorstore/client"
	"github.com/actorstore/actorstore/cluster/clustertest"
	"github.com/actorstore/actorstore/host"
)

// TestModelCluster runs the model test on a 3-node Raft cluster whose
// nodes apply the log to the wasm engine (the conformance vectors run on
// clusters of the native engine: together they cover both) beside an
// embedded store, each operation through the next node in turn (writes
// through followers are forwarded to the leader, reads are
// linearizable): every result, error (code, fields, batch index,
// message), event and statistic must match the model and the embedded
// store. Timestamps match too: the leader stamps each command with the
// test's clock, which every node is given. Fewer operations than
// TestModel, as each write is a Raft round with fsyncs, still enough to
// reach every outcome of mustSee.
func TestModelCluster(t *testing.T) {
	runModel(t, []target{{engine: host.EngineNative}, {engine: host.EngineWASM, cluster: true}}, 5_000)
}

// TestSubscriptionMovesNodes: a reader follows a cluster's feed over HTTP
// through one node, then another, then the third, each time resuming from
// the sequence after the last event it got, while writes go on through
// every node. It gets every event once, in order, and each is the event
// every node's own feed holds at that sequence.
func TestSubscriptionMovesNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{Timeout: 500 * time.Millisecond})
	const total = 600
	werr := make(chan error, 1)
	go func() {
		for i := range total {
			if _, err := c.Nodes[i%len(c.Nodes)].Insert(ctx, "m", fmt.Sprint(i), i); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	var got []host.ChangeEvent
	for leg, url := range c.URLs {
		cl, err := client.New(url, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		start := host.FromBeginning()
		if len(got) > 0 {
			start = host.FromSequence(got[len(got)-1].Sequence + 1)
		}
		sub, err := cl.Subscribe(ctx, host.SubscriptionOptions{Start: start})
		if err != nil {
			t.Fatalf("leg %d: %v", leg, err)
		}
		for len(got) < total*(leg+1)/len(c.URLs) {
			ev, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("leg %d, after %d events: %v", leg, len(got), err)
			}
			got = append(got, ev)
		}
		sub.Close()
		cl.Close(ctx)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	for i, n := range c.Nodes {
		p, err := n.Changes(ctx, 0, host.Filter{}, total+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != total {
			t.Fatalf("node %d: %d events, want %d", i+1, len(p.Events), total)
		}
		for k, want := range p.Events {
			ev := got[k]
			if ev.Sequence != want.Sequence || ev.Operation != want.Operation || ev.ActorID != want.ActorID ||
				!bytes.Equal(ev.NewValue, want.NewValue) || *ev.NewVersion != *want.NewVersion ||
				ev.Timestamp.UnixMilli() != want.Timestamp.UnixMilli() {
				t.Fatalf("event %d: read %+v, node %d holds %+v", k, ev, i+1, want)
			}
		}
	}
}
