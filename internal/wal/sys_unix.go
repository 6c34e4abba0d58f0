//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package wal

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f without waiting. The kernel
// releases it when f is closed or the process dies. flock locks belong to
// the open file description, so a second open in this process conflicts
// too.
func lockFile(f *os.File, dir string) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return lockedError(dir)
		}
		return err
	}
}

func unlockFile(f *os.File, dir string) {}
