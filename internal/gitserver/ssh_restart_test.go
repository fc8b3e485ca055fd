package gitserver_test

import (
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"

	"kratix.dev/kratix/internal/gitserver"
)

// Stop then Restart serves the same repositories with the same address and host key.
func TestSSHRestartKeepsAddressAndRepos(t *testing.T) {
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	auth := sshAuth(t, s.ClientKeyPEM(), s.KnownHosts())
	hash, err := pushOneCommit(t, s.URL("state.git"), auth, "a.txt", "a\n")
	if err != nil {
		t.Fatal(err)
	}
	addr, knownHosts := s.Addr(), s.KnownHosts()

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
	if _, err := gogit.CloneContext(t.Context(), memory.NewStorage(), nil, &gogit.CloneOptions{URL: s.URL("state.git"), Auth: auth}); err == nil {
		t.Fatal("clone from a stopped server succeeded")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err == nil {
		t.Error("Restart of a running server succeeded")
	}
	if s.Addr() != addr || s.KnownHosts() != knownHosts {
		t.Fatalf("after restart: %s %q, want %s %q", s.Addr(), s.KnownHosts(), addr, knownHosts)
	}
	clone, err := gogit.CloneContext(t.Context(), memory.NewStorage(), nil, &gogit.CloneOptions{URL: s.URL("state.git"), Auth: auth})
	if err != nil {
		t.Fatalf("clone after restart: %v", err)
	}
	if head, err := clone.Head(); err != nil || head.Hash() != hash {
		t.Errorf("cloned HEAD = %v, %v; want %s", head, err, hash)
	}
}

// Stop does not wait for clients: it closes their connections and kills their git processes.
func TestSSHStopEndsOpenSessions(t *testing.T) {
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	session, err := dialSSH(t, s).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	stdout, err := session.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// receive-pack advertises, then waits for commands that never come.
	if err := session.Start("git-receive-pack '/state.git'"); err != nil {
		t.Fatal(err)
	}
	if _, err := stdout.Read(make([]byte, 4)); err != nil {
		t.Fatalf("read the advertisement: %v", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Stop is still waiting for an idle session after a minute")
	}
	if err := session.Wait(); err == nil {
		t.Error("the session ended cleanly, want an error from the closed connection")
	}
	if got := s.Stats().ReceivePacks; got != 1 {
		t.Errorf("receive-packs = %d, want 1", got)
	}
}
