// Command wasm is the Actor Store WebAssembly module: a wasip1 reactor whose
// //go:wasmexport functions decode ABI arguments, call the core and encode
// results. wasm/ABI.md documents every export byte for byte.
//
// Build it with ./build.sh wasm (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"unsafe"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
)

var (
	eng       *core.Engine
	in        []byte // the input buffer hosts write requests into
	out       []byte // the result of the latest call
	gcStopped bool   // the collector is paused for a restore
)

func init() {
	// The garbage collector works harder, rather than growing memory, as
	// the heap nears what wasm32 can address.
	setMemoryLimit(3 << 30)
	eng, _ = core.NewEngine(core.Options{})
	reserveMemory()
}

// A restore allocates what it keeps: collecting while the heap grows from
// nothing to its size would mark it again and again for no garbage (in
// the guest that made restoring 300k actors take 2 s instead of 0.6 s).
// The collector is paused while a restore is in progress; the memory limit
// still bounds the heap. done calls it after every call.
func pauseGCForRestore() {
	if r := eng.Restoring(); r != gcStopped {
		gcStopped = r
		if r {
			setGCPercent(-1)
		} else {
			setGCPercent(100)
		}
	}
}

func main() {}

// setMemoryLimit is runtime/debug.SetMemoryLimit without importing
// runtime/debug, which would link fmt, os and reflect into the module (a
// third more code for the host to validate at every Open).
//
//go:linkname setMemoryLimit runtime/debug.setMemoryLimit
func setMemoryLimit(limit int64) int64

// setGCPercent is runtime/debug.SetGCPercent, linked for the same reason.
//
//go:linkname setGCPercent runtime/debug.setGCPercent
func setGCPercent(percent int32) int32

// The Go runtime grows linear memory (runtime.sbrk) by exactly what each
// allocation of its heap, GC metadata or spans needs: ten thousand small
// inserts grow it about 40 times. Every memory.grow costs a host dearly — a
// JS engine runs a full garbage collection of the page's heap each time
// (about 10 ms with a 50 MB heap) — so the module grows memory itself, in
// steps of an eighth of its size (at least 8 MiB), before the runtime runs
// short, and tells the runtime so through its own break variables.
// Memory grown but not touched costs no physical memory.
//
// These are runtime internals (runtime/mem_sbrk.go), reached with
// -checklinkname=0 (build.sh); a Go release that renames them fails the
// build, never silently.
//
//go:linkname bloc runtime.bloc
var bloc uintptr

//go:linkname blocMax runtime.blocMax
var blocMax uintptr

//go:linkname growMemory runtime.growMemory
func growMemory(pages int32) int32

//go:linkname resetMemoryDataView runtime.resetMemoryDataView
func resetMemoryDataView()

const (
	wasmPage       = 64 << 10
	minReserve     = 4 << 20 // grow when less than this is left
	minGrowth      = 8 << 20
	maxMemoryBytes = 4<<30 - wasmPage
)

// reserveMemory keeps at least minReserve bytes grown but unused past the
// runtime's break.
func reserveMemory() {
	if blocMax-bloc >= minReserve || blocMax >= maxMemoryBytes-minGrowth {
		return
	}
	grow := max(uintptr(minGrowth), blocMax/8) &^ (wasmPage - 1)
	if uint64(blocMax)+uint64(grow) > maxMemoryBytes {
		return
	}
	// The runtime's blocMax is the end of memory it has grown; the memory
	// itself may be larger only by what it grew for us before.
	if growMemory(int32(grow/wasmPage)) < 0 {
		return // out of memory: the runtime grows on its own, as before
	}
	resetMemoryDataView()
	blocMax += grow
}

func ptr(b []byte) uint32 {
	if cap(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// done keeps b as the latest result and returns it packed for the host.
// Results are built in a local slice and stored once: every store to a
// global pointer costs a write barrier check.
func done(b []byte) uint64 {
	out = b
	if eng.Restoring() != gcStopped {
		pauseGCForRestore()
	}
	if blocMax-bloc < minReserve {
		reserveMemory()
	}
	return abi.Pack(ptr(b), uint32(len(b)))
}

func fail(err *core.Error) uint64 { return done(abi.AppendError(out[:0], err)) }

// guard turns a panic into an Internal error result: no input may trap.
func guard(res *uint64) {
	if r := recover(); r != nil {
		msg := "panic"
		switch v := r.(type) {
		case error:
			msg = v.Error()
		case string:
			msg = v
		}
		*res = fail(core.NewError(core.Internal, "internal error: "+msg))
	}
}

// ok starts a successful result.
func ok() []byte { return append(out[:0], byte(core.OK)) }

//go:wasmexport abi_version
func abiVersion() uint32 { return abi.Version }

// input_buffer makes the input buffer hold at least size bytes and returns
// its address, or 0 when size is more than abi.MaxRequestBytes.
//
//go:wasmexport input_buffer
func inputBuffer(size uint32) (res uint32) {
	defer func() {
		if recover() != nil {
			res = 0
		}
	}()
	if size > abi.MaxRequestBytes {
		return 0
	}
	if size > uint32(len(in)) || len(in) == 0 {
		in = make([]byte, max(size, abi.MinInputBuffer))
	}
	return ptr(in)
}
