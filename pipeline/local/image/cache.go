package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
)

// refAnnotation names an image in the cache's OCI layout, as `crane pull --format oci` does.
const refAnnotation = "org.opencontainers.image.ref.name"

// Cache holds pulled images in an OCI image layout (blobs by digest, so that layers two images
// share are stored once) and their unpacked root filesystems, one per image config, which runs
// never change: each container writes to a layer of its own.
type Cache struct {
	dir    string
	layout layout.Path
	// mu serializes writes of the layout's index and the unpacking of root filesystems.
	mu sync.Mutex
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
	return &Cache{dir: dir, layout: p}, nil
}

// ErrNeverPull: the image is not in the cache and its pull policy is Never.
var ErrNeverPull = errors.New("the image is not present and its pull policy is Never")

// PullError says which image could not be pulled and what the registry answered.
type PullError struct {
	Image string
	Err   error
}

func (e *PullError) Error() string { return fmt.Sprintf("pull image %q: %v", e.Image, e.Err) }
func (e *PullError) Unwrap() error { return e.Err }

// Image returns the image that ref names, from the cache or the registry as the pull policy
// says (Kubernetes' default when empty: Always for :latest or no tag, else IfNotPresent).
// opts reach the registry (authentication, transport).
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
	img, err := remote.Image(r, append(opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, &PullError{Image: ref, Err: err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.layout.ReplaceImage(img, match.Annotation(refAnnotation, r.Name()), layout.WithAnnotations(map[string]string{refAnnotation: r.Name()})); err != nil {
		return nil, fmt.Errorf("store image %q in the cache: %w", ref, err)
	}
	return c.cached(r)
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

// cached returns the cache's image of the reference.
func (c *Cache) cached(r name.Reference) (v1.Image, error) {
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
			return c.layout.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("%s is not in the cache", r.Name())
}

// RootFS returns the directory holding the image's unpacked root filesystem, unpacking it the
// first time. Callers must not write to it.
func (c *Cache) RootFS(ctx context.Context, img v1.Image) (string, error) {
	digest, err := img.ConfigName()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.dir, "rootfs", digest.Hex)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(c.dir, "rootfs"), ".unpack-")
	if err != nil {
		return "", err
	}
	if err := Unpack(ctx, img, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	return dir, nil
}
