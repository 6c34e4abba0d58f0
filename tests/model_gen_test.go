package tests

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/actorstore/actorstore/host"
)

// This file generates the random operations of the model test. Key spaces
// are small so that inserts collide, updates find their actors and batches
// trip over each other.

// mvalue is a CBOR value and whether it is well-formed.
type mvalue struct {
	b     []byte
	valid bool
}

// mop is one random operation.
type mop struct {
	kind     string // insert, update, updateVersioned, delete, get, getAll, batch, changes, stats
	typ, id  string
	value    mvalue
	expected uint64
	ops      []mop // batch
	since    uint64
	filter   host.Filter
	limit    int
}

func (o *mop) String() string {
	switch o.kind {
	case "batch":
		parts := make([]string, len(o.ops))
		for i := range o.ops {
			parts[i] = o.ops[i].String()
		}
		return "batch[" + strings.Join(parts, ", ") + "]"
	case "changes":
		return fmt.Sprintf("changes(since %d, %+v, limit %d)", o.since, o.filter, o.limit)
	case "stats":
		return "stats"
	}
	return fmt.Sprintf("%s(%q, %q, %x, expected %d)", o.kind, o.typ, o.id, o.value.b, o.expected)
}

var (
	modelTypes    = []string{"a", "ab", "b"}
	modelIDs      = []string{"1", "10", "2", "x", "xy"}
	modelPrefixes = []string{"", "", "1", "x", "xy", "2", "z"}
	malformed     = []string{"", "\xff", "\x1c", "\x18", "\x61\xff", "\x00\x00", "\x82\x01", "\xbf\x01\xff"}
)

// gen draws random operations against a model.
type gen struct {
	r *rand.Rand
	m *model
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// key returns a key of the small key space, rarely an invalid one.
func (g *gen) key() (string, string) {
	if g.r.IntN(40) == 0 {
		switch g.r.IntN(4) {
		case 0:
			return "", g.pick(modelIDs)
		case 1:
			return g.pick(modelTypes), ""
		case 2:
			return strings.Repeat("t", 257), g.pick(modelIDs)
		default:
			return g.pick(modelTypes), "\xff"
		}
	}
	return g.pick(modelTypes), g.pick(modelIDs)
}

// value returns a random CBOR value: mostly well-formed, sometimes
// malformed, sometimes (when big is set) over the size limit.
func (g *gen) value(big bool) mvalue {
	switch n := g.r.IntN(20); {
	case n == 0:
		return mvalue{b: []byte(g.pick(malformed))}
	case n == 1 && big:
		return g.text(24 + g.r.IntN(40))
	case n < 5:
		return mvalue{b: []byte{byte(g.r.IntN(24))}, valid: true}
	case n < 8:
		return mvalue{b: []byte{0x19, byte(g.r.IntN(256)), byte(g.r.IntN(256))}, valid: true}
	case n < 14:
		return g.text(g.r.IntN(24))
	case n < 17:
		return g.bytes(g.r.IntN(24))
	}
	return g.array(g.r.IntN(10))
}

func (g *gen) text(n int) mvalue {
	b := []byte{0x60 | byte(n)}
	if n >= 24 {
		b = []byte{0x78, byte(n)}
	}
	for range n {
		b = append(b, byte('a'+g.r.IntN(26)))
	}
	return mvalue{b: b, valid: true}
}

func (g *gen) bytes(n int) mvalue {
	b := []byte{0x40 | byte(n)}
	for range n {
		b = append(b, byte(g.r.IntN(256)))
	}
	return mvalue{b: b, valid: true}
}

func (g *gen) array(n int) mvalue {
	b := []byte{0x80 | byte(n)}
	for range n {
		b = append(b, byte(g.r.IntN(24)))
	}
	return mvalue{b: b, valid: true}
}

// expected returns the actor's version most of the time, else a guess.
func (g *gen) expected(typ, id string) uint64 {
	if a, ok := g.m.actors[mkey{typ, id}]; ok && g.r.IntN(10) < 7 {
		return a.version
	}
	return uint64(g.r.IntN(6))
}

// write returns a random write operation, its value sometimes (when big is
// set) over the size limit. Key errors win over value errors, and a
// batch reports its first failing operation (vectors/batch.json, "errors
// are reported in operation order").
func (g *gen) write(big bool) mop {
	kinds := []string{"insert", "insert", "update", "updateVersioned", "updateVersioned", "delete"}
	o := mop{kind: g.pick(kinds)}
	o.typ, o.id = g.key()
	if o.kind != "delete" {
		o.value = g.value(big)
		// Near the data budget, an update often grows its actor, so that
		// "update STORE_FULL" is reached in short runs too.
		if o.kind == "update" && g.m.data > g.m.lim.maxData-100 && g.r.IntN(2) == 0 {
			o.value = g.text(16 + g.r.IntN(20))
		}
	}
	if o.kind == "updateVersioned" {
		o.expected = g.expected(o.typ, o.id)
	}
	return o
}

// op returns the next random operation.
func (g *gen) op() mop {
	switch n := g.r.IntN(100); {
	case n < 55:
		return g.write(true)
	case n < 65:
		o := mop{kind: "get"}
		o.typ, o.id = g.key()
		return o
	case n < 70:
		// key() draws an invalid type once in 80; a list draws one more
		// often, so that even a short run (TestModelCluster) reaches
		// "getAll INVALID_KEY".
		if g.r.IntN(10) == 0 {
			return mop{kind: "getAll", typ: g.pick([]string{"", strings.Repeat("t", 257)})}
		}
		t, _ := g.key()
		return mop{kind: "getAll", typ: t}
	case n < 82:
		o := mop{kind: "batch", ops: make([]mop, 1+g.r.IntN(5))}
		for i := range o.ops {
			o.ops[i] = g.write(true)
		}
		return o
	case n < 97:
		return g.changes()
	}
	return mop{kind: "stats"}
}

// changes returns a random poll: from the start, from recent or evicted
// positions, or beyond the newest event.
func (g *gen) changes() mop {
	o := mop{kind: "changes", limit: 1 + g.r.IntN(30)}
	o.filter.KeyPrefix = g.pick(modelPrefixes)
	if g.r.IntN(2) == 0 {
		o.filter.ActorType = g.pick(modelTypes)
	}
	seq, old := g.m.seq, g.m.oldest()
	switch g.r.IntN(5) {
	case 0:
		o.since = 0
	case 1:
		o.since = seq + uint64(g.r.IntN(3))
	default:
		lo := max(int64(old)-3, 0)
		o.since = uint64(lo + g.r.Int64N(int64(seq)-lo+1))
	}
	return o
}
