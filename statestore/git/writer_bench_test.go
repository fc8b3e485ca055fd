package git

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/statestore"
)

// benchRepo is a repository over HTTP on loopback, pre-filled like a state store:
// dest-N/resources/default/promise/req-M/pipeline/5058f/file.yaml, 5,000 requests per Destination.
type benchRepo struct {
	server *gitserver.HTTPServer
	repo   string
	files  int
}

const requestsPerDestination = 5000

func prefilledRepo(b *testing.B, files int) *benchRepo {
	b.Helper()
	server := gitserver.NewHTTP(b, gitserver.HTTPOptions{})
	r := &benchRepo{server: server, repo: "state.git", files: files}
	if _, err := server.CreateRepo(r.repo, "main"); err != nil {
		b.Fatal(err)
	}
	// git fast-import writes the whole tree in one commit in well under a second.
	cmd := exec.Command("git", "--git-dir", filepath.Join(server.Root(), r.repo), "fast-import", "--quiet")
	cmd.Env = gitserver.GitEnv(b.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(stdin)
	fmt.Fprintf(w, "commit refs/heads/main\ncommitter prefill <prefill@example.com> 0 +0000\ndata 7\nprefill\n")
	for i := range files {
		content := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: req-%d\ndata:\n  round: \"0\"\n", i)
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", r.path(i), len(content), content)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := stdin.Close(); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	return r
}

func (r *benchRepo) dir(i int) string {
	return fmt.Sprintf("dest-%d/resources/default/promise/req-%d/pipeline/5058f", i/requestsPerDestination, i%requestsPerDestination)
}

func (r *benchRepo) path(i int) string { return r.dir(i) + "/file.yaml" }

// writer returns a warmed-up writer; the caller closes it, so that the clones of the runs that
// find b.N do not stay in memory together and inflate the peak RSS.
func (r *benchRepo) writer(b *testing.B) *Writer {
	b.Helper()
	w, err := New(Options{URL: r.server.URL(r.repo), Auth: Auth{Username: r.server.Username(), Password: r.server.Password()}, Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	// Warm up: the first call clones.
	if err := w.Validate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return w
}

// placementWrite is what a WorkPlacement reconcile asks for: replace one request's directory.
func (r *benchRepo) placementWrite(i int, round int64) statestore.Change {
	content := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: req-%d\ndata:\n  round: \"%d\"\n", i, round)
	return statestore.Change{
		Dir:   r.dir(i),
		Files: []statestore.File{{Path: r.path(i), Content: []byte(content)}},
		Origin: statestore.Origin{Action: statestore.ActionUpdate, Destination: fmt.Sprintf("dest-%d", i/requestsPerDestination),
			Promise: "promise", ResourceNamespace: "default", Resource: fmt.Sprintf("req-%d", i), Pipeline: "pipeline",
			WorkPlacement: fmt.Sprintf("promise-req-%d.dest-%d", i, i/requestsPerDestination)},
	}
}

// BenchmarkGitWriter measures, on repositories of 10,000 and 40,000 files over HTTP on loopback:
// the latency of isolated writes (median), sustained writes/s with 1, 8 and 64 concurrent writers
// with the writes a push carries and the clones (fetches) per 1,000 writes,
// and the git CLI baseline (fetch + reset + add + commit + push per write, upstream Kratix's way)
// in the same run. Peak RSS is the test process's (the server's git processes are separate).
func BenchmarkGitWriter(b *testing.B) {
	for _, files := range []int{10_000, 40_000} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			repo := prefilledRepo(b, files)
			var round atomic.Int64

			b.Run("isolated", func(b *testing.B) {
				w := repo.writer(b)
				defer w.Close()
				before := repo.server.Stats()
				latencies := make([]time.Duration, 0, b.N)
				for i := 0; b.Loop(); i++ {
					start := time.Now()
					if _, err := w.Apply(context.Background(), repo.placementWrite(i*7919%files, round.Add(1))); err != nil {
						b.Fatal(err)
					}
					latencies = append(latencies, time.Since(start))
				}
				b.ReportMetric(float64(repo.server.Stats().UploadPacks-before.UploadPacks)*1000/float64(b.N), "fetches/1k-writes")
				reportLatency(b, latencies)
			})
			for _, writers := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
					w := repo.writer(b)
					defer w.Close()
					var next atomic.Int64
					b.SetParallelism((writers + 1) / 2) // GOMAXPROCS is 2 here: 2*p goroutines
					before := repo.server.Stats()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := int(next.Add(1)*7919) % files
							if _, err := w.Apply(context.Background(), repo.placementWrite(i, round.Add(1))); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
					after := repo.server.Stats()
					b.ReportMetric(float64(b.N)/float64(max(1, after.ReceivePacks-before.ReceivePacks)), "writes/push")
					// Fetches are the writer's clones: after its first, only when someone else
					// moved the branch or a push failed (compaction fetches nothing).
					b.ReportMetric(float64(after.UploadPacks-before.UploadPacks)*1000/float64(b.N), "fetches/1k-writes")
					reportRSS(b)
				})
			}
			// What the writer does when its in-memory clone passes CompactBytes: keep what
			// the head needs (compacted), against the fresh clone it used to fetch.
			b.Run("compact", func(b *testing.B) {
				w := repo.writer(b)
				defer w.Close()
				snap := w.snap // the writer is idle: Validate cloned and returned
				for b.Loop() {
					if _, err := compacted(snap, 1<<40); err != nil {
						b.Fatal(err)
					}
				}
				reportRSS(b)
			})
			b.Run("clone", func(b *testing.B) {
				w := repo.writer(b)
				defer w.Close()
				for b.Loop() {
					if _, err := w.remote.clone(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				reportRSS(b)
			})
			b.Run("git-cli-baseline", func(b *testing.B) {
				clone := cliClone(b, repo)
				latencies := make([]time.Duration, 0, b.N)
				for i := 0; b.Loop(); i++ {
					start := time.Now()
					cliWrite(b, clone, repo.placementWrite(i*7919%files, round.Add(1)))
					latencies = append(latencies, time.Since(start))
				}
				reportLatency(b, latencies)
			})
		})
	}
}

