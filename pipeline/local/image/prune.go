package image

import (
	"cmp"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kratix.dev/kratix/internal/atomicfile"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// unpackPrefix begins the name of a root filesystem being unpacked, under rootfs/.
const unpackPrefix = ".unpack-"

// usage is when each image (by reference name) and root filesystem (by image config digest hex)
// was last used, in Unix nanoseconds, strictly increasing so that the order is total. It is
// kept in usage.json in the cache's directory.
type usage struct {
	Images map[string]int64 `json:"images"`
	RootFS map[string]int64 `json:"rootfs"`
	last   int64
}

func (c *Cache) usagePath() string { return filepath.Join(c.dir, "usage.json") }

// readUsage reads the usage file; a missing or unreadable one is an empty record (all entries
// then count as least recently used).
func readUsage(path string) usage {
	var u usage
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &u)
	}
	if u.Images == nil {
		u.Images = map[string]int64{}
	}
	if u.RootFS == nil {
		u.RootFS = map[string]int64{}
	}
	for _, m := range []map[string]int64{u.Images, u.RootFS} {
		for _, t := range m {
			u.last = max(u.last, t)
		}
	}
	return u
}

// touch records a use of the key now, with c.mu held.
func (c *Cache) touch(m map[string]int64, key string) {
	stamp := max(time.Now().UnixNano(), c.usage.last+1)
	c.usage.last = stamp
	m[key] = stamp
	c.saveUsage()
}

// saveUsage writes the usage file whole (a temporary file renamed over it), with c.mu held. The
// record is advisory: a failed write leaves the previous one and costs only the eviction order.
func (c *Cache) saveUsage() {
	data, err := json.Marshal(c.usage)
	if err != nil {
		return
	}
	_ = atomicfile.Write(c.usagePath(), data, 0o600) // advisory, as above
}

// Size is the cache's bytes on disk: the sizes of its files (the OCI layout's blobs and index,
// the unpacked root filesystems, the usage record), a file with several hard links once.
func (c *Cache) Size() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return du(c.dir)
}

// cachedImage is an entry of the layout's index.
type cachedImage struct {
	name   string           // the reference name it is cached under
	desc   v1.Descriptor    // the index's entry
	config string           // its config digest's hex: the key of its root filesystem
	blobs  map[v1.Hash]bool // its manifest, config and layers (an index's children's too)
}

// Prune removes from the cache, while its Size exceeds budget, and in this order:
//   - what an interrupted run left: partly unpacked root filesystems and blobs no image refers to;
//   - unpacked root filesystems, least recently used first (they can be unpacked again without
//     a registry);
//   - images, least recently used first: the index entry, and the blobs no remaining image
//     refers to (layers shared with a kept image stay).
//
// A root filesystem that RootFS handed out and that is not released yet is never removed, nor
// the images of its config. It returns by how much the cache's Size went down; the cache may
// stay above budget when what is held exceeds it.
func (c *Cache) Prune(budget int64) (freed int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before, err := du(c.dir)
	if err != nil || before <= budget {
		return 0, err
	}
	err = c.prune(before, budget)
	c.saveUsage()
	after, duErr := du(c.dir)
	if err == nil {
		err = duErr
	}
	return max(before-after, 0), err
}

