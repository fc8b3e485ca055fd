package gitserver_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"kratix.dev/kratix/internal/gitserver"
)

// A client key the server did not generate is refused.
func TestSSHAuthRefusesUnknownClientKey(t *testing.T) {
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	auth := sshAuth(t, otherKeyPEM(t), s.KnownHosts())
	_, err := pushOneCommit(t, s.URL("state.git"), auth, "a.txt", "a\n")
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("push with an unknown key: %v, want an authentication failure", err)
	}
	if got := s.Stats(); got.RefusedKeys != 1 || got.ReceivePacks != 0 {
		t.Errorf("stats = %+v, want one refused key and no receive-pack", got)
	}
}

// A client that expects another host key for the address refuses the server.
func TestSSHAuthClientRefusesOtherHostKey(t *testing.T) {
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherHostKey, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, otherHostKey)
	auth := sshAuth(t, s.ClientKeyPEM(), line)
	_, err = pushOneCommit(t, s.URL("state.git"), auth, "a.txt", "a\n")
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Fatalf("push to a server with an unexpected host key: %v, want a key mismatch", err)
	}
	if got := s.Stats(); got.ReceivePacks != 0 {
		t.Errorf("stats = %+v, want no receive-pack", got)
	}
	if _, err := s.Git(t.Context(), "state.git", "rev-parse", "--verify", "--quiet", "main"); err == nil {
		t.Error("main exists on the server")
	}
}

// The known_hosts line names the address the way OpenSSH does for a non-standard port.
func TestSSHKnownHostsLine(t *testing.T) {
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	fields := strings.Fields(s.KnownHosts())
	if len(fields) != 3 {
		t.Fatalf("KnownHosts() = %q, want host, type and key", s.KnownHosts())
	}
	port := strings.TrimPrefix(s.Addr(), "127.0.0.1:")
	if fields[0] != "[127.0.0.1]:"+port || fields[1] != ssh.KeyAlgoED25519 {
		t.Errorf("KnownHosts() = %q", s.KnownHosts())
	}
	if fields[2] != strings.Fields(string(ssh.MarshalAuthorizedKey(s.HostKey())))[1] {
		t.Error("KnownHosts() does not hold HostKey()")
	}
}
