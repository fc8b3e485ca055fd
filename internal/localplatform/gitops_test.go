package localplatform

import (
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
)

// TestGitOpsServesTheStateRepositoryAloneForReading: the HTTPS server of --gitops gives the
// password's holder (Flux) state.git to fetch, and nothing else: no push to it, and no other
// repository of the data directory, such as one a pipeline left in its job's directory.
func TestGitOpsServesTheStateRepositoryAloneForReading(t *testing.T) {
	dirs := layout{root: t.TempDir()}
	if err := ensureRepository(dirs.repository()); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	git := func(dir string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = gitserver.GitEnv(home)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// A commit on main, and a bare repository that a pipeline wrote into its job's directory.
	work := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"commit", "-q", "--allow-empty", "-m", "first"},
		{"push", "-q", dirs.repository(), "main"},
		{"init", "-q", "--bare", filepath.Join(dirs.root, "jobs", "a-job", "output", "other.git")},
	} {
		if out, err := git(work, args...); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	const password = "the-password"
	server, err := serveStateRepository(dirs, password, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	withAuth := func(repo string) string {
		u, err := url.Parse(server.URL(repo))
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(gitOpsUser, password)
		return u.String()
	}
	ca := "http.sslCAInfo=" + server.CAFile()

	if out, err := git(work, "-c", ca, "ls-remote", withAuth("state.git")); err != nil || !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("ls-remote state.git with the password: %v\n%s", err, out)
	}
	if out, err := git(work, "-c", ca, "ls-remote", strings.Replace(withAuth("state.git"), password, "wrong", 1)); err == nil {
		t.Errorf("ls-remote state.git with a wrong password succeeded:\n%s", out)
	}
	if out, err := git(work, "-c", ca, "ls-remote", withAuth("jobs/a-job/output/other.git")); err == nil {
		t.Errorf("another repository of the data directory is served:\n%s", out)
	}
	if out, err := git(work, "commit", "-q", "--allow-empty", "-m", "second"); err != nil {
		t.Fatal(err, out)
	}
	if out, err := git(work, "-c", ca, "push", "-q", withAuth("state.git"), "main"); err == nil {
		t.Errorf("a push to state.git with Flux's password succeeded:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dirs.root, "state.git", "HEAD")); err != nil {
		t.Fatal(err)
	}
}
