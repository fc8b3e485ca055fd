package image

import (
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
)

// loopbackRegistry serves a registry on loopback until the test ends and returns its host.
func loopbackRegistry(t *testing.T) string {
	t.Helper()
	server := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(server.Close)
	return strings.TrimPrefix(server.URL, "http://")
}

func push(t *testing.T, ref string, img v1.Image, opts ...remote.Option) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatal(err)
	}
}

func basicAuth(user, password string) authn.Authenticator {
	return &authn.Basic{Username: user, Password: password}
}

// blobs counts the files in the cache's blob store.
func blobs(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "oci", "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestCachePullsOnceAndSharesLayers: an image pulled from a registry on loopback lands in the
// cache; a second image on the same base adds only its own layer, config and manifest; a root
// filesystem is unpacked once per image; IfNotPresent and Never take the cached image, Never
// refuses one that is not there, and an unreachable registry's error names the image.
func TestCachePullsOnceAndSharesLayers(t *testing.T) {
	host := loopbackRegistry(t)
	base := layer(t, dir("etc"), file("etc/os-release", "test"))
	app := imageOf(t, base, layer(t, dir("app"), file("app/run", "app")))
	tool := imageOf(t, base, layer(t, dir("tool"), file("tool/run", "tool")))
	push(t, host+"/team/app:v1", app)
	push(t, host+"/team/tool:v1", tool)

	dir := t.TempDir()
	cache, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	img, err := cache.Image(ctx, host+"/team/app:v1", "", remote.WithTransport(remote.DefaultTransport))
	if err != nil {
		t.Fatal(err)
	}
	first := blobs(t, dir)
	if first != 4 { // two layers, a config, a manifest
		t.Errorf("the first image takes %d blobs, want 4", first)
	}
	if _, err := cache.Image(ctx, host+"/team/tool:v1", ""); err != nil {
		t.Fatal(err)
	}
	if added := blobs(t, dir) - first; added != 3 {
		t.Errorf("an image on the same base added %d blobs, want 3 (its layer, config and manifest)", added)
	}

	root, release, err := cache.RootFS(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if data, err := os.ReadFile(filepath.Join(root, "app", "run")); err != nil || string(data) != "app" {
		t.Errorf("app/run in the root filesystem = %q, %v", data, err)
	}
	again, releaseAgain, err := cache.RootFS(ctx, img)
	releaseAgain()
	if err != nil || again != root {
		t.Errorf("the second RootFS = %q, %v; want the first, %q", again, err, root)
	}

	cached, err := cache.Image(ctx, host+"/team/app:v1", corev1.PullNever)
	if err != nil {
		t.Errorf("Never with the image cached: %v", err)
	} else if d1, d2 := digestOf(t, cached), digestOf(t, app); d1 != d2 {
		t.Errorf("the cached image is %s, want %s", d1, d2)
	}
	if _, err := cache.Image(ctx, host+"/team/other:v1", corev1.PullNever); !errors.Is(err, ErrNeverPull) {
		t.Errorf("Never without the image: %v, want ErrNeverPull", err)
	}
	_, err = cache.Image(ctx, "127.0.0.1:1/team/app:v1", corev1.PullAlways)
	var pe *PullError
	if !errors.As(err, &pe) || pe.Image != "127.0.0.1:1/team/app:v1" {
		t.Errorf("an unreachable registry: %v, want a PullError naming the image", err)
	}
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
