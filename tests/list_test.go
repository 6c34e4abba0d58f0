package tests

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/actorstore/actorstore/client"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/server"
)

// List is not in host.API (a cluster node need not have it); the
// embedded store and the client both do.
var (
	_ server.Lister = (*host.Store)(nil)
	_ server.Lister = (*client.Client)(nil)
)

// listCase is one List call.
type listCase struct {
	typ, after string
	limit      int
}

// TestList pages through 2,500 actors with limit 1,000, and makes List
// calls of every kind (after an id absent or past the end, limits small,
// default and beyond a request's 10,000, pages cut by their bytes,
// invalid arguments), on each engine, embedded and through the client:
// every answer must be the embedded native store's, byte for byte,
// errors and their messages included.
func TestList(t *testing.T) {
	ctx := context.Background()
	// "t": 2,500 small actors; "big": 15,000 of ~300 bytes, whose first
	// 10,000 (a request's most) account less than host.ListPageBytes and
	// whose 15,000 more; "large": 100 of 100 KiB.
	fill := func(s host.API) {
		insert := func(typ string, n, per int, value func(k int) any) {
			for k := 0; k < n; k += per {
				ops := make([]host.BatchOp, 0, per)
				for i := k; i < min(n, k+per); i++ {
					ops = append(ops, host.InsertOp(typ, fmt.Sprintf("%05d", i), value(i)))
				}
				if _, err := s.Batch(ctx, ops...); err != nil {
					t.Fatalf("filling %s: %v", typ, err)
				}
			}
		}
		insert("t", 2500, 1000, func(k int) any { return map[string]any{"n": k, "s": strings.Repeat("v", k%30)} })
		insert("big", 15_000, 1000, func(k int) any { return strings.Repeat("x", 250+k%100) })
		insert("large", 100, 10, func(int) any { return strings.Repeat("L", 100<<10) })
	}
	cases := []listCase{
		{"t", "", 1000}, {"t", "00999", 1000}, {"t", "01999", 1000}, {"t", "", 0}, {"t", "", 1}, {"t", "00123x", 7},
		{"t", "02499", 1000}, {"t", "1", 10}, {"t", "", 2500}, {"t", "", 2499}, {"t", "", 20_000},
		{"t", "0" + strings.Repeat("1", 3000), 5}, {"none", "", 10},
		{"big", "", 10_000}, {"big", "", 15_000}, {"big", "00100", 14_000}, {"big", "01000", 20_000},
		{"large", "", 100}, {"large", "00050", 1000},
		{"t", "", -1}, {"", "", 10}, {"\xff", "", 10}, {"", "", -1},
	}
	var want []string // the answers of the first target, the embedded native store
	for ti, tg := range targets {
		s := openTarget(t, tg, host.Options{MaxDataBytes: 1 << 30, ReplayBufferSize: 100})
		fill(s)
		l := s.(server.Lister)
		// 2,500 actors, 1,000 a page.
		var sizes []int
		var got []host.Actor
		after := ""
		for range 10 {
			page, next, err := l.List(ctx, "t", after, 1000)
			if err != nil {
				t.Fatalf("%v: List after %q: %v", tg, after, err)
			}
			sizes = append(sizes, len(page))
			got = append(got, page...)
			if after = next; next == "" {
				break
			}
		}
		all, err := s.GetAll(ctx, "t")
		if err != nil || fmt.Sprint(sizes) != "[1000 1000 500]" || digest(got) != digest(all) {
			t.Errorf("%v: pages %v of %d actors, GetAll %d actors (%v); the pages differ from GetAll", tg, sizes, len(got), len(all), err)
		}
		for i, c := range cases {
			page, next, err := l.List(ctx, c.typ, c.after, c.limit)
			ans := fmt.Sprintf("%d actors, next %q, error %v (%s)", len(page), next, err, client.CodeOf(err))
			if detail := digest(page); ti == 0 {
				want = append(want, ans+" "+detail)
				if c.typ == "big" && c.limit > 10_000 && (next == "" || len(page) <= 10_000 || len(page) >= c.limit) {
					t.Errorf("List(%q, %q, %d): %s: want a page cut by its bytes past a request's 10,000", c.typ, c.after, c.limit, ans)
				}
			} else if ans+" "+detail != want[i] {
				t.Errorf("%v: List(%q, %.20q, %d): %s; want %.200s", tg, c.typ, c.after, c.limit, ans, want[i])
			}
		}
	}
}

// digest is a digest of actors: their number, and a hash of each one's
// type, id, version and value, and of whether the slice is nil.
func digest(as []host.Actor) string {
	h := sha256.New()
	for _, a := range as {
		fmt.Fprintf(h, "%q %q %d %x\n", a.Type, a.ID, a.Version, a.Value)
	}
	return fmt.Sprintf("%d actors, nil %v, %x", len(as), as == nil, h.Sum(nil))
}
