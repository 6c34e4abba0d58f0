package core

// tree is a copy-on-write B-tree of items, ordered by key, specialized for
// the store: its items hold no pointers (the garbage collector never scans
// them), and most comparisons are two integer comparisons done inline.
// Its design follows tidwall/btree: every node carries the id of the tree
// that owns it, and a tree clones a node it does not own before writing
// it, so copy is O(1) and the copy and the original share every node
// that neither has written since.
//
// Keys are len(type) (2 bytes, big-endian), type, id, compared as bytes:
// actors of a type are contiguous and ordered by id; types sort by
// length, then bytes. An item carries the first 16 bytes of its key,
// zero-padded, as two big-endian integers; only keys that agree on those
// are compared further, from the record.
type tree struct {
	root  *node
	iso   uint64 // nodes with another iso are shared: cloned before writing
	count int
	a     *arena
	// The path of the latest find, for replaceFound: the child taken at
	// each depth above the item, then the item's index.
	path  [maxDepth]int32
	depth int
	mods  uint64 // changes to the tree's shape
	found uint64 // mods when path was found
	hit   bool   // the path leads to an item, not to where one would go
	// The rightmost leaf, for inserts in key order (tail), when last
	// equals mods.
	right *node
	last  uint64
}

const (
	maxItems = 127
	minItems = maxItems / 2
	// maxDepth bounds a tree's height: a node of a tree of height h has
	// at least 2^(h-1) leaves below it, so 32 levels are beyond memory.
	maxDepth = 32
)

// item is one slot of the tree: the key's first 16 bytes, its length and
// the record. Keys of up to 16 bytes are compared without the record.
type item struct {
	hi, lo uint64
	ref    uint32
	n      uint32
}

// node is a B-tree node: items in key order and, for a branch, one more
// child than items. kids comes first so that the collector, which scans
// an object up to its last pointer, reads one word of it.
type node struct {
	kids  *[maxItems + 1]*node // nil for a leaf
	iso   uint64
	n     int
	items [maxItems]item
}

// key is what a search looks for.
type key struct {
	hi, lo  uint64
	n       uint32 // 2 + len(typ) + len(id)
	typ, id string
}

func makeKey(typ, id string) key {
	var b [16]byte
	b[0], b[1] = byte(len(typ)>>8), byte(len(typ))
	n := 2 + copy(b[2:], typ)
	copy(b[n:], id)
	return key{hi: be64(b[:8]), lo: be64(b[8:]), n: uint32(2 + len(typ) + len(id)), typ: typ, id: id}
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// item returns the tree's item for k and the record at ref.
func (k *key) item(ref uint32) item { return item{k.hi, k.lo, ref, k.n} }

func newTree(a *arena) tree { return tree{iso: a.nextIso(), a: a} }

// cmp compares k with it's key: -1, 0 or +1.
func (t *tree) cmp(k *key, it *item) int {
	switch {
	case k.hi < it.hi || k.hi == it.hi && k.lo < it.lo:
		return -1
	case k.hi > it.hi || k.lo > it.lo:
		return 1
	}
	return t.tie(k, it)
}

// tie compares keys whose first 16 bytes are equal.
func (t *tree) tie(k *key, it *item) int {
	if k.n <= 16 && it.n <= 16 { // the shorter is the other but zeros
		switch {
		case k.n < it.n:
			return -1
		case k.n > it.n:
			return 1
		}
		return 0
	}
	return t.cmpTail(k, it.ref)
}

// cmpTail compares keys whose first 16 bytes are equal, so are the
// lengths of their types.
func (t *tree) cmpTail(k *key, ref uint32) int {
	typ, id := t.a.key(ref)
	if k.typ != typ {
		if k.typ < typ {
			return -1
		}
		return 1
	}
	if k.id != id {
		if k.id < id {
			return -1
		}
		return 1
	}
	return 0
}

// search returns k's index in n, or where it would go. It compares the
// integers inline: a call per comparison is dear in the wasm guest.
func (t *tree) search(n *node, k *key) (int, bool) {
	lo, hi := 0, n.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		it := &n.items[m]
		switch {
		case k.hi < it.hi:
			hi = m
		case k.hi > it.hi:
			lo = m + 1
		case k.lo < it.lo:
			hi = m
		case k.lo > it.lo:
			lo = m + 1
		case k.n <= 16 && it.n <= 16: // tie, inline for short keys
			switch {
			case k.n < it.n:
				hi = m
			case k.n > it.n:
				lo = m + 1
			default:
				return m, true
			}
		default:
			c := t.cmpTail(k, it.ref)
			if c == 0 {
				return m, true
			}
			if c < 0 {
				hi = m
			} else {
				lo = m + 1
			}
		}
	}
	return lo, false
}

