package git

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// encodeTree encodes a directory as a Git tree object. It does what object.Tree.Encode does
// without its per-entry formatting and its sort's string concatenation: the directories that every
// write rewrites (a Destination's resources/<namespace>/<promise>, thousands of entries wide) make
// this the writer's hottest code.
func encodeTree(d *dir) *plumbing.MemoryObject {
	type named struct {
		name string
		e    *entry
	}
	entries := make([]named, 0, len(d.entries))
	size := 0
	for name, e := range d.entries {
		entries = append(entries, named{name, e})
		size += len(name) + 28
	}
	slices.SortFunc(entries, func(a, b named) int {
		return compareTreeNames(a.name, a.e.mode == filemode.Dir, b.name, b.e.mode == filemode.Dir)
	})
	buf := make([]byte, 0, size)
	for _, n := range entries {
		buf = strconv.AppendUint(buf, uint64(n.e.mode), 8)
		buf = append(buf, ' ')
		buf = append(buf, n.name...)
		buf = append(buf, 0)
		buf = append(buf, n.e.hash[:]...)
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.TreeObject)
	obj.SetSize(int64(len(buf)))
	_, _ = obj.Write(buf) // a MemoryObject's Write appends to a slice and cannot fail
	return obj
}

// compareTreeNames orders tree entries as Git does: byte-wise, with a directory's name compared
// as if it ended in "/".
func compareTreeNames(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := bytes.Compare([]byte(a[:n]), []byte(b[:n])); c != 0 {
		return c
	}
	// One is a prefix of the other (or they are equal): compare the next byte, "/" for a
	// directory's end and nothing for a file's.
	next := func(s string, isDir bool) int {
		if len(s) > n {
			return int(s[n])
		}
		if isDir {
			return '/'
		}
		return -1
	}
	return next(a, aDir) - next(b, bDir)
}

// packCompressors are the zlib writers of writePack, kept between packs: each holds about a
// megabyte of deflate state, and a new one for every pack was an eighth of what the manager
// allocated in an update round of 1,000 requests (BenchmarkPromiseUpdate, alloc_space).
var packCompressors = sync.Pool{New: func() any {
	zw, err := zlib.NewWriterLevel(io.Discard, zlib.BestSpeed)
	if err != nil {
		panic(err) // BestSpeed is a valid level
	}
	return zw
}}

// writePack writes a version 2 packfile of the objects, undeltified and compressed for speed:
// pushes are small and frequent, and the server's time dominates them, not the bytes on a loopback
// or LAN link. go-git's encoder compresses at the default level, which costs several times more.
func writePack(w io.Writer, store storer.EncodedObjectStorer, hashes []plumbing.Hash) error {
	sum := sha1.New()
	out := io.MultiWriter(w, sum)
	var header [12]byte
	copy(header[:4], "PACK")
	binary.BigEndian.PutUint32(header[4:8], 2)
	binary.BigEndian.PutUint32(header[8:12], uint32(len(hashes)))
	if _, err := out.Write(header[:]); err != nil {
		return err
	}
	zw := packCompressors.Get().(*zlib.Writer)
	defer func() {
		zw.Reset(io.Discard) // not to keep the pack's buffer alive in the pool
		packCompressors.Put(zw)
	}()
	for _, h := range hashes {
		obj, err := store.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return fmt.Errorf("read object %s for the pack: %w", h, err)
		}
		if _, err := out.Write(objectHeader(obj.Type(), obj.Size())); err != nil {
			return err
		}
		r, err := obj.Reader()
		if err != nil {
			return err
		}
		zw.Reset(out)
		_, err = io.Copy(zw, r)
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			return fmt.Errorf("compress object %s: %w", h, err)
		}
	}
	_, err := w.Write(sum.Sum(nil))
	return err
}

// objectHeader is a pack entry's header: the type in bits 4-6 of the first byte, the size in
// little-endian groups of 4 then 7 bits, with the top bit set while more bytes follow.
func objectHeader(t plumbing.ObjectType, size int64) []byte {
	b := []byte{byte(t)<<4 | byte(size&0x0f)}
	size >>= 4
	for size > 0 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
		size >>= 7
	}
	return b
}
