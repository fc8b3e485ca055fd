package gitserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"

	"kratix.dev/kratix/internal/gitserver"
)

// go-git pushes a commit over SSH with the generated key, checking the host key; the git CLI
// sees it in the server's bare repository, and go-git fetches it back.
func TestSSHPushWithGoGit(t *testing.T) {
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("org/state.git", "main"); err != nil {
		t.Fatal(err)
	}
	if want := "ssh://git@" + s.Addr() + "/org/state.git"; s.URL("org/state.git") != want {
		t.Fatalf("URL = %s, want %s", s.URL("org/state.git"), want)
	}
	auth := sshAuth(t, s.ClientKeyPEM(), s.KnownHosts())

	hash, err := pushOneCommit(t, s.URL("org/state.git"), auth, "req.yaml", "kind: Thing\n")
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	log, err := s.Git(t.Context(), "org/state.git", "log", "--format=%H %s", "main")
	if err != nil {
		t.Fatal(err)
	}
	if want := hash.String() + " add req.yaml\n"; log != want {
		t.Errorf("server log = %q, want %q", log, want)
	}
	if _, err := s.Git(t.Context(), "org/state.git", "fsck", "--full", "--strict"); err != nil {
		t.Error(err)
	}

	clone, err := gogit.CloneContext(t.Context(), memory.NewStorage(), nil, &gogit.CloneOptions{URL: s.URL("org/state.git"), Auth: auth})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	head, err := clone.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Hash() != hash {
		t.Errorf("cloned HEAD = %s, want %s", head.Hash(), hash)
	}
	if got := s.Stats(); got.ReceivePacks != 1 || got.UploadPacks < 1 {
		t.Errorf("stats = %+v, want one receive-pack and at least one upload-pack", got)
	}
}

// The git CLI (OpenSSH client, protocol v2 through the env request) clones and pushes too.
func TestSSHPushWithGitCLI(t *testing.T) {
	sshBinary, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("no ssh client on this machine")
	}
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("it's.git", "main"); err != nil { // a quote, so that the path needs sq_quote
		t.Fatal(err)
	}
	git := newCLI(t)
	key, knownHosts := git.path("id_ed25519"), git.path("known_hosts")
	if err := os.WriteFile(key, s.ClientKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(knownHosts, []byte(s.KnownHosts()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	git.env = append(git.env, "GIT_SSH_COMMAND="+strings.Join([]string{
		sshBinary, "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
	}, " "))

	work := git.path("work")
	git.must("", "-c", "protocol.version=2", "clone", "--quiet", s.URL("it's.git"), work)
	git.commitFile(work, "a.txt", "a\n", "from the CLI")
	git.must(work, "push", "--quiet", "origin", "main")
	clone := git.path("clone")
	git.must("", "clone", "--quiet", s.URL("it's.git"), clone)
	if got := readFile(t, filepath.Join(clone, "a.txt")); got != "a\n" {
		t.Errorf("clone has %q", got)
	}
}
