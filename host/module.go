package host

import "bytes"

// ModuleBytes returns a copy of the embedded WebAssembly module
// (actorstore.wasm), the same file the JS package loads. Each call makes a
// new copy of its few megabytes: changing it changes nothing that Open
// runs.
func ModuleBytes() []byte { return bytes.Clone(moduleBytes) }