func (t *tree) len() int { return t.count }

// copy returns a copy of t: O(1), nodes are cloned when either writes.
func (t *tree) copy() tree {
	c := *t
	t.iso, c.iso = t.a.nextIso(), t.a.nextIso()
	// Neither may use a path or a rightmost leaf found before: they are
	// shared now.
	t.mods++
	c.mods, c.right = t.mods+1, nil
	return c
}

// mut returns the node at *pn, cloned first unless t owns it.
func (t *tree) mut(pn **node) *node {
	n := *pn
	if n.iso != t.iso {
		c := &node{iso: t.iso, n: n.n}
		copy(c.items[:n.n], n.items[:n.n])
		if n.kids != nil {
			kids := *n.kids
			c.kids = &kids
		}
		*pn, n = c, c
	}
	return n
}

func (t *tree) newNode(branch bool) *node {
	n := &node{iso: t.iso}
	if branch {
		n.kids = new([maxItems + 1]*node)
	}
	return n
}

// find returns k's item and leaves its path for replaceFound and
// deleteFound, or, when k is absent, the path to where it would go in a
// leaf for insertFound.
func (t *tree) find(k *key) (item, bool) {
	n := t.root
	for d := 0; n != nil && d < maxDepth; d++ {
		i, found := t.search(n, k)
		t.path[d] = int32(i)
		if found || n.kids == nil {
			t.depth, t.found, t.hit = d, t.mods, found
			if found {
				return n.items[i], true
			}
			break
		}
		n = n.kids[i]
	}
	return item{}, false
}

// insertFound inserts it, whose key k the latest find did not find, where
// that find left off when the leaf has room, without searching again;
// otherwise as insert does.
func (t *tree) insertFound(it item, k *key) {
	if t.found != t.mods || t.hit || t.root == nil {
		t.insert(it, k, false)
		return
	}
	n := t.root
	for d := 0; d < t.depth; d++ {
		n = n.kids[t.path[d]]
	}
	if n.n == maxItems {
		t.insert(it, k, false)
		return
	}
	pn := &t.root
	for d := 0; d < t.depth; d++ {
		pn = &t.mut(pn).kids[t.path[d]]
	}
	n = t.mut(pn)
	i := int(t.path[t.depth])
	copy(n.items[i+1:n.n+1], n.items[i:n.n])
	n.items[i] = it
	n.n++
	t.count++
	t.mods++
}

// replaceFound puts it in place of the item the latest find found, which
// must have the same key; nothing may have changed the tree since.
func (t *tree) replaceFound(it item) {
	if t.found != t.mods || !t.hit {
		panic("core: tree changed between find and replaceFound")
	}
	pn := &t.root
	for d := 0; d < t.depth; d++ {
		pn = &t.mut(pn).kids[t.path[d]]
	}
	t.mut(pn).items[t.path[t.depth]] = it
}

// replace puts it in place of the item with k, which must be in the tree.
func (t *tree) replace(it item, k *key) {
	if _, ok := t.find(k); !ok {
		panic("core: replace of a key not in the tree")
	}
	t.replaceFound(it)
}

// insert adds it, whose key k is not in the tree. With tail, k is after
// every key in the tree (a bulk load in key order): no comparisons.
func (t *tree) insert(it item, k *key, tail bool) {
	if tail && t.last == t.mods && t.right != nil && t.right.n < maxItems {
		// The rightmost leaf is t's own and has room: no descent.
		r := t.right
		r.items[r.n] = it
		r.n++
		t.count++
		return
	}
	t.mods++
	t.count++
	if tail {
		defer t.keepRight()
	}
	if t.root == nil {
		n := t.newNode(false)
		n.items[0], n.n = it, 1
		t.root = n
		return
	}
	for {
		full, atEnd := t.nodeInsert(&t.root, it, k, tail)
		if !full {
			return
		}
		left := t.mut(&t.root)
		root := t.newNode(true)
		root.kids[0] = left
		t.split(root, 0, atEnd)
		t.root = root
	}
}

