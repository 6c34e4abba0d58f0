package core

import (
	"math/bits"
	"unsafe"
)

// The arena holds every actor as one record in large pointer-free chunks,
// so that the garbage collector has a few hundred objects to mark where
// it would otherwise have millions, and never scans the actors' bytes. A
// record is addressed by a ref; the tree holds refs, never pointers.
//
// A record is, in the host's byte order:
//
//	u64 version | u32 len(value) | u16 len(id) | u8 len(type)-1 | type | id | value
//
// in a slot of its size class (8-byte steps up to 1 KiB, then 8 classes
// per doubling up to maxSlot): freed slots go on their class's free list,
// a stack of refs (freeing touches no record, which may have left the
// cache long ago), and are the first to be reused.
// Records larger than maxSlot get an allocation of their own, dropped when
// freed. Records are never changed once written: an update writes a new
// one, so a snapshot's tree and the events of the replay buffer can keep
// pointing at the old one.
//
// A record replaced or deleted is not freed at once: the replay buffer's
// events and an open snapshot may still show it. It waits in later, with
// the sequence number of the event that replaced it, until that event has
// left the replay buffer (events that show a record are never newer than
// the one that replaced it) and no snapshot is open.
type arena struct {
	chunks [][]byte
	top    int                  // bytes used of the last chunk
	slots  [numClasses][]uint32 // free slots by class
	big    [][]byte
	bigs   []uint32 // free indexes of big
	later  []retired
	head   int // first entry of later still waiting
	hold   int // open snapshots: nothing is freed while there are any
	iso    uint64
}

type retired struct {
	seq   uint64
	ref   uint32
	class uint32 // of its slot, found while the record was at hand
}

const (
	recHeader = 15
	// maxSlot is the largest record kept in a chunk.
	maxSlot    = 16 << 10
	numClasses = 128 + 4*8 // 8-byte steps to 1 KiB, 8 per doubling to 16 KiB
	// Chunks grow from minChunk to maxChunk bytes, doubling.
	minChunk = 64 << 10
	maxChunk = 1 << 20
	// A ref is (chunk+1)<<chunkShift | offset/8, or bigRef | index into
	// big: never 0, which is "none". 16,383 chunks of maxChunk bytes are
	// 16 GiB, beyond the store's limits.
	bigRef     = 1 << 31
	chunkShift = 17 // bits of offset/8 in a chunk of maxChunk bytes
	maxChunks  = bigRef>>chunkShift - 1
)

type recHead struct {
	version uint64
	vlen    uint32
	ilen    uint16
	tlen    uint8 // len(type)-1
}

// classOf returns the size class of a record of n bytes, n <= maxSlot,
// and the class's slot size.
func classOf(n int) (c, size int) {
	if n <= 1024 {
		c = (n+7)>>3 - 1
		return c, (c + 1) << 3
	}
	e := bits.Len(uint(n-1)) - 1 // 2^e < n <= 2^(e+1)
	step := 1 << (e - 3)
	k := (n - 1<<e + step - 1) / step // 1..8
	return 128 + (e-10)*8 + k - 1, 1<<e + k*step
}

// bytes returns the record at ref and, for a chunk, the rest of the chunk.
func (a *arena) bytes(ref uint32) []byte {
	if ref&bigRef != 0 {
		return a.big[ref&^bigRef]
	}
	return a.chunks[ref>>chunkShift-1][(ref&(1<<chunkShift-1))<<3:]
}

func head(r []byte) *recHead { return (*recHead)(unsafe.Pointer(unsafe.SliceData(r))) }

func recSize(h *recHead) int {
	return recHeader + int(h.tlen) + 1 + int(h.ilen) + int(h.vlen)
}

// view returns a string sharing b.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// actor sets x to the record at ref, its strings and value sharing the
// arena: valid until the record is freed. (An Actor returned by value
// would cost a copy that is dear in the wasm guest.)
func (a *arena) actor(ref uint32, x *Actor) {
	r := a.bytes(ref)
	h := head(r)
	t := recHeader + int(h.tlen) + 1
	i := t + int(h.ilen)
	v := i + int(h.vlen)
	x.Type, x.ID, x.Value, x.Version = view(r[recHeader:t]), view(r[t:i]), r[i:v:v], h.version
}

// version returns the version of the record at ref.
func (a *arena) version(ref uint32) uint64 { return head(a.bytes(ref)).version }

// key returns the type and id of the record at ref.
func (a *arena) key(ref uint32) (typ, id string) {
	r := a.bytes(ref)
	h := head(r)
	t := recHeader + int(h.tlen) + 1
	return view(r[recHeader:t]), view(r[t : t+int(h.ilen)])
}

