// Command actorstore-user opens a store with no options, as a Go program
// that requires github.com/actorstore/actorstore does, writes an actor and
// reads it back. It prints one line starting with "ok" and exits 0, or
// prints what went wrong and exits 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/actorstore/actorstore/host"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "actorstore-user:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	s, err := host.Open(ctx, host.Options{})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer func() { err = errors.Join(err, s.Close(ctx)) }()

	in, err := s.Insert(ctx, "user", "u1", map[string]any{"name": "Ann"})
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	got, ok, err := s.Get(ctx, "user", "u1")
	if err != nil || !ok {
		return fmt.Errorf("get: found %v, %v", ok, err)
	}
	var v struct {
		Name string `cbor:"name"`
	}
	if err := got.Decode(&v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if v.Name != "Ann" || got.Version != in.Version || got.Type != "user" || got.ID != "u1" {
		return fmt.Errorf("read back %s/%s version %d name %q; wrote version %d name \"Ann\"", got.Type, got.ID, got.Version, v.Name, in.Version)
	}
	if _, err := s.UpdateVersioned(ctx, "user", "u1", map[string]any{"name": "Bob"}, in.Version+1); !errors.Is(err, host.ErrVersionMismatch) {
		return fmt.Errorf("update with a wrong version: got %v, want ErrVersionMismatch", err)
	}
	fmt.Printf("ok %s/%s version %d name %s\n", got.Type, got.ID, got.Version, v.Name)
	return nil
}
