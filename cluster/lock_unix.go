//go:build unix

package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/actorstore/actorstore/host"
)

// lockDir takes an exclusive lock on dir for as long as the returned
// file is open: a second node, in this process or another, is refused
// with host.ErrLocked rather than waiting on raft-wal's files.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by another node or process", host.ErrLocked, dir)
		}
		return nil, err
	}
	return f, nil
}