// put writes a record and returns its ref. typ must be 1..256 bytes, id
// at most 65535, value less than 4 GiB: the store's limits are tighter.
func (a *arena) put(typ, id string, value []byte, version uint64) uint32 {
	n := recHeader + len(typ) + len(id) + len(value)
	ref := a.alloc(n)
	r := a.bytes(ref)
	h := head(r)
	h.version, h.vlen, h.ilen, h.tlen = version, uint32(len(value)), uint16(len(id)), uint8(len(typ)-1)
	p := r[recHeader:n]
	copy(p[copy(p, typ):], id)
	copy(p[len(typ)+len(id):], value)
	return ref
}

func (a *arena) alloc(n int) uint32 {
	if n > maxSlot {
		b := make([]byte, n)
		if k := len(a.bigs); k > 0 {
			i := a.bigs[k-1]
			a.bigs = a.bigs[:k-1]
			a.big[i] = b
			return bigRef | i
		}
		a.big = append(a.big, b)
		return bigRef | uint32(len(a.big)-1)
	}
	c, size := classOf(n)
	if k := len(a.slots[c]); k > 0 {
		ref := a.slots[c][k-1]
		a.slots[c] = a.slots[c][:k-1]
		return ref
	}
	last := len(a.chunks) - 1
	if last < 0 || a.top+size > len(a.chunks[last]) {
		a.grow()
		last++
	}
	ref := a.ref(last, a.top)
	a.top += size
	return ref
}

func (a *arena) ref(chunk, off int) uint32 { return uint32(chunk+1)<<chunkShift | uint32(off>>3) }

// grow starts a new chunk, first putting the rest of the current one on
// the free lists, in the largest slots that fit.
func (a *arena) grow() {
	size := minChunk
	if k := len(a.chunks); k > 0 {
		c := a.chunks[k-1]
		for rest := len(c) - a.top; rest >= 8; rest = len(c) - a.top {
			cl, sz := classOf(min(rest, maxSlot))
			if sz > rest { // the class below is smaller than rest
				cl--
				sz = classSize(cl)
			}
			a.push(cl, a.ref(k-1, a.top))
			a.top += sz
		}
		size = min(2*len(c), maxChunk)
	}
	if len(a.chunks) == maxChunks {
		panic("core: arena of 16 GiB full") // beyond MaxDataLimit
	}
	a.chunks = append(a.chunks, make([]byte, size))
	a.top = 0
}

func classSize(c int) int {
	if c < 128 {
		return (c + 1) << 3
	}
	e, k := 10+(c-128)/8, (c-128)%8+1
	return 1<<e + k<<(e-3)
}

func (a *arena) push(c int, ref uint32) { a.slots[c] = append(a.slots[c], ref) }

// free makes the record at ref's slot reusable at once.
func (a *arena) free(ref uint32) { a.freeSlot(ref, a.classAt(ref)) }

// classAt returns the size class of the record at ref's slot (0 for a
// record of its own).
func (a *arena) classAt(ref uint32) uint32 {
	if ref&bigRef != 0 {
		return 0
	}
	c, _ := classOf(recSize(head(a.bytes(ref))))
	return uint32(c)
}

func (a *arena) freeSlot(ref, class uint32) {
	if ref&bigRef != 0 {
		a.big[ref&^bigRef] = nil
		a.bigs = append(a.bigs, ref&^bigRef)
		return
	}
	a.push(int(class), ref)
}

// retire frees the record at ref once the event seq has left the replay
// buffer and no snapshot is open (release).
func (a *arena) retire(ref uint32, seq uint64) {
	a.later = append(a.later, retired{seq, ref, a.classAt(ref)})
}

// release frees the retired records whose events are older than oldest,
// the oldest sequence the replay buffer retains.
func (a *arena) release(oldest uint64) {
	if a.hold > 0 {
		return
	}
	i := a.head
	for ; i < len(a.later) && a.later[i].seq < oldest; i++ {
		a.freeSlot(a.later[i].ref, a.later[i].class)
	}
	a.head = i
	if i == len(a.later) {
		a.later, a.head = a.later[:0], 0
	} else if i > 1024 && i > len(a.later)/2 {
		a.later = a.later[:copy(a.later, a.later[i:])]
		a.head = 0
	}
}

// nextIso returns a new copy-on-write owner id for a tree of this arena.
func (a *arena) nextIso() uint64 {
	a.iso++
	return a.iso
}
