package git

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/statestore"
)

// TestAWritersMemoryDoesNotGrowWithTheRepository: someone with push access adds a 128 MiB file
// of zeros (a few hundred KiB on the server) beside the store's path. The writer's clone reads
// each object's size before inflating it (clone_budget.go) and refuses the branch with
// ErrInvalidContent naming the limit, holding none of it.
func TestAWritersMemoryDoesNotGrowWithTheRepository(t *testing.T) {
	const size = 128 << 20
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	repo, err := server.CreateRepo("state.git", "main")
	if err != nil {
		t.Fatal(err)
	}
	// Someone with push access adds a file of zeros, outside the engine's directory.
	work := t.TempDir()
	big, err := os.Create(filepath.Join(work, "zeros.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(size); err != nil {
		t.Fatal(err)
	}
	_ = big.Close()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "zeros.bin"},
		{"-c", "user.name=someone", "-c", "user.email=someone@example.com", "commit", "-qm", "a large file"},
		{"push", "-q", repo, "main"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	packed := packBytes(t, repo)

	w, err := New(Options{URL: server.URL("state.git"), Branch: "main", Root: "platform", Insecure: true,
		Auth: Auth{Username: server.Username(), Password: server.Password()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = w.Validate(testContext(t))
	runtime.GC()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, statestore.ErrInvalidContent) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("Validate of a branch with a %d MiB file: %v, want ErrInvalidContent naming the limit", size>>20, err)
	}
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("repository objects on disk: %d KiB; the writer allocated %d MiB and holds %d MiB after validating", packed>>10, allocated>>20, held>>20)
	if allocated > 32<<20 {
		t.Errorf("the writer allocated %d MiB to refuse a branch whose objects take %d KiB on the server", allocated>>20, packed>>10)
	}
}

// packBytes is the size of the repository's objects on disk.
func packBytes(t *testing.T, repo string) int64 {
	t.Helper()
	var n int64
	_ = filepath.Walk(filepath.Join(repo, "objects"), func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// TestCloneBudget: a clone refuses a branch with a file, or files in all, past its budget, and
// takes one within it.
func TestCloneBudget(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	for _, c := range []statestore.Change{change("dev/a", "a.yaml", strings.Repeat("a", 3000)), change("dev/b", "b.yaml", strings.Repeat("b", 3000))} {
		if _, err := f.writer.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		budget  Budget
		refused string
	}{
		{"within the budget", Budget{ObjectBytes: 4000, TotalBytes: 1 << 20}, ""},
		{"a file past it", Budget{ObjectBytes: 2000}, "more than 2000"},
		{"files in all past it", Budget{ObjectBytes: 4000, TotalBytes: 5000}, "take more than 5000 bytes"},
		{"a pack past it", Budget{PackBytes: 100}, "larger than 100 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.newWriter(t, Options{CloneBudget: tc.budget})
			err := w.Validate(ctx)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (!errors.Is(err, statestore.ErrInvalidContent) || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("Validate = %v, want ErrInvalidContent saying %q", err, tc.refused)
			}
		})
	}
}

// TestCloneBudgetCountsDeltas: a file of 1 MiB changed in 24 commits packs into little more than
// one copy of it, the other versions as deltas. A history clone holds every version whole, so
// the budget counts what each delta becomes (its declared target size): a branch whose versions
// take 24 MiB is refused under a budget of 8 MiB, however small its pack.
func TestCloneBudgetCountsDeltas(t *testing.T) {
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	repo, err := server.CreateRepo("state.git", "main")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = gitserver.GitEnv(t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("init", "-q", "-b", "main")
	var lines strings.Builder
	for i := 0; lines.Len() < 1<<20; i++ {
		fmt.Fprintf(&lines, "line %d of a large file that changes a little in each commit\n", i)
	}
	for i := 0; i < 24; i++ {
		if err := os.WriteFile(filepath.Join(work, "big.txt"), []byte(fmt.Sprintf("version %d\n%s", i, lines.String())), 0o600); err != nil {
			t.Fatal(err)
		}
		run("add", "big.txt")
		run("commit", "-qm", fmt.Sprintf("version %d", i))
	}
	run("push", "-q", repo, "main")
	if _, err := server.Git(testContext(t), "state.git", "repack", "-adq"); err != nil {
		t.Fatal(err)
	}
	t.Logf("repository objects on disk: %d KiB", packBytes(t, repo)>>10)

	opts := Options{URL: server.URL("state.git"), Branch: "main", Insecure: true,
		Auth:        Auth{Username: server.Username(), Password: server.Password()},
		CloneBudget: Budget{ObjectBytes: 2 << 20, TotalBytes: 8 << 20}}
	_, err = OpenHistory(testContext(t), opts)
	if !errors.Is(err, statestore.ErrInvalidContent) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("OpenHistory of 24 versions of a 1 MiB file under a budget of 8 MiB: %v, want ErrInvalidContent naming the limit", err)
	}
	opts.CloneBudget.TotalBytes = 64 << 20
	if _, err := OpenHistory(testContext(t), opts); err != nil {
		t.Errorf("OpenHistory within the budget: %v", err)
	}
}