// keepRight remembers the rightmost leaf, which an insert at the tail
// has just written (so t owns it), for the next such insert.
func (t *tree) keepRight() {
	n := t.root
	for n.kids != nil {
		n = n.kids[n.n]
	}
	t.right, t.last = n, t.mods
}

// nodeInsert inserts it below *pn, or reports that the node is full and
// whether it's key goes after all of its items.
func (t *tree) nodeInsert(pn **node, it item, k *key, tail bool) (full, atEnd bool) {
	n := t.mut(pn)
	for {
		i := n.n
		if !tail {
			i, _ = t.search(n, k)
		}
		if n.kids == nil {
			if n.n == maxItems {
				return true, i == n.n
			}
			copy(n.items[i+1:n.n+1], n.items[i:n.n])
			n.items[i] = it
			n.n++
			return false, false
		}
		full, atEnd := t.nodeInsert(&n.kids[i], it, k, tail)
		if !full {
			return false, false
		}
		if n.n == maxItems {
			return true, i == n.n
		}
		t.split(n, i, atEnd)
	}
}

// split splits n's full child i in two around a median that moves up
// into n. Nodes usually split in half; when the key being inserted goes
// after all of the child's items (inserts in key order), the left part
// keeps all but two, so that in-order loads leave full nodes behind.
func (t *tree) split(n *node, i int, atEnd bool) {
	c := t.mut(&n.kids[i])
	m := maxItems / 2
	if atEnd {
		m = maxItems - 2
	}
	r := t.newNode(c.kids != nil)
	r.n = copy(r.items[:], c.items[m+1:c.n])
	if c.kids != nil {
		copy(r.kids[:], c.kids[m+1:c.n+1])
		clear(c.kids[m+1 : c.n+1])
	}
	median := c.items[m]
	c.n = m
	copy(n.items[i+1:n.n+1], n.items[i:n.n])
	n.items[i] = median
	copy(n.kids[i+2:n.n+2], n.kids[i+1:n.n+1])
	n.kids[i+1] = r
	n.n++
}

// deleteFound removes the item the latest find found, following its
// path rather than searching again; nothing may have changed the tree
// since.
func (t *tree) deleteFound() item {
	if t.found != t.mods || !t.hit {
		panic("core: tree changed between find and deleteFound")
	}
	t.mods++
	prev := t.nodeDeleteAt(&t.root, 0)
	t.count--
	t.shrink()
	return prev
}

// nodeDeleteAt removes the item at t.path from below *pn, at depth d.
func (t *tree) nodeDeleteAt(pn **node, d int) item {
	n := t.mut(pn)
	i := int(t.path[d])
	var prev item
	switch {
	case d < t.depth:
		prev = t.nodeDeleteAt(&n.kids[i], d+1)
	case n.kids == nil:
		prev = n.items[i]
		copy(n.items[i:n.n-1], n.items[i+1:n.n])
		n.n--
		return prev
	default: // the largest item of the left subtree takes its place
		prev = n.items[i]
		n.items[i], _ = t.nodeDelete(&n.kids[i], nil, true)
	}
	if n.kids[i].n < minItems {
		t.rebalance(n, i)
	}
	return prev
}

// shrink drops an empty root.
func (t *tree) shrink() {
	if root := t.root; root.n == 0 {
		if root.kids != nil {
			t.root = root.kids[0]
		} else {
			t.root = nil
		}
	}
}

// delete removes the item with k, which must be in the tree, and returns
// it.
func (t *tree) delete(k *key) item {
	t.mods++
	prev, ok := t.nodeDelete(&t.root, k, false)
	if !ok {
		panic("core: delete of a key not in the tree")
	}
	t.count--
	t.shrink()
	return prev
}

// nodeDelete removes k from below *pn (with max, the largest item).
func (t *tree) nodeDelete(pn **node, k *key, max bool) (item, bool) {
	n := t.mut(pn)
	var i int
	var found bool
	if max {
		i, found = n.n, false
		if n.kids == nil {
			i, found = n.n-1, true
		}
	} else {
		i, found = t.search(n, k)
	}
	if n.kids == nil {
		if !found {
			return item{}, false
		}
		prev := n.items[i]
		copy(n.items[i:n.n-1], n.items[i+1:n.n])
		n.n--
		return prev, true
	}
	var prev item
	if found {
		// The item moves out; the largest item of its left subtree takes
		// its place.
		prev = n.items[i]
		n.items[i], _ = t.nodeDelete(&n.kids[i], nil, true)
	} else {
		var ok bool
		if prev, ok = t.nodeDelete(&n.kids[i], k, max); !ok {
			return item{}, false
		}
	}
	if n.kids[i].n < minItems {
		t.rebalance(n, i)
	}
	return prev, true
}

