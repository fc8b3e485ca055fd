package gitserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/internal/gitserver"
)

// BenchmarkHTTPReceivePack measures what a high commit rate costs the server, under the default
// configuration and the alternatives DefaultServerConfig was chosen against. The remote holds
// 10,000 files laid out as a state store; each push changes 64 of them in different directories
// (about 450 new objects, so receive-pack keeps one pack per push). The client is the git CLI, the
// same in every variant, so differences between variants are the server's.
//
// The client's commits dominate the run time: all five variants at 150 pushes take about 15
// minutes on 2 vCPUs. Pick one with e.g. -bench 'HTTPReceivePack/default$'.
//
//	go test ./internal/gitserver -run '^$' -bench HTTPReceivePack -benchtime 150x
func BenchmarkHTTPReceivePack(b *testing.B) {
	for _, variant := range []struct {
		name   string
		config []string
	}{
		{name: "default"}, // gc --auto by the server, in the background
		{name: "gc-in-receive-pack", config: []string{"receive.autogc=true"}}, // git's own way, in the foreground
		{name: "no-auto-gc", config: []string{"gc.auto=0"}},
		{name: "fsync-packs", config: []string{"core.fsync=pack,pack-metadata,commit-graph,reference"}},
		{name: "loose-only", config: []string{"receive.unpackLimit=1000000"}},
	} {
		b.Run(variant.name, func(b *testing.B) {
			s := gitserver.NewHTTP(b, gitserver.HTTPOptions{GitConfig: variant.config, Log: os.Stderr})
			if _, err := s.CreateRepo("state.git", "main"); err != nil {
				b.Fatal(err)
			}
			git := newCLI(b)
			work := git.path("work")
			git.must("", "clone", "--quiet", withCredentials(b, s.URL("state.git"), s.Username(), s.Password()), work)
			const dests, perDest = 100, 100
			for d := range dests {
				for r := range perDest {
					writeStateFile(b, work, d, r, "v0")
				}
			}
			git.must(work, "add", "--all")
			git.must(work, "commit", "--quiet", "-m", "10k files")
			git.must(work, "push", "--quiet", "origin", "main")

			durations := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				paths := make([]string, 0, 64)
				for j := range 64 {
					paths = append(paths, writeStateFile(b, work, (i*64+j)%dests, (i*64+j)/dests%perDest, "v"+strconv.Itoa(i+1)))
				}
				git.must(work, append([]string{"add", "--"}, paths...)...)
				git.must(work, "commit", "--quiet", "-m", "write "+strconv.Itoa(i))
				b.StartTimer()
				start := time.Now()
				git.must(work, "push", "--quiet", "origin", "main")
				durations = append(durations, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(durations)
			b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "median-ms/push")
			b.ReportMetric(float64(durations[len(durations)-1].Microseconds())/1000, "max-ms/push")
			counts, err := s.Git(b.Context(), "state.git", "count-objects", "-v")
			if err != nil {
				b.Fatal(err)
			}
			for _, line := range strings.Split(counts, "\n") {
				if name, value, ok := strings.Cut(line, ": "); ok && (name == "count" || name == "packs") {
					n, _ := strconv.ParseFloat(value, 64) // count-objects prints integers
					b.ReportMetric(n, map[string]string{"count": "loose-objects", "packs": "packs"}[name])
				}
			}
		})
	}
}

// writeStateFile writes a document where a state store keeps one and returns its path relative to
// the work tree.
func writeStateFile(b *testing.B, work string, dest, req int, content string) string {
	rel := fmt.Sprintf("dest-%d/resources/default/promise/req-%d/pipeline/5058f/file.yaml", dest, req)
	// The path in the content keeps blobs, and so trees, distinct, as real documents are.
	full := filepath.Join(work, rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(rel+"\nversion: "+content+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	return rel
}
