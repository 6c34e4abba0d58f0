package tests

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actorstore/actorstore/host"
)

// The crash test: a child process writes to a durable store and prints
// every write the store acknowledged; the parent kills it with SIGKILL at
// a random moment, reopens the directory and checks that every
// acknowledged write is there, that the state and the replay buffer are
// consistent, and that no sequence number is ever reused. Many rounds run
// on the same directory, alternating engines, with a small snapshot
// threshold so that kills also land during checkpoints.
//
// ACTORSTORE_CRASH_ROUNDS sets the rounds per policy (8 by default).

const (
	crashChildEnv = "ACTORSTORE_CRASH_CHILD"
	crashWriters  = 4
	crashKeys     = 40 // per writer
)

func crashOptions(dir, cache string, policy host.SyncPolicy, engine host.Engine) host.Options {
	return host.Options{Dir: dir, CacheDir: cache, Sync: policy, Engine: engine,
		SnapshotLogBytes: 48 << 10, ReplayBufferSize: 500, SyncInterval: 20 * time.Millisecond}
}

// TestCrashChild is the child's body; it does nothing unless run by
// TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	args := os.Getenv(crashChildEnv)
	if args == "" {
		t.Skip("run by TestCrashRecovery")
	}
	f := strings.Split(args, ",")
	policy, _ := strconv.Atoi(f[2])
	engine, _ := strconv.Atoi(f[3])
	ctx := context.Background()
	s, err := host.Open(ctx, crashOptions(f[0], f[1], host.SyncPolicy(policy), host.Engine(engine)))
	if err != nil {
		fmt.Printf("open failed: %v\n", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format, args...) // unbuffered: one write per line
		mu.Unlock()
	}
	ack("ready\n")
	var wg sync.WaitGroup
	for w := 0; w < crashWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for {
				id := fmt.Sprintf("w%d-%02d", w, r.IntN(crashKeys))
				a, ok, err := s.Get(ctx, "k", id)
				if err != nil {
					fmt.Printf("get failed: %v\n", err)
					os.Exit(4)
				}
				if !ok {
					a, err = s.Insert(ctx, "k", id, crashValue(0))
				} else {
					a, err = s.UpdateVersioned(ctx, "k", id, crashValue(a.Version+1), a.Version)
				}
				if err != nil {
					fmt.Printf("write failed: %v\n", err)
					os.Exit(5)
				}
				ack("ack %s %d\n", id, a.Version)
			}
		}()
	}
	wg.Wait()
}

// crashValue is a value that says which version it belongs to, padded so
// that the log grows quickly.
func crashValue(v uint64) map[string]any {
	return map[string]any{"v": v, "pad": strings.Repeat("p", 150)}
}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the child")
	}
	rounds := 8
	if n, err := strconv.Atoi(os.Getenv("ACTORSTORE_CRASH_ROUNDS")); err == nil {
		rounds = n
	}
	cache := t.TempDir()
	for _, policy := range []host.SyncPolicy{host.SyncAlways, host.SyncInterval} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			acked := map[string]uint64{} // id → highest acknowledged version
			seen := uint64(0)            // highest sequence recovered so far
			writes := 0
			for round := 0; round < rounds; round++ {
				engine := host.Engine(round % 2)
				got := runCrashChild(t, dir, cache, policy, engine, time.Duration(30+rand.IntN(300))*time.Millisecond)
				writes += len(got)
				for _, a := range got {
					acked[a.id] = max(acked[a.id], a.version)
				}
				seen = checkCrashState(t, dir, cache, policy, host.Engine(1-round%2), acked, seen)
			}
			if writes < rounds {
				t.Fatalf("only %d acknowledged writes in %d rounds", writes, rounds)
			}
			t.Logf("%d rounds, %d acknowledged writes, final sequence %d", rounds, writes, seen)
		})
	}
}

type crashAck struct {
	id      string
	version uint64
}

// runCrashChild runs a writer child and kills it after d, returning the
// writes it acknowledged.
func runCrashChild(t *testing.T, dir, cache string, policy host.SyncPolicy, engine host.Engine, d time.Duration) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d,%d", crashChildEnv, dir, cache, policy, engine))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var acks []crashAck
	var kill <-chan time.Time
	var other []string
	for line := range lines {
		switch {
		case line == "ready":
			kill = time.After(d)
		case strings.HasPrefix(line, "ack "):
			var a crashAck
			if _, err := fmt.Sscanf(line, "ack %s %d", &a.id, &a.version); err != nil {
				t.Fatalf("child printed %q", line)
			}
			acks = append(acks, a)
		case strings.HasPrefix(line, "ok") || strings.HasPrefix(line, "PASS"):
		default:
			other = append(other, line)
		}
		select {
		case <-kill:
			cmd.Process.Signal(syscall.SIGKILL)
			kill = nil
		default:
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the child was not killed (%v): %s", err, strings.Join(other, "\n"))
	}
	return acks
}

// checkCrashState reopens the directory (on the other engine than the
// child's) and checks it against what was acknowledged.
func checkCrashState(t *testing.T, dir, cache string, policy host.SyncPolicy, engine host.Engine, acked map[string]uint64, seen uint64) uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := host.Open(ctx, crashOptions(dir, cache, policy, engine))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close(ctx)
	all, err := s.GetAll(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]host.Actor{}
	for _, a := range all {
		var v struct{ V uint64 }
		if err := a.Decode(&v); err != nil || v.V != a.Version {
			t.Fatalf("%s: value %x does not match version %d (%v)", a.ID, a.Value, a.Version, err)
		}
		have[a.ID] = a
	}
	for id, v := range acked {
		if a, ok := have[id]; !ok || a.Version < v {
			t.Fatalf("acknowledged write lost: %s version %d, recovered version %d (present %v)", id, v, a.Version, ok)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CurrentSequence < seen {
		t.Fatalf("sequence went back from %d to %d", seen, st.CurrentSequence)
	}
	// The replay buffer has no gaps, ends at the current sequence, and
	// agrees with the actors' versions.
	p, err := s.Changes(ctx, st.OldestSequence-1, host.Filter{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range p.Events {
		if e.Sequence != st.OldestSequence+uint64(i) {
			t.Fatalf("replay buffer gap: event %d has sequence %d, oldest %d", i, e.Sequence, st.OldestSequence)
		}
		if a := have[e.ActorID]; e.NewVersion != nil && *e.NewVersion > a.Version {
			t.Fatalf("event %d says %s reached version %d, the actor is at %d", e.Sequence, e.ActorID, *e.NewVersion, a.Version)
		}
	}
	if n := len(p.Events); n > 0 && p.Events[n-1].Sequence != st.CurrentSequence {
		t.Fatalf("replay buffer ends at %d, sequence is %d", p.Events[n-1].Sequence, st.CurrentSequence)
	}
	return st.CurrentSequence
}
