package flux

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyDirectory checks the rules with git itself (check-ignore, as .gitignore rules, which
// source-controller follows): the Destination's files stay in the artifact, its neighbours' go.
func TestOnlyDirectory(t *testing.T) {
	for _, c := range []struct {
		dir        string
		kept, gone []string
	}{
		{dir: "dev-cluster-1",
			kept: []string{"dev-cluster-1/dependencies/a.yaml", "dev-cluster-1/resources/ns/p/r/x.yaml"},
			gone: []string{"prod-cluster-1/dependencies/a.yaml", "dev-cluster-10/resources/x.yaml", "README.md", "dev-cluster-1.yaml"}},
		{dir: "clusters/dev",
			kept: []string{"clusters/dev/resources/x.yaml"},
			gone: []string{"clusters/prod/resources/x.yaml", "clusters/x.yaml", "other/dev/resources/x.yaml"}},
		{dir: "/clusters/dev/",
			kept: []string{"clusters/dev/dependencies/x.yaml"},
			gone: []string{"clusters/devx/x.yaml"}},
	} {
		t.Run(c.dir, func(t *testing.T) {
			repo := t.TempDir()
			if out, err := exec.Command("git", "-C", repo, "init", "-q").CombinedOutput(); err != nil {
				t.Fatalf("git init: %v: %s", err, out)
			}
			if err := os.WriteFile(filepath.Join(repo, ".gitignore"), []byte(OnlyDirectory(c.dir)), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, f := range append(append([]string{}, c.kept...), c.gone...) {
				if err := os.MkdirAll(filepath.Join(repo, filepath.Dir(f)), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(repo, f), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ignored := func(f string) bool {
				err := exec.Command("git", "-C", repo, "check-ignore", "-q", f).Run()
				if exitErr, ok := err.(*exec.ExitError); ok && exitErr.ExitCode() == 1 {
					return false
				} else if err != nil {
					t.Fatalf("git check-ignore %s: %v", f, err)
				}
				return true
			}
			for _, f := range c.kept {
				if ignored(f) {
					t.Errorf("%s is left out of the artifact; rules:\n%s", f, OnlyDirectory(c.dir))
				}
			}
			for _, f := range c.gone {
				if !ignored(f) {
					t.Errorf("%s is in the artifact; rules:\n%s", f, strings.TrimSpace(OnlyDirectory(c.dir)))
				}
			}
		})
	}
}
