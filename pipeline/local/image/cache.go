package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
)

// refAnnotation names an image in the cache's OCI layout, as `crane pull --format oci` does.
const refAnnotation = "org.opencontainers.image.ref.name"

// Cache holds pulled images in an OCI image layout (blobs by digest, so that layers two images
// share are stored once) and their unpacked root filesystems, one per image config, which runs
// never change: each container writes to a layer of its own.
//
// It records when each image and root filesystem was last used (usage.json in its directory,
// so that the order survives a restart) and Prune removes the least recently used ones to fit a
// size budget, never a root filesystem a caller holds. One process uses a cache directory at a
// time.
type Cache struct {
	// Mirrors maps a registry host to a mirror's ("docker.io" → "127.0.0.1:5000"; "docker.io"
	// and "index.docker.io" are one key), for machines that cannot reach the registries; "*"
	// stands for every registry without a key of its own. A pull tries the mirror first, at the
	// same repository path and tag or digest (busybox:1.36 is <mirror>/library/busybox:1.36),
	// then, when the mirror fails in any way (unreachable, refused, no such image), the original
	// registry; when both fail, the PullError names the mirror and joins both answers. The image
	// is cached under its original name either way. A mirror on loopback (127.0.0.0/8, ::1,
	// localhost) is spoken to over plain http. Set Mirrors before the cache is used.
	Mirrors map[string]string

	dir    string
	layout layout.Path
	// mu serializes the layout's writes (pulls, Prune) and reads of its index, the unpacking of
	// root filesystems, and holds and usage.
	mu sync.Mutex
	// holds counts the callers holding a root filesystem, by image config digest (hex).
	holds map[string]int
	usage usage
}

// OpenCache opens the cache in dir, creating it when needed.
func OpenCache(dir string) (*Cache, error) {
	oci := filepath.Join(dir, "oci")
	p, err := layout.FromPath(oci)
	if err != nil {
		if p, err = layout.Write(oci, empty.Index); err != nil {
			return nil, fmt.Errorf("create the image cache in %s: %w", oci, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o700); err != nil {
		return nil, err
	}
	c := &Cache{dir: dir, layout: p, holds: map[string]int{}}
	c.usage = readUsage(c.usagePath())
	return c, nil
}

// ErrEvicted: RootFS could not unpack an image Image returned because a Prune removed its
// blobs meanwhile (the image was not held). Get the image again with Image, then RootFS.
var ErrEvicted = errors.New("the image was pruned from the cache before its root filesystem was unpacked")

// ErrNeverPull: the image is not in the cache and its pull policy is Never.
var ErrNeverPull = errors.New("the image is not present and its pull policy is Never")

// PullError says which image could not be pulled and what the registry answered. When a mirror
// was tried first, Mirror names it and Err joins both answers, the mirror's first.
type PullError struct {
	Image  string
	Mirror string
	Err    error
}

func (e *PullError) Error() string {
	if e.Mirror != "" {
		return fmt.Sprintf("pull image %q (mirror %s first): %v", e.Image, e.Mirror, e.Err)
	}
	return fmt.Sprintf("pull image %q: %v", e.Image, e.Err)
}
func (e *PullError) Unwrap() error { return e.Err }

// Image returns the image that ref names, from the cache or the registry as the pull policy
// says (Kubernetes' default when empty: Always for :latest or no tag, else IfNotPresent).
// opts reach the registry (authentication, transport). The cache keeps the image under ref's
// name whichever registry or mirror it came from (see Mirrors), and records its use.
//
// The image's blobs stay in the cache while a root filesystem of it is held (see RootFS); until
// then a Prune may remove them.
func (c *Cache) Image(ctx context.Context, ref string, policy corev1.PullPolicy, opts ...remote.Option) (v1.Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, &PullError{Image: ref, Err: err}
	}
	if policy == "" {
		policy = defaultPolicy(r)
	}
	if policy != corev1.PullAlways {
		img, err := c.cached(r)
		switch {
		case err == nil:
			return img, nil
		case policy == corev1.PullNever:
			return nil, &PullError{Image: ref, Err: ErrNeverPull}
		}
	}
	return c.pull(ctx, ref, r, opts)
}

// defaultPolicy is Kubernetes' default pull policy for a reference.
func defaultPolicy(r name.Reference) corev1.PullPolicy {
	if tag, ok := r.(name.Tag); ok && tag.TagStr() != "latest" {
		return corev1.PullIfNotPresent
	}
	if _, ok := r.(name.Digest); ok {
		return corev1.PullIfNotPresent
	}
	return corev1.PullAlways
}

// cached returns the cache's image of the reference and records its use.
func (c *Cache) cached(r name.Reference) (v1.Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cachedLocked(r)
}

// cachedLocked is cached with c.mu held.
func (c *Cache) cachedLocked(r name.Reference) (v1.Image, error) {
	index, err := c.layout.ImageIndex()
	if err != nil {
		return nil, err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range manifest.Manifests {
		if d.Annotations[refAnnotation] == r.Name() {
			img, err := c.layout.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			// Read the manifest now, while the cache has it: the layout reads it lazily.
			if _, err := img.Manifest(); err != nil {
				return nil, err
			}
			c.touch(c.usage.Images, r.Name())
			return img, nil
		}
	}
	return nil, fmt.Errorf("%s is not in the cache", r.Name())
}

// RootFS returns the directory holding the image's unpacked root filesystem, unpacking it the
// first time, and records its use. The caller holds it, and the image's blobs, until it calls
// release (once; later calls do nothing): Prune removes neither meanwhile. Callers must not
// write to it. On an error, release is a no-op; the error is ErrEvicted when a Prune removed
// the image's blobs between Image and RootFS.
func (c *Cache) RootFS(ctx context.Context, img v1.Image) (dir string, release func(), err error) {
	// The manifest names the config (ConfigName would read the config blob, which a Prune
	// may have removed: the unpack below tells that apart).
	manifest, err := img.Manifest()
	if err != nil {
		return "", func() {}, c.evicted(err)
	}
	key := manifest.Config.Digest.Hex
	dir = filepath.Join(c.dir, "rootfs", key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(dir); err != nil {
		if err := c.unpack(ctx, img, dir); err != nil {
			return "", func() {}, err
		}
	}
	c.holds[key]++
	c.touch(c.usage.RootFS, key)
	release = sync.OnceFunc(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.holds[key]--; c.holds[key] <= 0 {
			delete(c.holds, key)
		}
	})
	return dir, release, nil
}

// unpack writes the image's root filesystem to a temporary directory and renames it to dir, so
// that dir is whole or absent.
func (c *Cache) unpack(ctx context.Context, img v1.Image, dir string) error {
	tmp, err := os.MkdirTemp(filepath.Join(c.dir, "rootfs"), unpackPrefix)
	if err != nil {
		return err
	}
	if err := Unpack(ctx, img, tmp); err != nil {
		_ = removeAll(tmp)
		return c.evicted(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = removeAll(tmp)
		return err
	}
	return nil
}

// evicted marks an error of reading a blob the cache no longer has as ErrEvicted.
func (c *Cache) evicted(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(pe.Path, filepath.Join(c.dir, "oci", "blobs")+string(filepath.Separator)) {
		return fmt.Errorf("%w: %w", ErrEvicted, err)
	}
	return err
}
