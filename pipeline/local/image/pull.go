package image

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pull fetches the image r names into the cache, under r's name. With a mirror for r's
// registry (Mirrors), it tries the mirror first, at the same repository path and tag or digest,
// then the original registry when the mirror fails in any way (unreachable, refused, no such
// image, a broken blob): a machine whose mirror lacks an image still gets it from a registry it
// can reach, and an air-gapped one gets a PullError naming both answers.
func (c *Cache) pull(ctx context.Context, ref string, r name.Reference, opts []remote.Option) (v1.Image, error) {
	opts = append(opts[:len(opts):len(opts)], remote.WithContext(ctx))
	mirror := c.mirrorOf(r)
	if mirror == "" {
		img, err := c.fetch(r, r, opts)
		if err != nil {
			return nil, &PullError{Image: ref, Err: err}
		}
		return img, nil
	}
	from, err := mirrored(r, mirror)
	if err == nil {
		var img v1.Image
		if img, err = c.fetch(r, from, opts); err == nil {
			return img, nil
		}
	}
	mirrorErr := fmt.Errorf("mirror %s: %w", mirror, err)
	if ctx.Err() != nil {
		return nil, &PullError{Image: ref, Mirror: mirror, Err: mirrorErr}
	}
	img, err := c.fetch(r, r, opts)
	if err != nil {
		return nil, &PullError{Image: ref, Mirror: mirror, Err: errors.Join(mirrorErr, fmt.Errorf("registry %s: %w", r.Context().RegistryStr(), err))}
	}
	return img, nil
}

// fetch pulls the image from `from`, stores it in the layout under r's name, in place of the
// image that name had, and returns the stored image.
func (c *Cache) fetch(r, from name.Reference, opts []remote.Option) (v1.Image, error) {
	img, err := remote.Image(from, opts...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.layout.ReplaceImage(img, match.Annotation(refAnnotation, r.Name()), layout.WithAnnotations(map[string]string{refAnnotation: r.Name()})); err != nil {
		return nil, err
	}
	return c.cachedLocked(r)
}
