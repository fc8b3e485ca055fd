package gitserver_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
)

// Over TLS the git CLI succeeds when given the server's CA as http.sslCAInfo, and fails
// certificate verification without it.
func TestHTTPTLSNeedsTheCA(t *testing.T) {
	s := gitserver.NewHTTP(t, gitserver.HTTPOptions{TLS: true})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL("state.git"), "https://127.0.0.1:") {
		t.Fatalf("URL = %s, want https on loopback", s.URL("state.git"))
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	if got := readFile(t, s.CAFile()); got != string(s.CAPEM()) {
		t.Fatal("CAFile does not hold CAPEM")
	}
	git := newCLI(t)
	remote := withCredentials(t, s.URL("state.git"), s.Username(), s.Password())

	out, err := git.run("", "clone", remote, git.path("untrusted"))
	if err == nil {
		t.Fatalf("clone without the CA succeeded:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(out), "certificate") {
		t.Errorf("clone without the CA failed for another reason:\n%s", out)
	}

	work := git.path("work")
	git.must("", "-c", "http.sslCAInfo="+s.CAFile(), "clone", "--quiet", remote, work)
	git.must(work, "config", "http.sslCAInfo", s.CAFile())
	git.commitFile(work, "a.txt", "a\n", "over tls")
	git.must(work, "push", "--quiet", "origin", "main")
	if log, err := s.Git(t.Context(), "state.git", "log", "--format=%s", "main"); err != nil || log != "over tls\n" {
		t.Errorf("server log = %q, %v", log, err)
	}
}
