package git

import (
	"errors"
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
