package image

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/pipeline/local/image/imagetest"
)

// BenchmarkPull times the first pull of a 50 MiB image (five layers of 10 MiB of random
// content) from a registry on loopback into an empty cache, and the unpacking of its root
// filesystem. It reports the cache's bytes on disk afterwards (disk-B; blobs-B and rootfs-B of
// them), and the bytes a second image, the same five layers and one of 1 MiB, added to the
// cache when pulled (second-added-B: its own layer, config and manifest, not the base again).
//
//	go test -run '^$' -bench BenchmarkPull -benchtime 1x ./pipeline/local/image/
func BenchmarkPull(b *testing.B) {
	const layerSize, layers = 10 << 20, 5
	host := imagetest.Registry(b)
	base, err := random.Image(layerSize, layers)
	if err != nil {
		b.Fatal(err)
	}
	top, err := random.Layer(1<<20, types.DockerLayer)
	if err != nil {
		b.Fatal(err)
	}
	second, err := mutate.AppendLayers(base, top)
	if err != nil {
		b.Fatal(err)
	}
	imagetest.Push(b, host+"/bench/base:v1", base)
	imagetest.Push(b, host+"/bench/second:v1", second)

	ctx := b.Context()
	var disk, blobBytes, rootfsBytes, added int64
	b.SetBytes(layerSize * layers)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "bench-cache-")
		if err != nil {
			b.Fatal(err)
		}
		cache, err := OpenCache(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		img, err := cache.Image(ctx, host+"/bench/base:v1", corev1.PullIfNotPresent)
		if err != nil {
			b.Fatal(err)
		}
		_, release, err := cache.RootFS(ctx, img)
		if err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		release()
		if disk, err = cache.Size(); err != nil {
			b.Fatal(err)
		}
		if blobBytes, err = du(filepath.Join(dir, "oci", "blobs")); err != nil {
			b.Fatal(err)
		}
		if rootfsBytes, err = du(filepath.Join(dir, "rootfs")); err != nil {
			b.Fatal(err)
		}
		if _, err := cache.Image(ctx, host+"/bench/second:v1", corev1.PullIfNotPresent); err != nil {
			b.Fatal(err)
		}
		after, err := cache.Size()
		if err != nil {
			b.Fatal(err)
		}
		added = after - disk
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(disk), "disk-B")
	b.ReportMetric(float64(blobBytes), "blobs-B")
	b.ReportMetric(float64(rootfsBytes), "rootfs-B")
	b.ReportMetric(float64(added), "second-added-B")
	if added > 2<<20 {
		b.Errorf("the second image added %d bytes, more than its own 1 MiB layer", added)
	}
}
