// Package atomicfile writes files whole: a reader sees the old content or the new one, never a
// part, and a crash leaves no half-written file behind.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path with mode perm, through a temporary file in the same directory that
// is renamed over path. The directory must exist.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // gone after the rename; left over only on a failure
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
