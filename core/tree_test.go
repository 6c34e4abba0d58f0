package core

import (
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testSeed returns the seed of a randomized test: $ACTORSTORE_SEED when
// set, to replay a failure, else a new one. It is logged either way.
func testSeed(t *testing.T) uint64 {
	seed := rand.Uint64()
	if v := os.Getenv("ACTORSTORE_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (ACTORSTORE_SEED=%d replays it)", seed, seed)
	return seed
}

// treeModel is a tree beside the sorted keys it must hold.
type treeModel struct {
	t    *testing.T
	a    *arena
	tr   tree
	keys []string // encoded keys, sorted
	refs map[string]uint32
}

func newTreeModel(t *testing.T) *treeModel {
	a := &arena{}
	return &treeModel{t: t, a: a, tr: newTree(a), refs: map[string]uint32{}}
}

// encodedKey is the key as the tree orders it.
func encodedKey(typ, id string) string {
	return string([]byte{byte(len(typ) >> 8), byte(len(typ))}) + typ + id
}

func (m *treeModel) insert(typ, id string, tail bool) {
	ref := m.a.put(typ, id, nil, 0)
	k := makeKey(typ, id)
	if !tail && len(m.keys)%2 == 0 {
		if _, ok := m.tr.find(&k); ok {
			m.t.Fatalf("find %q: present before its insert", encodedKey(typ, id))
		}
		m.tr.insertFound(k.item(ref), &k)
	} else {
		m.tr.insert(k.item(ref), &k, tail)
	}
	ek := encodedKey(typ, id)
	i, found := slices.BinarySearch(m.keys, ek)
	if found {
		m.t.Fatalf("model: %q inserted twice", ek)
	}
	m.keys = slices.Insert(m.keys, i, ek)
	m.refs[ek] = ref
}

func (m *treeModel) remove(i int) {
	ek := m.keys[i]
	typ, id := m.split(ek)
	k := makeKey(typ, id)
	var got item
	if i%2 == 0 {
		got = m.tr.delete(&k)
	} else {
		if _, ok := m.tr.find(&k); !ok {
			m.t.Fatalf("find %q: absent", ek)
		}
		got = m.tr.deleteFound()
	}
	if got.ref != m.refs[ek] {
		m.t.Fatalf("delete %q returned ref %x, want %x", ek, got.ref, m.refs[ek])
	}
	m.keys = slices.Delete(m.keys, i, i+1)
	delete(m.refs, ek)
}

func (m *treeModel) replace(i int) {
	ek := m.keys[i]
	typ, id := m.split(ek)
	k := makeKey(typ, id)
	ref := m.a.put(typ, id, []byte{1}, 1)
	if _, ok := m.tr.find(&k); !ok {
		m.t.Fatalf("find %q: absent", ek)
	}
	m.tr.replaceFound(k.item(ref))
	m.refs[ek] = ref
}

func (m *treeModel) split(ek string) (typ, id string) {
	n := int(ek[0])<<8 | int(ek[1])
	return ek[2 : 2+n], ek[2+n:]
}

// check walks t, comparing it with keys and refs (of the model when it
// was copied), and checks the tree's shape: every leaf at one depth, no
// empty node but an empty root, keys in order across nodes.
func (m *treeModel) check(t *tree, keys []string, refs map[string]uint32) {
	m.t.Helper()
	var it iter
	it.seek(t, nil)
	i := 0
	for {
		x, ok := it.next()
		if !ok {
			break
		}
		if i >= len(keys) {
			m.t.Fatalf("tree has more than the %d keys of the model", len(keys))
		}
		typ, id := m.a.key(x.ref)
		k := makeKey(typ, id)
		if ek := encodedKey(typ, id); ek != keys[i] || x.ref != refs[ek] || k.item(x.ref) != x {
			m.t.Fatalf("item %d: %q ref %x, want %q ref %x", i, ek, x.ref, keys[i], refs[keys[i]])
		}
		i++
	}
	if i != len(keys) || t.len() != len(keys) {
		m.t.Fatalf("tree walks %d items and counts %d, the model has %d", i, t.len(), len(keys))
	}
	if t.root == nil {
		return
	}
	leafDepth := -1
	var walk func(n *node, depth int) int
	walk = func(n *node, depth int) int {
		if n.n == 0 || n.n > maxItems {
			m.t.Fatalf("node with %d items at depth %d", n.n, depth)
		}
		if n.kids == nil {
			if leafDepth >= 0 && depth != leafDepth {
				m.t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			leafDepth = depth
			return n.n
		}
		count := n.n
		for j := 0; j <= n.n; j++ {
			if n.kids[j] == nil {
				m.t.Fatalf("branch with %d items lacks child %d", n.n, j)
			}
			count += walk(n.kids[j], depth+1)
		}
		for j := n.n + 1; j <= maxItems; j++ {
			if n.kids[j] != nil {
				m.t.Fatalf("branch with %d items keeps child %d", n.n, j)
			}
		}
		return count
	}
	if n := walk(t.root, 0); n != len(keys) {
		m.t.Fatalf("nodes hold %d items, want %d", n, len(keys))
	}
}

// randomID returns ids that often share long prefixes, so that keys often
// agree on their first 16 bytes and are compared from their records, and
// short ids that differ only by trailing zero bytes.
func randomID(r *rand.Rand) string {
	switch r.IntN(5) {
	case 4:
		return string(rune('a'+r.IntN(3))) + strings.Repeat("\x00", r.IntN(16))
	case 0:
		return strconv.Itoa(r.IntN(1 << 20))
	case 1:
		return "user-0000000000-" + strconv.Itoa(r.IntN(1<<20))
	case 2:
		return strings.Repeat("x", r.IntN(20)) + string(rune('a'+r.IntN(26)))
	default:
		return "order:" + strconv.Itoa(r.IntN(1000)) + ":" + strconv.Itoa(r.IntN(1000))
	}
}

// TestTreeRandom runs random inserts, deletes and replacements against a
// sorted model, copies the tree now and then and checks that each copy
// still shows what the model showed when it was taken, while the tree
// goes on changing.
func TestTreeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 1))
	m := newTreeModel(t)
	types := []string{"a", "user", "a-type-of-sixteen", "b"}
	type copied struct {
		tr   tree
		keys []string
		refs map[string]uint32
	}
	var copies []copied
	for round := 0; round < 40; round++ {
		// Grow, then shrink, so that nodes split and merge at every depth.
		target := r.IntN(12_000)
		for steps := 0; steps < 3000 || len(m.keys) != target && steps < 30_000; steps++ {
			switch {
			case len(m.keys) < target && r.IntN(4) != 0:
				typ, id := types[r.IntN(len(types))], randomID(r)
				if _, ok := m.refs[encodedKey(typ, id)]; !ok {
					m.insert(typ, id, false)
				}
			case len(m.keys) > 0 && r.IntN(3) == 0:
				m.replace(r.IntN(len(m.keys)))
			case len(m.keys) > target:
				m.remove(r.IntN(len(m.keys)))
			}
		}
		m.check(&m.tr, m.keys, m.refs)
		if r.IntN(3) == 0 {
			copies = append(copies, copied{m.tr.copy(), slices.Clone(m.keys), maps.Clone(m.refs)})
		}
	}
	for _, c := range copies {
		m.check(&c.tr, c.keys, c.refs)
	}
	for len(m.keys) > 0 {
		m.remove(r.IntN(len(m.keys)))
	}
	m.check(&m.tr, nil, nil)
	if m.tr.root != nil {
		t.Fatal("an empty tree keeps a root")
	}
}

