package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kustomizationFiles are the names kustomize recognises.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// checkout clones the state repository's main branch into a temporary directory.
func (l *local) checkout(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	cmd := exec.Command("git", "clone", "--quiet", "--branch", "main", filepath.Join(l.dataDir, "state.git"), dir)
	cmd.Env = l.gitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	return dir
}

// fluxBuild builds dir as Flux's kustomize-controller would and returns the manifests.
//
// The engine writes plain manifests, no kustomization.yaml (CONTRACT.md §3), and a Flux
// Kustomization points at `./<destination>/dependencies` or `./<destination>/resources`. Given a
// directory without a kustomization file, Flux generates one that lists every .yaml and .yml file
// below it, recursively (a subdirectory with a kustomization file of its own is listed as a
// directory and not entered), and builds that with no load restrictions. This does the same and
// runs the real kustomize (bin/kustomize, what Flux embeds): a file that Flux would choke on
// fails here.
func (l *local) fluxBuild(t *testing.T, dir string) string {
	t.Helper()
	if !hasKustomization(dir) {
		writeGeneratedKustomization(t, dir)
	}
	cmd := exec.Command(l.tools.kustomize, "build", "--load-restrictor", "LoadRestrictionsNone", dir)
	cmd.Env = append(os.Environ(), "HOME="+l.home)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if exit, ok := err.(*exec.ExitError); ok {
			stderr = string(exit.Stderr)
		}
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr)
	}
	return string(out)
}

func hasKustomization(dir string) bool {
	for _, name := range kustomizationFiles {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil && !info.IsDir() {
			return true
		}
	}
	return false
}

// writeGeneratedKustomization writes the kustomization.yaml that Flux would generate for dir.
func writeGeneratedKustomization(t *testing.T, dir string) {
	t.Helper()
	var resources []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if hasKustomization(path) {
				resources = append(resources, rel)
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			resources = append(resources, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", dir, err)
	}
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range resources {
		b.WriteString("- " + r + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
