//go:build !unix

package cluster

import (
	"os"
	"path/filepath"
)

// lockDir opens dir's lock file; without flock the lock is advisory only.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
}
