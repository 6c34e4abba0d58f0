package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/actorstore/actorstore/host"
)

func Example() {
	ctx := context.Background()
	s, err := host.Open(ctx, host.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close(ctx)

	a, _ := s.Insert(ctx, "user", "u1", map[string]any{"name": "Ann"})
	fmt.Println("inserted", a.Type, a.ID, "version", a.Version)

	a, _ = s.Update(ctx, "user", "u1", map[string]any{"name": "Ann B."})
	var v map[string]any
	_ = a.Decode(&v)
	fmt.Println("updated to", v["name"], "version", a.Version)
	// Output:
	// inserted user u1 version 0
	// updated to Ann B. version 1
}

func ExampleStore_UpdateVersioned() {
	ctx := context.Background()
	s, _ := host.Open(ctx, host.Options{Engine: host.EngineNative})
	defer s.Close(ctx)

	s.Insert(ctx, "counter", "c", 0)
	_, err := s.UpdateVersioned(ctx, "counter", "c", 1, 7) // stale version
	var vm *host.VersionMismatchError
	if errors.As(err, &vm) {
		fmt.Println("expected", vm.Expected, "actual", vm.Actual)
		a, _ := s.UpdateVersioned(ctx, "counter", "c", 1, vm.Actual)
		fmt.Println("retried: version", a.Version)
	}
	// Output:
	// expected 7 actual 0
	// retried: version 1
}

func ExampleStore_Subscribe() {
	ctx := context.Background()
	s, _ := host.Open(ctx, host.Options{})
	defer s.Close(ctx)

	sub, _ := s.Subscribe(ctx, host.SubscriptionOptions{
		Start:  host.FromBeginning(),
		Filter: host.Filter{ActorType: "order", KeyPrefix: "eu-"},
	})
	defer sub.Close()

	s.Insert(ctx, "order", "us-1", "ignored by the filter")
	s.Insert(ctx, "order", "eu-1", "new")
	s.Update(ctx, "order", "eu-1", "paid")

	for i := 0; i < 2; i++ {
		ev, _ := sub.Next(ctx)
		fmt.Println(ev.Sequence, ev.Operation, ev.ActorID)
	}
	// Output:
	// 2 insert eu-1
	// 3 update eu-1
}

func ExampleStore_Changes() {
	ctx := context.Background()
	s, _ := host.Open(ctx, host.Options{})
	defer s.Close(ctx)
	for _, id := range []string{"a", "b", "c"} {
		s.Insert(ctx, "doc", id, id)
	}
	var cursor uint64
	for {
		page, err := s.Changes(ctx, cursor, host.Filter{}, 2)
		if err != nil || len(page.Events) == 0 {
			break
		}
		for _, ev := range page.Events {
			fmt.Println(ev.Sequence, ev.ActorID)
		}
		cursor = page.Next
	}
	// Output:
	// 1 a
	// 2 b
	// 3 c
}

func ExampleStore_Batch() {
	ctx := context.Background()
	s, _ := host.Open(ctx, host.Options{})
	defer s.Close(ctx)
	s.Insert(ctx, "account", "alice", 100)

	// All or nothing: the second operation fails, so alice keeps 100.
	_, err := s.Batch(ctx,
		host.UpdateOp("account", "alice", 50),
		host.UpdateOp("account", "bob", 150),
	)
	var be *host.BatchError
	if errors.As(err, &be) && errors.Is(err, host.ErrNotFound) {
		fmt.Println("operation", be.Index, "failed:", be.Err)
	}
	a, _, _ := s.Get(ctx, "account", "alice")
	var balance int
	a.Decode(&balance)
	fmt.Println("alice", balance, "version", a.Version)
	// Output:
	// operation 1 failed: actorstore: batch operation 1: not found: account/bob
	// alice 100 version 0
}

// A BatchOp reads back as what it does, which is what a client sends to a
// server: the server rebuilds it with the constructor its Kind names.
func ExampleBatchOp() {
	for _, op := range []host.BatchOp{
		host.InsertOp("user", "u2", map[string]any{"name": "Bo"}),
		host.UpdateVersionedOp("user", "u1", "x", 3),
		host.DeleteOp("user", "u3"),
	} {
		v, _ := op.Value() // CBOR
		fmt.Printf("%s %s/%s value %x expected %d\n", op.Kind(), op.Type(), op.ID(), []byte(v), op.ExpectedVersion())
	}
	// Output:
	// insert user/u2 value a1646e616d6562426f expected 0
	// updateVersioned user/u1 value 6178 expected 3
	// delete user/u3 value  expected 0
}

func ExampleFromTime() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s, _ := host.Open(ctx, host.Options{Clock: func() time.Time { return now }})
	defer s.Close(ctx)
	s.Insert(ctx, "log", "1", "before")
	now = now.Add(time.Hour)
	s.Insert(ctx, "log", "2", "after")

	sub, _ := s.Subscribe(ctx, host.SubscriptionOptions{Start: host.FromTime(now)})
	defer sub.Close()
	ev, _ := sub.Next(ctx)
	fmt.Println(ev.ActorID, ev.Timestamp.UTC().Format(time.Kitchen))
	// Output:
	// 2 1:00PM
}

// A durable store: everything acknowledged survives a restart (or a
// crash), with its sequence numbers and change feed.
func ExampleOptions_dir() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "actorstore-example")
	defer os.RemoveAll(dir)

	s, _ := host.Open(ctx, host.Options{Dir: dir})
	s.Insert(ctx, "user", "u1", "Ann")
	s.Update(ctx, "user", "u1", "Ann B.")
	s.Close(ctx)

	s, err := host.Open(ctx, host.Options{Dir: dir}) // recovers
	if err != nil {
		panic(err)
	}
	defer s.Close(ctx)
	a, _, _ := s.Get(ctx, "user", "u1")
	st, _ := s.Stats(ctx)
	fmt.Println("version", a.Version, "sequence", st.CurrentSequence, "records replayed", s.Recovered().Records)

	_, err = host.Open(ctx, host.Options{Dir: dir})
	fmt.Println("second open:", errors.Is(err, host.ErrLocked))
	// Output:
	// version 1 sequence 2 records replayed 2
	// second open: true
}

// Snapshot and Restore move a whole store, with its history, between
// stores, engines and hosts (the JS package reads the same bytes).
func ExampleStore_Snapshot() {
	ctx := context.Background()
	src, _ := host.Open(ctx, host.Options{})
	defer src.Close(ctx)
	src.Insert(ctx, "user", "u1", "Ann")
	var buf bytes.Buffer
	if err := src.Snapshot(ctx, &buf); err != nil {
		panic(err)
	}

	dst, _ := host.Open(ctx, host.Options{Engine: host.EngineNative})
	defer dst.Close(ctx)
	if err := dst.Restore(ctx, &buf); err != nil {
		panic(err)
	}
	a, _, _ := dst.Get(ctx, "user", "u1")
	st, _ := dst.Stats(ctx)
	fmt.Println(a.ID, "sequence", st.CurrentSequence)
	// Output:
	// u1 sequence 1
}
