package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/actorstore/actorstore/core"
)

// listAll pages through a type with List and returns the pages' sizes
// and every actor.
func listAll(t *testing.T, s *Store, typ string, limit int) ([]int, []Actor) {
	t.Helper()
	var sizes []int
	var all []Actor
	after := ""
	for range 10_000 {
		page, next, err := s.List(context.Background(), typ, after, limit)
		if err != nil {
			t.Fatalf("List(%q, %q, %d): %v", typ, after, limit, err)
		}
		sizes = append(sizes, len(page))
		all = append(all, page...)
		if next == "" {
			return sizes, all
		}
		if next != page[len(page)-1].ID {
			t.Fatalf("next %q, last id %q", next, page[len(page)-1].ID)
		}
		after = next
	}
	t.Fatal("too many pages")
	return nil, nil
}

func sameActors(t *testing.T, what string, got, want []Actor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d actors, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Type != want[i].Type || got[i].ID != want[i].ID || got[i].Version != want[i].Version || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("%s: [%d] = %s/%s v%d %x, want %s/%s v%d %x", what, i, got[i].Type, got[i].ID, got[i].Version, got[i].Value,
				want[i].Type, want[i].ID, want[i].Version, want[i].Value)
		}
	}
}

func TestList(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		ops := make([]BatchOp, 2500)
		for i := range ops {
			// Values of assorted sizes, so that the engine's round trips
			// fall at different places than the pages.
			ops[i] = InsertOp("t", fmt.Sprintf("%05d", i), strings.Repeat("v", i%300))
		}
		if _, err := s.Batch(ctx, ops...); err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"s", "u"} { // neighbours
			if _, err := s.Insert(ctx, typ, "x", 1); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.GetAll(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			limit int
			sizes string
		}{{1000, "[1000 1000 500]"}, {0, "[1000 1000 500]"}, {2500, "[2500]"}, {2499, "[2499 1]"}, {1, ""}, {7, ""}, {100_000, "[2500]"}} {
			sizes, got := listAll(t, s, "t", c.limit)
			if c.sizes != "" && fmt.Sprint(sizes) != c.sizes {
				t.Errorf("limit %d: pages %v, want %s", c.limit, sizes, c.sizes)
			}
			sameActors(t, fmt.Sprintf("limit %d", c.limit), got, all)
		}
		// After an id that is not there, and at the ends.
		for _, c := range []struct {
			after, first, next string
			n                  int
		}{
			{"01234x", "01235", "02234", 1000}, {"", "00000", "00999", 1000}, {"02499", "", "", 0},
			{"1", "", "", 0}, {"0", "00000", "00999", 1000}, {"02000", "02001", "", 499},
		} {
			page, next, err := s.List(ctx, "t", c.after, 1000)
			if err != nil || len(page) != c.n || next != c.next || c.n > 0 && page[0].ID != c.first {
				t.Errorf("after %q: %d actors, next %q, %v; want %d from %q, next %q", c.after, len(page), next, err, c.n, c.first, c.next)
			}
			if page == nil {
				t.Errorf("after %q: a nil page", c.after)
			}
		}
		if page, next, err := s.List(ctx, "none", "", 10); err != nil || page == nil || len(page) != 0 || next != "" {
			t.Errorf("empty type: %v %q %v", page, next, err)
		}
		if _, _, err := s.List(ctx, "t", "", -1); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("negative limit: %v", err)
		}
		for _, typ := range []string{"", strings.Repeat("t", core.MaxTypeBytes+1), "\xff"} {
			if _, _, err := s.List(ctx, typ, "", 10); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("type %q: %v", typ, err)
			}
		}
	})
}

// TestListLongAfter: an after longer than any id reads as its first
// MaxIDBytes bytes would, without sending the rest to the engine.
func TestListLongAfter(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		long := strings.Repeat("a", core.MaxIDBytes)
		for _, id := range []string{long, long[1:] + "b", "b"} {
			if _, err := s.Insert(ctx, "t", id, 1); err != nil {
				t.Fatal(err)
			}
		}
		for after, want := range map[string]int{long + "a": 2, long: 2, long[1:]: 3, long + strings.Repeat("z", 10<<20): 2} {
			page, _, err := s.List(ctx, "t", after, 10)
			if err != nil || len(page) != want {
				t.Errorf("after %d bytes: %d actors, %v; want %d", len(after), len(page), err, want)
			}
		}
	})
}

// TestListLargeActors: a page stops once it accounts ListPageBytes.
func TestListLargeActors(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{ReplayBufferBytes: 1 << 30})
		v := bytes.Repeat([]byte("x"), 300<<10)
		for i := range 40 {
			if _, err := s.Insert(ctx, "big", fmt.Sprintf("%02d", i), v); err != nil {
				t.Fatal(err)
			}
		}
		all, _ := s.GetAll(ctx, "big")
		// The page holds the actors until it accounts ListPageBytes.
		per := 2 + len(all[0].Value) + core.PageActorBytes
		n := (ListPageBytes - core.PageHeaderBytes + per - 1) / per
		sizes, got := listAll(t, s, "big", 1000)
		if sizes[0] != n || len(sizes) != (40+n-1)/n {
			t.Errorf("pages %v, want pages of %d", sizes, n)
		}
		sameActors(t, "large actors", got, all)
	})
}

// countingEngine counts the actors the engine returns to scans.
type countingEngine struct {
	engine
	scanned, calls int
}

func (c *countingEngine) scan(typ, after string, maxBytes int) ([]core.Actor, bool, *core.Error) {
	page, more, err := c.engine.scan(typ, after, maxBytes)
	c.scanned += len(page)
	c.calls++
	return page, more, err
}

// TestListCostsThePage: a page reads about its own actors from the
// engine, wherever it is in the type and however large the type.
func TestListCostsThePage(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		ctx := context.Background()
		s := mustOpen(t, e, Options{})
		for b := range 5 {
			ops := make([]BatchOp, 10_000)
			for i := range ops {
				k := b*len(ops) + i
				ops[i] = InsertOp("t", fmt.Sprintf("%06d", k), strings.Repeat("v", k%50))
			}
			if _, err := s.Batch(ctx, ops...); err != nil {
				t.Fatal(err)
			}
		}
		c := &countingEngine{engine: s.eng}
		s.eng = c
		for _, limit := range []int{1, 10, 1000, 10_000} {
			for _, after := range []string{"", "025000", "049990"} {
				c.scanned, c.calls = 0, 0
				page, _, err := s.List(ctx, "t", after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if c.scanned > 2*len(page)+1 || c.calls > 8 {
					t.Errorf("limit %d after %q: a page of %d read %d actors from the engine in %d round trips", limit, after, len(page), c.scanned, c.calls)
				}
			}
		}
	})
}
