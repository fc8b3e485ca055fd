package gitserver_test

import (
	"net/http"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
)

// Stop then Restart serves the same repositories on the same address.
func TestHTTPRestartKeepsAddressAndRepos(t *testing.T) {
	s, git, work := httpCloneWithCommit(t, "before the restart")
	git.must(work, "push", "--quiet", "origin", "main")
	addr, url := s.Addr(), s.URL("state.git")

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
	if out, err := git.run(work, "fetch", "origin"); err == nil {
		t.Fatalf("fetch from a stopped server succeeded:\n%s", out)
	}

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err == nil {
		t.Error("Restart of a running server succeeded")
	}
	if s.Addr() != addr || s.URL("state.git") != url {
		t.Fatalf("address after restart = %s, want %s", s.Addr(), addr)
	}
	clone := git.path("clone")
	git.must("", "clone", "--quiet", withCredentials(t, url, s.Username(), s.Password()), clone)
	if got := readFile(t, clone+"/a.txt"); got != "a\n" {
		t.Errorf("clone after restart has %q", got)
	}
	git.commitFile(work, "b.txt", "b\n", "after the restart")
	git.must(work, "push", "--quiet", "origin", "main")
	log, err := s.Git(t.Context(), "state.git", "log", "--format=%s", "main")
	if err != nil {
		t.Fatal(err)
	}
	if log != "after the restart\nbefore the restart\n" {
		t.Errorf("server log = %q", log)
	}
}

// Stop lets a push that is already in flight finish, and refuses new connections meanwhile.
func TestHTTPStopWaitsForInFlightPush(t *testing.T) {
	s, git, work := httpCloneWithCommit(t, "in flight")

	arrived, release := make(chan struct{}), make(chan struct{})
	s.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			close(arrived)
			<-release
		}
		return false
	})
	pushed := make(chan error, 1)
	go func() {
		out, err := git.run(work, "push", "--quiet", "origin", "main")
		if err != nil {
			t.Errorf("push: %s", out)
		}
		pushed <- err
	}()
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	waitRefused(t, s.Addr())
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a push was in flight", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if err := <-pushed; err != nil {
		t.Fatal("the in-flight push failed")
	}
	if log, err := s.Git(t.Context(), "state.git", "log", "--format=%s", "main"); err != nil || log != "in flight\n" {
		t.Errorf("server log = %q, %v", log, err)
	}
}

// An intercept can fail requests, e.g. to simulate an unavailable server.
func TestHTTPInterceptFailsPushes(t *testing.T) {
	s, git, work := httpCloneWithCommit(t, "a")

	s.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return true
	})
	if out, err := git.run(work, "push", "origin", "main"); err == nil || !strings.Contains(out, "503") {
		t.Fatalf("push through a failing intercept: err %v\n%s", err, out)
	}
	s.SetIntercept(nil)
	git.must(work, "push", "--quiet", "origin", "main")
	if got := s.Stats().ReceivePacks; got != 2 {
		t.Errorf("receive-pack POSTs = %d, want 2 (one failed, one through)", got)
	}
}

// httpCloneWithCommit starts an HTTP server with an empty state.git and clones it into work,
// where it commits a.txt with message, unpushed.
func httpCloneWithCommit(t *testing.T, message string) (s *gitserver.HTTPServer, git *cli, work string) {
	t.Helper()
	s = gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	git = newCLI(t)
	work = git.path("work")
	git.must("", "clone", "--quiet", withCredentials(t, s.URL("state.git"), s.Username(), s.Password()), work)
	git.commitFile(work, "a.txt", "a\n", message)
	return s, git, work
}
