package s3

import (
	"context"
	"fmt"
	"testing"

	"kratix.dev/kratix/internal/s3server"
	"kratix.dev/kratix/statestore"
)

// BenchmarkS3Writer measures, against a local versitygw: objects/s for changed content (every
// object of a 100-object directory rewritten per op), and the PUTs made when the same content is
// written again (it should be 0). The baseline in the same run is one PUT per object, serially.
func BenchmarkS3Writer(b *testing.B) {
	server := s3server.New(b)
	const objects = 100
	dirChange := func(round int) statestore.Change {
		c := statestore.Change{Dir: "dev/resources/default/p/req/pipe/5058f"}
		for i := range objects {
			c.Files = append(c.Files, statestore.File{Path: fmt.Sprintf("%s/obj-%03d.yaml", c.Dir, i), Content: fmt.Appendf(nil, "round: %d\nobject: %d\n", round, i)})
		}
		return c
	}
	buckets := 0
	newWriter := func(b *testing.B, parallelism int) (*Writer, *counter) {
		b.Helper()
		buckets++
		bucket := fmt.Sprintf("bench-%d", buckets)
		if err := server.CreateBucket(context.Background(), bucket); err != nil {
			b.Fatal(err)
		}
		count := &counter{}
		w, err := New(Options{Endpoint: server.Endpoint, Bucket: bucket, Insecure: true, AccessKeyID: server.AccessKey,
			SecretAccessKey: server.SecretKey, Parallelism: parallelism, WrapTransport: count.wrap})
		if err != nil {
			b.Fatal(err)
		}
		return w, count
	}

	for _, tc := range []struct {
		name        string
		parallelism int
	}{{"changed/parallel-16", 16}, {"changed/serial-baseline", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			w, _ := newWriter(b, tc.parallelism)
			round := 0
			for b.Loop() {
				round++
				if _, err := w.Apply(context.Background(), dirChange(round)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*objects)/b.Elapsed().Seconds(), "objects/s")
		})
	}
	b.Run("unchanged", func(b *testing.B) {
		w, count := newWriter(b, 16)
		if _, err := w.Apply(context.Background(), dirChange(0)); err != nil {
			b.Fatal(err)
		}
		count.puts.Store(0)
		for b.Loop() {
			if _, err := w.Apply(context.Background(), dirChange(0)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(count.puts.Load()), "PUTs")
		b.ReportMetric(float64(b.N*objects)/b.Elapsed().Seconds(), "objects-checked/s")
	})
}