// TestTreeInOrderLeavesFull: inserts in key order, as a restore makes them
// (tail) and as sequential ids make them (a search each), leave nodes
// nearly full, where splits in half would leave them half empty.
func TestTreeInOrderLeavesFull(t *testing.T) {
	for _, tail := range []bool{true, false} {
		m := newTreeModel(t)
		const n = 100_000
		for i := 0; i < n; i++ {
			m.insert("user", "u"+strconv.Itoa(1_000_000+i), tail)
		}
		m.check(&m.tr, m.keys, m.refs)
		nodes := 0
		var walk func(n *node)
		walk = func(n *node) {
			nodes++
			if n.kids != nil {
				for _, c := range n.kids[:n.n+1] {
					walk(c)
				}
			}
		}
		walk(m.tr.root)
		if fill := float64(n) / float64(nodes*maxItems); fill < 0.97 {
			t.Errorf("tail %v: %d nodes for %d items, %.0f%% full", tail, nodes, n, fill*100)
		}
	}
}

// TestTreeScan: scan visits one type's actors after an id, in order.
func TestTreeScan(t *testing.T) {
	m := newTreeModel(t)
	for _, typ := range []string{"a", "b", "bb", "c"} {
		for i := 0; i < 500; i++ {
			m.insert(typ, strconv.Itoa(i), false)
		}
	}
	var got []string
	m.tr.scan("bb", "250", func(a *Actor) bool {
		got = append(got, a.Type+"/"+a.ID)
		return len(got) < 1000
	})
	var want []string
	for i := 0; i < 500; i++ {
		if id := strconv.Itoa(i); id > "250" {
			want = append(want, "bb/"+id)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("scan bb after 250: %d actors %v..., want %d", len(got), got[:min(3, len(got))], len(want))
	}
}