// rebalance fills n's child i, which has fewer than minItems items, by
// merging it with a sibling or, when the two hold too many for one node,
// by evening them out: moving half the difference at once leaves the
// next deletes nothing to do, where moving one item would shift a whole
// sibling at every delete of a run.
func (t *tree) rebalance(n *node, i int) {
	if n.n == 0 {
		return
	}
	if i == n.n {
		i--
	}
	l, r := t.mut(&n.kids[i]), t.mut(&n.kids[i+1])
	switch {
	case l.n+r.n < maxItems: // merge r and the separator into l
		l.items[l.n] = n.items[i]
		copy(l.items[l.n+1:], r.items[:r.n])
		if l.kids != nil {
			copy(l.kids[l.n+1:], r.kids[:r.n+1])
		}
		l.n += r.n + 1
		copy(n.items[i:n.n-1], n.items[i+1:n.n])
		copy(n.kids[i+1:n.n], n.kids[i+2:n.n+1])
		n.kids[n.n] = nil
		n.n--
	case l.n > r.n: // move l's last k items, through the separator, into r
		k := (l.n - r.n) / 2
		copy(r.items[k:r.n+k], r.items[:r.n])
		r.items[k-1] = n.items[i]
		copy(r.items[:k-1], l.items[l.n-k+1:l.n])
		n.items[i] = l.items[l.n-k]
		if r.kids != nil {
			copy(r.kids[k:r.n+1+k], r.kids[:r.n+1])
			copy(r.kids[:k], l.kids[l.n-k+1:l.n+1])
			clear(l.kids[l.n-k+1 : l.n+1])
		}
		l.n -= k
		r.n += k
	default: // move r's first k items, through the separator, into l
		k := (r.n - l.n) / 2
		l.items[l.n] = n.items[i]
		copy(l.items[l.n+1:l.n+k], r.items[:k-1])
		n.items[i] = r.items[k-1]
		copy(r.items[:r.n-k], r.items[k:r.n])
		if l.kids != nil {
			copy(l.kids[l.n+1:l.n+1+k], r.kids[:k])
			copy(r.kids[:r.n+1-k], r.kids[k:r.n+1])
			clear(r.kids[r.n+1-k : r.n+1])
		}
		l.n += k
		r.n -= k
	}
}

// iter walks a tree in key order. The tree must not change while it is
// walked, unless it was copied first (as a snapshot does).
type iter struct {
	st [maxDepth]step
	d  int
}

// step is a node on the way down, and the next of its items to visit.
type step struct {
	n *node
	i int
}

// seek positions it before the first item at or after k, or before the
// first item when k is nil.
func (it *iter) seek(t *tree, k *key) {
	it.d = 0
	for n := t.root; n != nil && it.d < maxDepth; {
		i, found := 0, false
		if k != nil {
			i, found = t.search(n, k)
		}
		it.st[it.d] = step{n, i}
		it.d++
		if found || n.kids == nil {
			return
		}
		n = n.kids[i]
	}
}

// next returns the next item, or false when there are no more.
func (it *iter) next() (item, bool) {
	for it.d > 0 {
		f := &it.st[it.d-1]
		if f.i == f.n.n {
			it.d--
			continue
		}
		x := f.n.items[f.i]
		f.i++
		if f.n.kids != nil {
			for n := f.n.kids[f.i]; it.d < maxDepth; n = n.kids[0] {
				it.st[it.d] = step{n, 0}
				it.d++
				if n.kids == nil {
					break
				}
			}
		}
		return x, true
	}
	return item{}, false
}

// scan calls fn for the actors of type typ with ids after after, in
// order, until fn returns false.
func (t *tree) scan(typ, after string, fn func(*Actor) bool) {
	k := makeKey(typ, after)
	var it iter
	it.seek(t, &k)
	var a Actor
	for {
		x, ok := it.next()
		if !ok {
			return
		}
		t.a.actor(x.ref, &a)
		if a.Type != typ {
			return
		}
		if a.ID == after {
			continue
		}
		if !fn(&a) {
			return
		}
	}
}
