package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/pipeline/local/image/imagetest"
)

// data is a file of n bytes that gzip does not shrink to nothing.
func data(seed string, n int) imagetest.File {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s %d\n", seed, i*7919%104729)
	}
	return imagetest.File{Content: b.String()[:n]}
}

func openCache(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pullImage(t *testing.T, c *Cache, ref string) v1.Image {
	t.Helper()
	img, err := c.Image(t.Context(), ref, corev1.PullIfNotPresent)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func rootFS(t *testing.T, c *Cache, img v1.Image) (string, func()) {
	t.Helper()
	dir, release, err := c.RootFS(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	return dir, release
}

func size(t *testing.T, c *Cache) int64 {
	t.Helper()
	n, err := c.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// blobPath is where the cache in dir keeps a blob.
func blobPath(dir string, h v1.Hash) string {
	return filepath.Join(dir, "oci", "blobs", h.Algorithm, h.Hex)
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// TestPruneEvictsLeastRecentlyUsed: over budget, Prune removes the least recently used root
// filesystem first, then images, never a held root filesystem nor its image, and keeps the
// layers a kept image shares; with nothing held, Prune(0) empties the cache, and an evicted
// image pulls and unpacks again.
func TestPruneEvictsLeastRecentlyUsed(t *testing.T) {
	host := imagetest.Registry(t)
	base := imagetest.Build(t, nil, map[string]imagetest.File{"base/data": data("base", 64<<10)}, nil)
	app := imagetest.Build(t, base, map[string]imagetest.File{"app/run": {Content: "app"}}, nil)
	tool := imagetest.Build(t, base, map[string]imagetest.File{"tool/run": data("tool", 16<<10)}, nil)
	old := imagetest.Build(t, nil, map[string]imagetest.File{"old/data": data("old", 32<<10)}, nil)
	for name, img := range map[string]v1.Image{"app": app, "tool": tool, "old": old} {
		imagetest.Push(t, host+"/team/"+name+":v1", img)
	}

	dir := t.TempDir()
	cache := openCache(t, dir)
	toolImg := pullImage(t, cache, host+"/team/tool:v1")
	appImg := pullImage(t, cache, host+"/team/app:v1")
	oldImg := pullImage(t, cache, host+"/team/old:v1")
	toolRoot, release := rootFS(t, cache, toolImg)
	release()
	release() // a second release does nothing
	oldRoot, release := rootFS(t, cache, oldImg)
	release()
	appRoot, releaseApp := rootFS(t, cache, appImg)

	before := size(t, cache)
	freed, err := cache.Prune(before - 1)
	if err != nil {
		t.Fatal(err)
	}
	if exists(toolRoot) || !exists(oldRoot) || !exists(appRoot) {
		t.Errorf("one byte over budget: tool's root filesystem left %v, old's %v, app's %v; want only the least recently used (tool's) gone",
			exists(toolRoot), exists(oldRoot), exists(appRoot))
	}
	if after := size(t, cache); freed <= 0 || after > before-1 || after != before-freed {
		t.Errorf("Prune freed %d bytes, the cache went from %d to %d", freed, before, after)
	}

	if _, err := cache.Prune(0); err != nil {
		t.Fatal(err)
	}
	if exists(oldRoot) || !exists(appRoot) {
		t.Errorf("Prune(0) while app's root filesystem is held: old's left %v, app's %v", exists(oldRoot), exists(appRoot))
	}
	if got, err := os.ReadFile(filepath.Join(appRoot, "app", "run")); err != nil || string(got) != "app" {
		t.Errorf("the held root filesystem's app/run = %q, %v", got, err)
	}
	for _, ref := range []string{"tool", "old"} {
		if _, err := cache.Image(t.Context(), host+"/team/"+ref+":v1", corev1.PullNever); !errors.Is(err, ErrNeverPull) {
			t.Errorf("%s after Prune(0): %v, want it gone", ref, err)
		}
	}
	if _, err := cache.Image(t.Context(), host+"/team/app:v1", corev1.PullNever); err != nil {
		t.Errorf("the held root filesystem's image is gone: %v", err)
	}
	for _, l := range layerDigests(t, appImg) {
		if !exists(blobPath(dir, l)) {
			t.Errorf("app's layer %s is gone", l)
		}
	}
	toolLayers, oldLayers := layerDigests(t, tool), layerDigests(t, old)
	if exists(blobPath(dir, toolLayers[1])) || exists(blobPath(dir, oldLayers[0])) {
		t.Error("the layers of the pruned images are still there")
	}

	releaseApp()
	if _, err := cache.Prune(0); err != nil {
		t.Fatal(err)
	}
	if n := blobs(t, dir); n != 0 || exists(appRoot) {
		t.Errorf("Prune(0) with nothing held left %d blobs and app's root filesystem %v", n, exists(appRoot))
	}
	if n := size(t, cache); n > 4<<10 {
		t.Errorf("the empty cache takes %d bytes", n)
	}

	again := pullImage(t, cache, host+"/team/app:v1")
	root, release := rootFS(t, cache, again)
	defer release()
	if got, err := os.ReadFile(filepath.Join(root, "app", "run")); err != nil || string(got) != "app" {
		t.Errorf("app pulled again after its eviction: app/run = %q, %v", got, err)
	}
}

// TestPruneOrderSurvivesRestart: the order of last use is on disk, so that a cache opened again
// evicts the image used longest ago, not the one pulled first.
func TestPruneOrderSurvivesRestart(t *testing.T) {
	host := imagetest.Registry(t)
	imagetest.Push(t, host+"/team/a:v1", imagetest.Build(t, nil, map[string]imagetest.File{"a": data("a", 8<<10)}, nil))
	imagetest.Push(t, host+"/team/b:v1", imagetest.Build(t, nil, map[string]imagetest.File{"b": data("b", 8<<10)}, nil))
	dir := t.TempDir()
	first := openCache(t, dir)
	pullImage(t, first, host+"/team/a:v1")
	pullImage(t, first, host+"/team/b:v1")
	pullImage(t, first, host+"/team/a:v1") // from the cache: a is now the more recently used

	reopened := openCache(t, dir)
	if _, err := reopened.Prune(size(t, reopened) - 1); err != nil {
		t.Fatal(err)
	}
	if _, err := reopened.Image(t.Context(), host+"/team/b:v1", corev1.PullNever); !errors.Is(err, ErrNeverPull) {
		t.Errorf("b, used longest ago: %v, want it evicted", err)
	}
	if _, err := reopened.Image(t.Context(), host+"/team/a:v1", corev1.PullNever); err != nil {
		t.Errorf("a, used last: %v", err)
	}
}

// TestPruneWhileRunning: goroutines take images and root filesystems and read them while
// another prunes the cache to nothing over and over; a held root filesystem stays whole, and
// the only error a run sees is ErrEvicted, when a Prune came between its Image and RootFS
// (it then asks again). Run with -race.
func TestPruneWhileRunning(t *testing.T) {
	host := imagetest.Registry(t)
	base := imagetest.Build(t, nil, map[string]imagetest.File{"base/data": data("base", 32<<10)}, nil)
	var refs []string
	for i := range 3 {
		ref := fmt.Sprintf("%s/team/img%d:v1", host, i)
		imagetest.Push(t, ref, imagetest.Build(t, base, map[string]imagetest.File{"id": {Content: fmt.Sprint(i)}}, nil))
		refs = append(refs, ref)
	}
	cache := openCache(t, t.TempDir())

	done := make(chan struct{})
	pruned := make(chan int)
	go func() {
		n := 0
		defer func() { pruned <- n }()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := cache.Prune(0); err != nil {
				t.Errorf("Prune: %v", err)
				return
			}
			n++
		}
	}()

	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for j := range 15 {
				i := (g + j) % len(refs)
				var root string
				var release func()
				for attempt := 0; ; attempt++ {
					img, err := cache.Image(t.Context(), refs[i], corev1.PullIfNotPresent)
					if err != nil {
						t.Errorf("Image: %v", err)
						return
					}
					root, release, err = cache.RootFS(t.Context(), img)
					if errors.Is(err, ErrEvicted) && attempt < 500 {
						continue
					}
					if err != nil {
						t.Errorf("RootFS: %v", err)
						return
					}
					break
				}
				for _, f := range []string{"id", "base/data"} {
					got, err := os.ReadFile(filepath.Join(root, f))
					if err != nil || (f == "id" && string(got) != fmt.Sprint(i)) {
						t.Errorf("%s of a held root filesystem: %q, %v", f, got, err)
					}
				}
				release()
			}
		})
	}
	wg.Wait()
	close(done)
	t.Logf("%d prunes ran meanwhile", <-pruned)

	if _, err := cache.Prune(0); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(cache.dir, "rootfs"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("after the runs released everything, Prune(0) left %d root filesystems", len(entries))
	}
}
