package image

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pull fetches the image r names into the cache, under r's name.
func (c *Cache) pull(ctx context.Context, ref string, r name.Reference, opts []remote.Option) (v1.Image, error) {
	img, err := c.fetch(r, r, append(opts[:len(opts):len(opts)], remote.WithContext(ctx)))
	if err != nil {
		return nil, &PullError{Image: ref, Err: err}
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
