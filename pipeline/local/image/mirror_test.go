package image

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/pipeline/local/image/imagetest"
)

// TestMirrorsFirstThenTheRegistry, with two registries on loopback, an origin and its mirror:
// an image the mirror has comes from the mirror (even when the origin has another under the
// name) and is cached under its original name; one the mirror lacks comes from the origin; one
// neither has fails with a PullError naming both answers; "*" mirrors every registry.
func TestMirrorsFirstThenTheRegistry(t *testing.T) {
	origin, mirror := imagetest.Registry(t), imagetest.Registry(t)
	fromMirror := imagetest.Build(t, nil, map[string]imagetest.File{"from": {Content: "mirror"}}, nil)
	fromOrigin := imagetest.Build(t, nil, map[string]imagetest.File{"from": {Content: "origin"}}, nil)
	imagetest.Push(t, mirror+"/team/app:v1", fromMirror)
	imagetest.Push(t, origin+"/team/app:v1", fromOrigin)
	imagetest.Push(t, origin+"/team/only-origin:v1", fromOrigin)

	for _, key := range []string{origin, "*"} {
		t.Run("key "+key, func(t *testing.T) {
			cache := openCache(t, t.TempDir())
			cache.Mirrors = map[string]string{key: mirror}
			img := pullImage(t, cache, origin+"/team/app:v1")
			if digestOf(t, img) != digestOf(t, fromMirror) {
				t.Error("the image came from the origin, not the mirror")
			}
			if _, err := cache.Image(t.Context(), origin+"/team/app:v1", corev1.PullNever); err != nil {
				t.Errorf("the mirrored image is not cached under its original name: %v", err)
			}
			if _, err := cache.Image(t.Context(), mirror+"/team/app:v1", corev1.PullNever); err == nil {
				t.Error("the mirrored image is cached under the mirror's name")
			}

			if img := pullImage(t, cache, origin+"/team/only-origin:v1"); digestOf(t, img) != digestOf(t, fromOrigin) {
				t.Error("an image the mirror lacks did not come from the origin")
			}

			_, err := cache.Image(t.Context(), origin+"/team/nowhere:v1", corev1.PullIfNotPresent)
			var pe *PullError
			var te *transport.Error
			if !errors.As(err, &pe) || pe.Mirror != mirror || !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
				t.Fatalf("an image neither has: %v, want a PullError with the mirror and a 404", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "mirror "+mirror) || !strings.Contains(msg, "registry "+origin) {
				t.Errorf("the error does not name both answers: %s", msg)
			}
		})
	}
}

// TestMirrorOfDockerHub: "docker.io" keys Docker Hub however a reference names it, so that
// busybox:1.36 (index.docker.io/library/busybox) pulls from the mirror's library/busybox,
// without reaching Docker Hub, and is cached as the user wrote it.
func TestMirrorOfDockerHub(t *testing.T) {
	mirror := imagetest.Registry(t)
	busybox := imagetest.Build(t, nil, map[string]imagetest.File{"bin/sh": {Content: "#!", Mode: 0o755}}, nil)
	imagetest.Push(t, mirror+"/library/busybox:1.36", busybox)
	for _, ref := range []string{"busybox:1.36", "docker.io/library/busybox:1.36", "index.docker.io/library/busybox:1.36"} {
		cache := openCache(t, t.TempDir())
		cache.Mirrors = map[string]string{"docker.io": mirror}
		img, err := cache.Image(t.Context(), ref, "")
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if digestOf(t, img) != digestOf(t, busybox) {
			t.Errorf("%s is not the mirror's image", ref)
		}
		if _, err := cache.Image(t.Context(), "busybox:1.36", corev1.PullNever); err != nil {
			t.Errorf("%s is not cached as busybox:1.36: %v", ref, err)
		}
	}
}

// TestMirroredReference: the mirror keeps the repository path and the tag or digest, and a
// loopback mirror (127.0.0.0/8, ::1, localhost) is spoken to over http.
func TestMirroredReference(t *testing.T) {
	for _, tc := range []struct{ ref, mirror, want, scheme string }{
		{"busybox:1.36", "127.0.0.1:5000", "127.0.0.1:5000/library/busybox:1.36", "http"},
		{"ghcr.io/org/tool@sha256:" + strings.Repeat("a", 64), "localhost", "localhost/org/tool@sha256:" + strings.Repeat("a", 64), "http"},
		{"quay.io/org/x", "[::1]:5000", "[::1]:5000/org/x:latest", "http"},
		{"quay.io/org/x:v2", "mirror.example.com/quay", "mirror.example.com/quay/org/x:v2", "https"},
	} {
		r := mustRef(t, tc.ref)
		got, err := mirrored(r, tc.mirror)
		if err != nil || got.String() != tc.want || got.Context().Scheme() != tc.scheme {
			t.Errorf("mirrored(%s, %s) = %v (%s), %v; want %s (%s)", tc.ref, tc.mirror, got, got.Context().Scheme(), err, tc.want, tc.scheme)
		}
	}
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