func reportLatency(b *testing.B, latencies []time.Duration) {
	if len(latencies) == 0 {
		return
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "ms/write-p50")
	b.ReportMetric(float64(latencies[len(latencies)*9/10].Microseconds())/1000, "ms/write-p90")
	reportRSS(b)
}

// reportRSS reports the process's peak resident set so far (VmHWM).
func reportRSS(b *testing.B) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err == nil {
				b.ReportMetric(float64(kb)/1024, "MiB-peak-rss")
			}
		}
	}
}

// cliClone makes a working clone for the git CLI baseline.
func cliClone(b *testing.B, repo *benchRepo) string {
	b.Helper()
	u, err := url.Parse(repo.server.URL(repo.repo))
	if err != nil {
		b.Fatal(err)
	}
	u.User = url.UserPassword(repo.server.Username(), repo.server.Password())
	dir := filepath.Join(b.TempDir(), "clone")
	runGit(b, "", "clone", "--quiet", "--branch", "main", u.String(), dir)
	runGit(b, dir, "config", "user.name", "kratix")
	runGit(b, dir, "config", "user.email", "kratix@example.com")
	return dir
}

// cliWrite is one write the way upstream Kratix makes it: fetch, reset, write, add, commit, push.
func cliWrite(b *testing.B, dir string, c statestore.Change) {
	runGit(b, dir, "fetch", "--quiet", "origin", "main")
	runGit(b, dir, "reset", "--quiet", "--hard", "origin/main")
	if err := os.RemoveAll(filepath.Join(dir, c.Dir)); err != nil {
		b.Fatal(err)
	}
	for _, f := range c.Files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	runGit(b, dir, "add", "--all", c.Dir)
	runGit(b, dir, "commit", "--quiet", "-m", "update "+c.Dir)
	runGit(b, dir, "push", "--quiet", "origin", "HEAD:main")
}

func runGit(b *testing.B, dir string, args ...string) {
	b.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(gitserver.GitEnv(b.TempDir()), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
