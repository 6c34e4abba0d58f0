package cluster

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/actorstore/actorstore/host"
)

// A register: writes (Update of one actor) and linearizable reads (Get)
// from clients spread over every node, checked with porcupine while
// faults strike. A write whose outcome is unknown (timed out, leadership
// lost) returns at the end of time: it may have happened or not.

type regInput struct {
	write bool
	value int
}

type regOutput struct {
	value   int
	unknown bool
}

var registerModel = porcupine.Model{
	Init: func() any { return 0 },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(regInput), output.(regOutput)
		if in.write {
			return true, in.value
		}
		return out.value == state.(int), state
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		if in.write {
			return fmt.Sprintf("write(%d) unknown=%v", in.value, out.unknown)
		}
		return fmt.Sprintf("read() -> %d", out.value)
	},
}

// runRegister runs clients over every node for d while fault strikes
// (at a third of d) and heals (at two thirds), then checks the history.
func runRegister(t *testing.T, c *testCluster, r *rand.Rand, d time.Duration, fault, heal func()) {
	ctx := context.Background()
	if _, err := c.leader().n().Insert(ctx, "reg", "x", 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	const clients = 6
	seeds := make([]uint64, clients)
	for i := range seeds {
		seeds[i] = r.Uint64()
	}
	stop := make(chan struct{})
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cr := rand.New(rand.NewPCG(seeds[cl], 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tn := c.nodes[cl%len(c.nodes)]
				n := tn.n()
				if n == nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				op := porcupine.Operation{ClientId: cl, Call: time.Since(start).Nanoseconds()}
				octx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				if cr.IntN(2) == 0 {
					v := cl*1_000_000 + i + 1
					op.Input = regInput{write: true, value: v}
					_, err := n.Update(octx, "reg", "x", v)
					op.Return = time.Since(start).Nanoseconds()
					if err != nil {
						// Unknown outcomes stay open to the end of the
						// history; a client that had one pauses, as
						// each one widens the checker's search.
						op.Output, op.Return = regOutput{unknown: true}, math.MaxInt64
						time.Sleep(50 * time.Millisecond)
					} else {
						op.Output = regOutput{}
					}
				} else {
					op.Input = regInput{}
					a, ok, err := n.Get(octx, "reg", "x")
					op.Return = time.Since(start).Nanoseconds()
					var v int
					if err != nil || !ok || a.Decode(&v) != nil {
						cancel()
						continue // a failed read tells nothing
					}
					op.Output = regOutput{value: v}
				}
				cancel()
				mu.Lock()
				history = append(history, op)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(d / 3)
	fault()
	time.Sleep(d / 3)
	heal()
	time.Sleep(d / 3)
	close(stop)
	wg.Wait()
	ok, unknown := 0, 0
	for _, op := range history {
		if op.Return == math.MaxInt64 {
			unknown++
		} else {
			ok++
		}
	}
	t.Logf("%d operations completed, %d writes of unknown outcome", ok, unknown)
	if ok < 20 {
		t.Fatalf("only %d operations completed", ok)
	}
	res := porcupine.CheckOperationsTimeout(registerModel, history, 30*time.Second)
	switch res {
	case porcupine.Illegal:
		t.Fatal("history is not linearizable")
	case porcupine.Unknown:
		t.Log("linearizability check timed out")
	}
	c.converge()
}

// TestLinearizableLeaderCrash kills the leader and restarts it.
func TestLinearizableLeaderCrash(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 0))
	c := newCluster(t, 3, nil)
	var old *testNode
	runRegister(t, c, r, 1500*time.Millisecond, func() {
		old = c.leader()
		c.stop(old, false)
	}, func() { c.start(old, nil) })
}

// TestLinearizableMinorityPartition cuts a follower off, then heals.
func TestLinearizableMinorityPartition(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 0))
	c := newCluster(t, 3, nil)
	runRegister(t, c, r, 1500*time.Millisecond, func() {
		fs := c.followers()
		c.faults.partition(c.ids(), fs[r.IntN(len(fs))].id)
	}, c.faults.heal)
}

// TestLinearizableOldLeaderIsolated cuts the leader off from a majority
// that elects another, then heals.
func TestLinearizableOldLeaderIsolated(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 0))
	c := newCluster(t, 3, nil)
	runRegister(t, c, r, 1500*time.Millisecond, func() {
		c.faults.partition(c.ids(), c.leader().id)
	}, c.faults.heal)
}

// TestLinearizableRandomPartitions partitions random sides, over and
// over, healing in between, with delays on some links.
func TestLinearizableRandomPartitions(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 0))
	c := newCluster(t, 3, nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	runRegister(t, c, r, 2*time.Second, func() {
		pr := rand.New(rand.NewPCG(r.Uint64(), 2))
		go func() {
			defer close(done)
			for {
				ids := c.ids()
				side := ids[pr.IntN(len(ids))]
				c.faults.partition(ids, side)
				c.faults.mu.Lock()
				c.faults.delay[[2]string{ids[pr.IntN(3)], ids[pr.IntN(3)]}] = time.Duration(pr.IntN(5)) * time.Millisecond
				c.faults.mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(50+pr.IntN(150)) * time.Millisecond):
				}
				c.faults.heal()
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(50+pr.IntN(150)) * time.Millisecond):
				}
			}
		}()
	}, func() {
		close(stop)
		<-done
		c.faults.heal()
	})
}

// TestLinearizableWholeClusterRestart stops every node and starts them
// again from their directories.
func TestLinearizableWholeClusterRestart(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 0))
	c := newCluster(t, 3, nil)
	runRegister(t, c, r, 1500*time.Millisecond, func() {
		for _, tn := range c.nodes {
			c.stop(tn, false)
		}
	}, func() {
		for _, tn := range c.nodes {
			c.start(tn, nil)
		}
	})
	if n := c.leader(); n == nil {
		t.Fatal("no leader after the restart")
	}
	_ = host.ErrClosed
}
