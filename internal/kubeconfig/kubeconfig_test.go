package kubeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: secret-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(file, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("explicit file", func(t *testing.T) {
		cfg, err := Load(file)
		if err != nil || cfg.Host != "https://127.0.0.1:6443" {
			t.Fatalf("Load = %v, %v", cfg, err)
		}
	})
	t.Run("from $KUBECONFIG", func(t *testing.T) {
		t.Setenv("KUBECONFIG", file)
		cfg, err := Load("")
		if err != nil || cfg.Host != "https://127.0.0.1:6443" {
			t.Fatalf("Load = %v, %v", cfg, err)
		}
	})
	t.Run("a missing file names it", func(t *testing.T) {
		missing := filepath.Join(dir, "missing")
		_, err := Load(missing)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Fatalf("Load(%q) = %v, want an error naming the file", missing, err)
		}
	})
}
