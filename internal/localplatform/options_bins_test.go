package localplatform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The default bin directory is the binary's own when it holds k8s/ (bin/kratix), else ./bin.
func TestDefaultBinDir(t *testing.T) {
	withK8s := t.TempDir()
	if err := os.Mkdir(filepath.Join(withK8s, "k8s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := DefaultBinDir(filepath.Join(withK8s, "kratix")); err != nil || got != withK8s {
		t.Errorf("beside k8s/: %q, %v; want %q", got, err, withK8s)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DefaultBinDir(filepath.Join(t.TempDir(), "kratix")); err != nil || got != filepath.Join(wd, "bin") {
		t.Errorf("elsewhere: %q, %v; want ./bin", got, err)
	}
}

// findBinaries takes the newest version that has all four programs, and says what to do when
// none has.
func TestFindBinaries(t *testing.T) {
	bin := t.TempDir()
	fake := func(version string, names ...string) {
		dir := filepath.Join(bin, "k8s", version)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := findBinaries(bin); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("no binaries: %v", err)
	}
	fake("v1.36.0", "etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
	fake("v1.37.0", "etcd", "kube-apiserver", "kubectl") // kube-controller-manager not built yet
	got, err := findBinaries(bin)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(bin, "k8s", "v1.36.0", "kube-controller-manager"); got.controllerManager != want {
		t.Errorf("controller manager %s, want %s", got.controllerManager, want)
	}
}
