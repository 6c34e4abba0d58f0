//go:build !linux

package host

import "time"

func threadCPU() time.Duration { return 0 }
