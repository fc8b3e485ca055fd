package gitserver_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	gogitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"kratix.dev/kratix/internal/gitserver"
)

// sshAuth is go-git's public key auth with keyPEM, checking the host key against a known_hosts
// file holding knownHostsLine.
func sshAuth(t testing.TB, keyPEM []byte, knownHostsLine string) *gogitssh.PublicKeys {
	t.Helper()
	auth, err := gogitssh.NewPublicKeys(gitserver.SSHUser, keyPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(knownHostsLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	callback, err := knownhosts.New(file)
	if err != nil {
		t.Fatal(err)
	}
	auth.HostKeyCallback = callback
	return auth
}

// otherKeyPEM is a fresh ed25519 private key that no server knows.
func otherKeyPEM(t testing.TB) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// pushOneCommit makes a repository in memory with one commit that adds name, and pushes it as
// main to url. It returns the commit's hash.
func pushOneCommit(t testing.TB, url string, auth *gogitssh.PublicKeys, name, content string) (plumbing.Hash, error) {
	t.Helper()
	repo, err := gogit.InitWithOptions(memory.NewStorage(), memfs.New(), gogit.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	f, err := wt.Filesystem.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(name); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "go-git", Email: "go-git@example.invalid", When: time.Now()}
	hash, err := wt.Commit("add "+name, &gogit.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		t.Fatal(err)
	}
	return hash, repo.PushContext(t.Context(), &gogit.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{"refs/heads/main:refs/heads/main"},
		Auth:       auth,
	})
}
