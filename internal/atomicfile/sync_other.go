//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package atomicfile

import "os"

// SyncDir fsyncs a directory where the platform allows it (Windows does
// not; there the rename itself is durable enough).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	d.Sync() // best effort
	return d.Close()
}
