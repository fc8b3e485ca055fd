package gitserver_test

import (
	"strconv"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
)

// packCount is the number of packs in a served repository.
func packCount(t *testing.T, s *gitserver.HTTPServer, repo string) int {
	t.Helper()
	out, err := s.Git(t.Context(), repo, "count-objects", "-v")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if value, ok := strings.CutPrefix(line, "packs: "); ok {
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no pack count in:\n%s", out)
	return 0
}

// After pushes the server runs `git gc --auto` itself, and Stop waits for it: with every push
// kept as a pack and a limit of two packs, the third push leads to one consolidated pack.
func TestHTTPGCAfterPushes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config []string
		packs  int
	}{
		{name: "auto gc", config: []string{"receive.unpackLimit=1", "gc.autoPackLimit=2"}, packs: 1},
		{name: "gc.auto=0", config: []string{"receive.unpackLimit=1", "gc.autoPackLimit=2", "gc.auto=0"}, packs: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := gitserver.NewHTTP(t, gitserver.HTTPOptions{GitConfig: tc.config})
			if _, err := s.CreateRepo("state.git", "main"); err != nil {
				t.Fatal(err)
			}
			git := newCLI(t)
			work := git.path("work")
			git.must("", "clone", "--quiet", withCredentials(t, s.URL("state.git"), s.Username(), s.Password()), work)
			for i := range 3 {
				git.commitFile(work, "f"+strconv.Itoa(i), strconv.Itoa(i), "commit "+strconv.Itoa(i))
				git.must(work, "push", "--quiet", "origin", "main")
			}
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			if got := packCount(t, s, "state.git"); got != tc.packs {
				t.Errorf("packs after three pushes = %d, want %d", got, tc.packs)
			}
			if _, err := s.Git(t.Context(), "state.git", "fsck", "--full", "--strict"); err != nil {
				t.Error(err)
			}
		})
	}
}
