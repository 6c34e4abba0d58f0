//go:build !unix

package host

import "github.com/tetratelabs/wazero/experimental"

// memoryAllocator is nil: wazero's default, a Go slice.
var memoryAllocator experimental.MemoryAllocator
