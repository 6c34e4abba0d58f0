package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
)

// batchEvent is an event of a batched message, its value left out.
type batchEvent struct {
	Sequence  uint64 `json:"sequence" cbor:"sequence"`
	Operation string `json:"operation" cbor:"operation"`
	Type      string `json:"type" cbor:"type"`
	ID        string `json:"id" cbor:"id"`
	Timestamp string `json:"timestamp" cbor:"timestamp"`
}

// nextBatch reads one batched message: an array of events.
func nextBatch(c *websocket.Conn, timeout time.Duration) ([]batchEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var evs []batchEvent
	if typ == websocket.MessageBinary {
		err = cbor.Unmarshal(b, &evs)
	} else {
		err = json.Unmarshal(b, &evs)
	}
	if err == nil && len(evs) == 0 {
		err = errors.New("empty batch")
	}
	return evs, err
}

// TestWatchBatch: with batch=1 each message is an array of consecutive
// events (JSON text or CBOR binary), bounded by watchRoundEvents; across
// messages and cuts (resuming from the last sequence + 1) no event is
// missing or repeated; events written while the watcher is behind come
// several to a message.
func TestWatchBatch(t *testing.T) {
	for _, format := range []string{"json", "cbor"} {
		t.Run(format, func(t *testing.T) {
			ts := newTestServer(t, host.Options{ReplayBufferSize: 100000}, Options{})
			const total = 3000
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range total {
					ts.write(t, "a", fmt.Sprint(i%11), i)
				}
			}()
			var got []uint64
			from := "beginning"
			maxLen := 0
			for cuts := 0; len(got) < total; cuts++ {
				if cuts > 200 {
					t.Fatal("too many reconnections")
				}
				c := ts.dial(t, "?batch=1&format="+format+"&from="+from)
				c.SetReadLimit(-1)
				for range 3 + cuts%5 {
					evs, err := nextBatch(c, 10*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					if len(evs) > watchRoundEvents {
						t.Fatalf("a message of %d events, more than %d", len(evs), watchRoundEvents)
					}
					maxLen = max(maxLen, len(evs))
					for _, ev := range evs {
						if ev.Type != "a" || ev.Operation == "" || ev.Timestamp == "" {
							t.Fatalf("event %+v", ev)
						}
						got = append(got, ev.Sequence)
					}
					if len(got) >= total {
						break
					}
				}
				c.CloseNow() // cut, no close handshake
				from = fmt.Sprint(got[len(got)-1] + 1)
			}
			<-done
			if len(got) != total {
				t.Fatalf("got %d events, want %d", len(got), total)
			}
			for i, s := range got {
				if s != uint64(i+1) {
					t.Fatalf("event %d has sequence %d: a gap or a duplicate", i, s)
				}
			}
			// All written before this watch: its first message holds many.
			c := ts.dial(t, "?batch=1&format="+format+"&from=beginning")
			c.SetReadLimit(-1)
			evs, err := nextBatch(c, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) < 2 || evs[0].Sequence != 1 {
				t.Errorf("first message of a watch behind by %d events: %d events from %d (largest before: %d)", total, len(evs), evs[0].Sequence, maxLen)
			}
		})
	}
}

// TestWatchBatchBounds: a message stops growing at about watchRoundBytes
// (one event past it at most), and many events at hand take several.
func TestWatchBatchBounds(t *testing.T) {
	ts := newTestServer(t, host.Options{ReplayBufferSize: 10000, ReplayBufferBytes: 1 << 30}, Options{})
	value := strings.Repeat("x", 100<<10)
	const total = 40 // 4 MB
	for i := range total {
		ts.write(t, "a", fmt.Sprint(i), value)
	}
	c := ts.dial(t, "?batch=1&format=cbor&from=beginning")
	c.SetReadLimit(-1)
	var next uint64 = 1
	msgs := 0
	for next <= total {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, b, err := c.Read(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > watchRoundBytes+len(value)+1000 {
			t.Errorf("a message of %d bytes", len(b))
		}
		var evs []batchEvent
		if err := cbor.Unmarshal(b, &evs); err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Sequence != next {
				t.Fatalf("sequence %d, want %d", ev.Sequence, next)
			}
			next++
		}
		msgs++
	}
	if msgs < 4 {
		t.Errorf("%d events of 100 kB came in %d messages", total, msgs)
	}
}

// TestWatchBatchCompacted: a batched watcher that fell out of the replay
// buffer gets the events it still can, in order, then 4410; one starting
// before the oldest retained event gets 4410 at once. A bad batch
// parameter ends the watch with 4400.
func TestWatchBatchCompacted(t *testing.T) {
	ts := newTestServer(t, host.Options{ReplayBufferSize: 100}, Options{})
	for i := range 300 {
		ts.write(t, "a", fmt.Sprint(i), i)
	}
	expectClose(t, ts.dial(t, "?batch=1&from=1"), CloseCompacted, "COMPACTED: requested 1")
	expectClose(t, ts.dial(t, "?batch=2"), 4400, "INVALID_ARGUMENT: batch must be")

	slow := ts.dial(t, "?batch=1&format=cbor&from=now")
	slow.SetReadLimit(-1)
	value := strings.Repeat("x", 16<<10)
	for i := range 4000 { // 64 MiB: far past the buffer and the sockets
		if _, err := ts.store.Insert(context.Background(), "b", fmt.Sprint(i), value); err != nil {
			t.Fatal(err)
		}
	}
	var last uint64 = 300
	for {
		evs, err := nextBatch(slow, 10*time.Second)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != CloseCompacted || !strings.HasPrefix(ce.Reason, "COMPACTED: requested ") {
				t.Fatalf("slow watcher ended with %v, want 4410 COMPACTED", err)
			}
			break
		}
		for _, ev := range evs {
			if ev.Sequence != last+1 {
				t.Fatalf("slow watcher got %d after %d", ev.Sequence, last)
			}
			last = ev.Sequence
		}
	}
	if last >= 4300 {
		t.Fatalf("the slow watcher got all events: it was never behind")
	}
}

// TestWatchManyMessagesPerWrite: one event a message (the default) while
// events are at hand: a watcher behind by thousands of events reads each
// as its own message, in order, JSON and CBOR.
func TestWatchManyMessagesPerWrite(t *testing.T) {
	ts := newTestServer(t, host.Options{ReplayBufferSize: 10000}, Options{})
	const total = 2500
	for i := range total {
		ts.write(t, "a", fmt.Sprint(i), i)
	}
	for _, format := range []string{"json", "cbor"} {
		c := ts.dial(t, "?format="+format)
		for i := range total {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			typ, b, err := c.Read(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			var ev batchEvent
			if typ == websocket.MessageBinary {
				err = cbor.Unmarshal(b, &ev)
			} else {
				err = json.Unmarshal(b, &ev)
			}
			if err != nil || ev.Sequence != uint64(i+1) {
				t.Fatalf("%s: event %d has sequence %d (%v)", format, i, ev.Sequence, err)
			}
		}
	}
}
