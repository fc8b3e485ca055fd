//go:build unix

package image

import (
	"io/fs"
	"syscall"
)

// fileID identifies a file with more than one hard link by device and inode.
func fileID(info fs.FileInfo) ([2]uint64, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || uint64(st.Nlink) < 2 {
		return [2]uint64{}, false
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, true
}
