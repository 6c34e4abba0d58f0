// Package atomicfile writes files that are either wholly there, with all
// their bytes on disk, or not changed at all: through a temporary file
// beside the target, fsynced, renamed into place, and the directory
// fsynced so that the rename survives a crash.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write puts in the file it is
// given. tmp is the temporary file's path, in path's directory; when empty
// a fresh name (".<name>.*.tmp") is picked, so that concurrent writers of
// one path do not collide. On any failure the temporary file is removed
// and path is left as it was; write's error is returned as it is.
func Write(path, tmp string, write func(f *os.File) error) error {
	var f *os.File
	var err error
	if tmp == "" {
		f, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	} else {
		f, err = os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	}
	if err != nil {
		return err
	}
	tmp = f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}
