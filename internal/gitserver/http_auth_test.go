package gitserver_test

import (
	"net/http"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
)

// The git CLI cannot clone or push without the right password, and the server says why.
func TestHTTPAuthRefusesWrongCredentials(t *testing.T) {
	s := gitserver.NewHTTP(t, gitserver.HTTPOptions{Username: "kratix", Password: "right-password"})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	git := newCLI(t)
	work := git.path("work")
	git.must("", "clone", "--quiet", withCredentials(t, s.URL("state.git"), "kratix", "right-password"), work)
	git.commitFile(work, "a.txt", "a\n", "a")

	for name, remote := range map[string]string{
		"wrong password": withCredentials(t, s.URL("state.git"), "kratix", "wrong-password"),
		"wrong user":     withCredentials(t, s.URL("state.git"), "someone", "right-password"),
		"no credentials": s.URL("state.git"),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := git.run(work, "push", remote, "main")
			if err == nil {
				t.Fatalf("push succeeded:\n%s", out)
			}
			if !strings.Contains(out, "Authentication failed") && !strings.Contains(out, "could not read Username") {
				t.Errorf("push failed for another reason than authentication:\n%s", out)
			}
			if _, err := git.run("", "clone", remote, git.path("clone-"+strings.ReplaceAll(name, " ", "-"))); err == nil {
				t.Error("clone succeeded")
			}
		})
	}
	if got := s.Stats().ReceivePacks; got != 0 {
		t.Errorf("receive-pack POSTs reached git: %d", got)
	}
	if _, err := s.Git(t.Context(), "state.git", "rev-parse", "--verify", "--quiet", "main"); err == nil {
		t.Error("the refused pushes created main on the server")
	}
}

// An unauthenticated request gets a 401 with a Basic challenge, which is what makes clients send
// their credentials.
func TestHTTPAuthChallenge(t *testing.T) {
	s := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	get := func(user, password string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL("state.git")+"/info/refs?service=git-upload-pack", nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() }) // body unread on purpose
		return resp
	}

	resp := get("", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without credentials: status %d, want 401", resp.StatusCode)
	}
	if challenge := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(challenge, "Basic ") {
		t.Errorf("WWW-Authenticate = %q, want a Basic challenge", challenge)
	}
	if resp := get(s.Username(), s.Password()+"x"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with a wrong password: status %d, want 401", resp.StatusCode)
	}
	resp = get(s.Username(), s.Password())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the right credentials: status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-git-upload-pack-advertisement" {
		t.Errorf("Content-Type = %q, want git's smart HTTP advertisement", ct)
	}
	if got := s.Stats(); got.Requests != 3 || got.Unauthorized != 2 {
		t.Errorf("stats = %+v, want 3 requests of which 2 unauthorized", got)
	}
}
