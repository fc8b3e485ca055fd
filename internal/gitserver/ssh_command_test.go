package gitserver_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"kratix.dev/kratix/internal/gitserver"
)

// dialSSH opens an SSH connection with the server's client key and host key.
func dialSSH(t *testing.T, s *gitserver.SSHServer) *ssh.Client {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(s.ClientKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User:            gitserver.SSHUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey()),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() }) // may be closed by the server's Stop already
	return client
}

// Only git-upload-pack and git-receive-pack of a repository inside the root may run.
func TestSSHCommandRefusals(t *testing.T) {
	outside := t.TempDir()
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	// A bare repository outside the root, reachable through a symbolic link inside it.
	if err := os.Symlink(outside, filepath.Join(s.Root(), "link.git")); err != nil {
		t.Fatal(err)
	}
	rootName := filepath.Base(s.Root())
	client := dialSSH(t, s)

	for _, command := range []string{
		"ls /",
		"git-upload-archive '/state.git'",
		"git upload-pack '/state.git'",
		"sh -c 'git-upload-pack /state.git'",
		"git-upload-pack /state.git",                        // unquoted
		"git-upload-pack '/state.git' '/state.git'",         // two arguments
		"git-upload-pack '/state.git'; ls",                  // trailing command
		"git-upload-pack '/state.git",                       // unterminated
		"git-receive-pack '/../" + rootName + "/state.git'", // escapes, even if it comes back
		"git-receive-pack '../state.git'",
		"git-receive-pack 'org/../../state.git'",
		"git-receive-pack '" + s.Root() + "/state.git'", // absolute path of the root
		"git-receive-pack '/link.git'",                  // symbolic link leaving the root
		"git-receive-pack '/missing.git'",
		"git-receive-pack ''",
		"git-receive-pack '/'",
	} {
		t.Run(command, func(t *testing.T) {
			session, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer session.Close()
			out, err := session.CombinedOutput(command)
			if err == nil {
				t.Fatalf("ran, output:\n%s", out)
			}
			if !strings.Contains(err.Error(), "failed") {
				t.Errorf("error %v, want the exec request refused", err)
			}
		})
	}
	if got := s.Stats(); got.RefusedCommands != 16 || got.UploadPacks != 0 || got.ReceivePacks != 0 {
		t.Errorf("stats = %+v, want 16 refused commands and no git process", got)
	}
}

// An allowed command runs the real git-upload-pack and returns its exit status.
func TestSSHCommandRunsUploadPack(t *testing.T) {
	s := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := s.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	// One commit of the empty tree, so that there is a ref to advertise.
	commit, err := s.Git(t.Context(), "state.git", "commit-tree", "-m", "empty", "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
	if err != nil {
		t.Fatal(err)
	}
	commit = strings.TrimSpace(commit)
	if _, err := s.Git(t.Context(), "state.git", "update-ref", "refs/heads/main", commit); err != nil {
		t.Fatal(err)
	}

	client := dialSSH(t, s)
	session, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	stdin, err := session.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.Start("git-upload-pack '/state.git'"); err != nil {
		t.Fatal(err)
	}
	// The first pkt-line advertises HEAD and the capabilities; a flush then says the client wants
	// nothing, and upload-pack exits 0.
	done := make(chan error, 1)
	go func() {
		first, err := bufio.NewReader(stdout).ReadString('\x00')
		if err == nil && !strings.HasPrefix(first[4:], commit+" HEAD\x00") {
			t.Errorf("advertisement starts %q, want %s HEAD", first, commit)
		}
		if err == nil {
			_, err = stdin.Write([]byte("0000"))
		}
		if err == nil {
			err = session.Wait()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("upload-pack: %v, want the advertisement and exit status 0", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("upload-pack did not finish within a minute") // the cleanup closes the client
	}
}
