//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package wal

import (
	"os"
	"path/filepath"
	"sync"
)

// Where flock is not available the lock is best effort: it keeps a second
// Dir in this process out, not another process.
var (
	lockedMu   sync.Mutex
	lockedDirs = map[string]bool{}
)

func lockKey(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Clean(dir)
}

func lockFile(f *os.File, dir string) error {
	lockedMu.Lock()
	defer lockedMu.Unlock()
	k := lockKey(dir)
	if lockedDirs[k] {
		return lockedError(dir)
	}
	lockedDirs[k] = true
	return nil
}

func unlockFile(f *os.File, dir string) {
	lockedMu.Lock()
	delete(lockedDirs, lockKey(dir))
	lockedMu.Unlock()
}
