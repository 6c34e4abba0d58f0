//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package atomicfile

import "os"

// SyncDir fsyncs a directory, making entries created, renamed or removed
// in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