// prune is Prune with c.mu held and the cache's size, total, measured.
func (c *Cache) prune(total, budget int64) error {
	removed := func(size int64) { total -= size }

	type rootfs struct {
		key  string
		size int64
	}
	var roots []rootfs
	rootDir := filepath.Join(c.dir, "rootfs")
	entries, err := os.ReadDir(rootDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(rootDir, e.Name())
		size, err := du(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), unpackPrefix) { // c.mu is held: no unpack is under way
			if err := removeAll(p); err != nil {
				return err
			}
			removed(size)
			continue
		}
		roots = append(roots, rootfs{key: e.Name(), size: size})
	}

	images, err := c.images()
	if err != nil {
		return err
	}
	refs := map[v1.Hash]int{}
	for _, img := range images {
		for b := range img.blobs {
			refs[b]++
		}
	}
	sizes, err := c.blobSizes()
	if err != nil {
		return err
	}
	removeBlob := func(h v1.Hash) error {
		if err := c.layout.RemoveBlob(h); err != nil {
			return err
		}
		removed(sizes[h])
		delete(sizes, h)
		return nil
	}
	for h := range sizes {
		if refs[h] == 0 {
			if err := removeBlob(h); err != nil {
				return err
			}
		}
	}

	slices.SortStableFunc(roots, func(a, b rootfs) int { return cmp.Compare(c.usage.RootFS[a.key], c.usage.RootFS[b.key]) })
	for _, r := range roots {
		if total <= budget {
			return nil
		}
		if c.holds[r.key] > 0 {
			continue
		}
		if err := removeAll(filepath.Join(rootDir, r.key)); err != nil {
			return err
		}
		delete(c.usage.RootFS, r.key)
		removed(r.size)
	}

	slices.SortStableFunc(images, func(a, b cachedImage) int { return cmp.Compare(c.usage.Images[a.name], c.usage.Images[b.name]) })
	for _, img := range images {
		if total <= budget {
			return nil
		}
		if c.holds[img.config] > 0 {
			continue
		}
		entry := img.desc
		if err := c.layout.RemoveDescriptors(func(d v1.Descriptor) bool {
			return d.Digest == entry.Digest && d.Annotations[refAnnotation] == entry.Annotations[refAnnotation]
		}); err != nil {
			return err
		}
		delete(c.usage.Images, img.name)
		for b := range img.blobs {
			if refs[b]--; refs[b] == 0 {
				if err := removeBlob(b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// images lists the layout's index entries with the blobs each refers to, with c.mu held.
func (c *Cache) images() ([]cachedImage, error) {
	index, err := c.layout.ImageIndex()
	if err != nil {
		return nil, err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	out := make([]cachedImage, 0, len(manifest.Manifests))
	for _, d := range manifest.Manifests {
		img := cachedImage{name: d.Annotations[refAnnotation], desc: d, blobs: map[v1.Hash]bool{}}
		if img.config, err = blobsOf(index, d, img.blobs); err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// blobsOf adds the blobs the descriptor, an entry of parent, refers to (itself, an image's
// config and layers, an index's manifests and theirs) and returns an image's config digest hex.
func blobsOf(parent v1.ImageIndex, d v1.Descriptor, into map[v1.Hash]bool) (string, error) {
	into[d.Digest] = true
	switch {
	case d.MediaType.IsIndex():
		ii, err := parent.ImageIndex(d.Digest)
		if err != nil {
			return "", err
		}
		m, err := ii.IndexManifest()
		if err != nil {
			return "", err
		}
		for _, child := range m.Manifests {
			if _, err := blobsOf(ii, child, into); err != nil {
				return "", err
			}
		}
	case d.MediaType.IsImage():
		img, err := parent.Image(d.Digest)
		if err != nil {
			return "", err
		}
		m, err := img.Manifest()
		if err != nil {
			return "", err
		}
		into[m.Config.Digest] = true
		for _, l := range m.Layers {
			into[l.Digest] = true
		}
		return m.Config.Digest.Hex, nil
	}
	return "", nil
}

// blobSizes lists the layout's blobs with their sizes.
func (c *Cache) blobSizes() (map[v1.Hash]int64, error) {
	sizes := map[v1.Hash]int64{}
	dir := filepath.Join(c.dir, "oci", "blobs")
	algs, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return sizes, nil
		}
		return nil, err
	}
	for _, alg := range algs {
		if !alg.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, alg.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			sizes[v1.Hash{Algorithm: alg.Name(), Hex: f.Name()}] = info.Size()
		}
	}
	return sizes, nil
}

// du is the size of the regular files under root, each hard-linked file once. Files and
// directories that vanish or cannot be read are not counted.
func du(root string) (int64, error) {
	seen := map[[2]uint64]bool{}
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		if id, ok := fileID(info); ok {
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		total += info.Size()
		return nil
	})
	return total, err
}

// removeAll removes the tree at p even when an image made some of its directories read-only.
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
