package gitserver_test

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
)

// A client clones an empty repository, pushes a commit with the right password, and a second
// clone sees it.
func TestHTTPPushThenClone(t *testing.T) {
	s := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	if _, err := s.CreateRepo("org/state.git", "main"); err != nil {
		t.Fatal(err)
	}
	git := newCLI(t)
	remote := withCredentials(t, s.URL("org/state.git"), s.Username(), s.Password())

	first := git.path("first")
	git.must("", "clone", "--quiet", remote, first)
	if branch := strings.TrimSpace(git.must(first, "symbolic-ref", "--short", "HEAD")); branch != "main" {
		t.Fatalf("the empty clone is on branch %q, want main (the repository's default branch)", branch)
	}
	git.commitFile(first, "dest-1/resources/req.yaml", "kind: Thing\n", "add req")
	git.must(first, "push", "--quiet", "origin", "main")

	if got := s.Stats().ReceivePacks; got != 1 {
		t.Errorf("receive-pack POSTs = %d, want 1", got)
	}
	log, err := s.Git(t.Context(), "org/state.git", "log", "--format=%s", "main")
	if err != nil {
		t.Fatal(err)
	}
	if log != "add req\n" {
		t.Errorf("server log = %q, want the pushed commit", log)
	}

	second := git.path("second")
	git.must("", "clone", "--quiet", remote, second)
	if got := readFile(t, filepath.Join(second, "dest-1/resources/req.yaml")); got != "kind: Thing\n" {
		t.Errorf("second clone has %q", got)
	}
	want := git.must(first, "rev-parse", "HEAD")
	if got := git.must(second, "rev-parse", "HEAD"); got != want {
		t.Errorf("second clone is at %s, want %s", got, want)
	}
}

// The git CLI sends pushes larger than http.postBuffer (1 MiB) with a chunked body, which
// net/http/cgi refuses on its own; the server spools it.
func TestHTTPPushLargerThanPostBuffer(t *testing.T) {
	s := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	if _, err := s.CreateRepo("big.git", "main"); err != nil {
		t.Fatal(err)
	}
	git := newCLI(t)
	work := git.path("work")
	git.must("", "clone", "--quiet", withCredentials(t, s.URL("big.git"), s.Username(), s.Password()), work)
	random := make([]byte, 3<<20) // random, so that compression cannot bring it under 1 MiB
	_, _ = rand.Read(random)      // crypto/rand.Read never fails
	git.commitFile(work, "blob.txt", hex.EncodeToString(random), "big")
	git.must(work, "push", "--quiet", "origin", "main")

	if _, err := s.Git(t.Context(), "big.git", "fsck", "--full", "--strict"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Git(t.Context(), "big.git", "rev-parse", "main")
	if err != nil {
		t.Fatal(err)
	}
	if want := git.must(work, "rev-parse", "HEAD"); got != want {
		t.Errorf("server main = %s, want %s", got, want)
	}
}
