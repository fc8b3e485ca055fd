// Package image turns OCI images into root filesystems for the local job runner: it unpacks an
// image's layers into a directory the way a container runtime would, and safely, for a layer is
// whatever the image's author put in it.
package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// OCI whiteouts: a file ".wh.<name>" in a layer removes <name> of the layers below; a file
// ".wh..wh..opq" in a directory removes everything the layers below put in it.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// Unpack writes the image's layers, lowest first, into dir, which must exist and should be
// empty. Every operation goes through an os.Root on dir, so that no entry can write outside it:
// not by "..", an absolute name, a symbolic link among its parents, nor a hard link to a file
// outside. Device files, FIFOs and sockets are skipped (a container gets its /dev from the
// runner); ownership is not kept (the sandbox maps the container's users to the invoking one).
func Unpack(ctx context.Context, img v1.Image, dir string) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("read the image's layers: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	// Directories stay writable by their owner while layers are applied (an unprivileged user
	// could not fill a directory of mode 0555 otherwise); their own modes are set at the end.
	modes := map[string]fs.FileMode{}
	for i, layer := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		digest, err := layer.Digest()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		rc, err := layer.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d (%s): %w", i+1, digest, err)
		}
		err = unpackLayer(root, tar.NewReader(rc), modes)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d (%s): %w", i+1, digest, err)
		}
	}
	dirs := slices.Collect(maps.Keys(modes))
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") }) // deepest first
	for _, d := range dirs {
		if err := root.Chmod(d, modes[d]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%q: %w", d, err)
		}
	}
	return nil
}

// unpackLayer applies one layer's entries to the root.
func unpackLayer(root *os.Root, tr *tar.Reader, modes map[string]fs.FileMode) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the layer: %w", err)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue // the layer's root directory itself
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == opaqueWhiteout:
			if err := emptyDir(root, dir); err != nil {
				return fmt.Errorf("opaque whiteout %q: %w", h.Name, err)
			}
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			target := path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
			if err := root.RemoveAll(target); err != nil {
				return fmt.Errorf("whiteout %q: %w", h.Name, err)
			}
			continue
		}
		if err := writeEntry(root, tr, h, name, dir, modes); err != nil {
			return fmt.Errorf("%q: %w", h.Name, err)
		}
	}
}

// entryName cleans a tar entry's name into a path relative to the root; "" is the root. Names
// that climb out of the root are refused.
func entryName(raw string) (string, error) {
	name := path.Clean("/" + strings.TrimPrefix(raw, "./"))
	if strings.Contains(raw, "\x00") {
		return "", fmt.Errorf("entry %q: a NUL in its name", raw)
	}
	for _, seg := range strings.Split(raw, "/") {
		if seg == ".." {
			return "", fmt.Errorf("entry %q climbs out of the image's root", raw)
		}
	}
	return strings.TrimPrefix(name, "/"), nil
}

// writeEntry creates one entry, replacing what the layers below had at its name (a directory
// stays a directory when the entry is one).
func writeEntry(root *os.Root, tr *tar.Reader, h *tar.Header, name, dir string, modes map[string]fs.FileMode) error {
	if dir != "" {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	mode := fs.FileMode(h.Mode).Perm()
	if h.Typeflag == tar.TypeDir {
		modes[name] = mode
		if info, err := root.Lstat(name); err == nil && info.IsDir() {
			return root.Chmod(name, mode|0o700)
		}
		if err := root.RemoveAll(name); err != nil {
			return err
		}
		return root.Mkdir(name, mode|0o700)
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil // devices, FIFOs and the like: the runner provides /dev
	}
	if err := root.RemoveAll(name); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeSymlink:
		// A link may point anywhere: os.Root never follows it out of the root.
		return root.Symlink(h.Linkname, name)
	case tar.TypeLink:
		target, err := entryName(h.Linkname)
		if err != nil || target == "" {
			return fmt.Errorf("hard link to %q: not a file of the image", h.Linkname)
		}
		return root.Link(target, name)
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, tr); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The umask may have narrowed the mode.
	return root.Chmod(name, mode)
}

// emptyDir removes what a directory holds, keeping the directory.
func emptyDir(root *os.Root, dir string) error {
	name := dir
	if name == "" {
		name = "."
	}
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := root.RemoveAll(path.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
