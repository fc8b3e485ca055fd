package flux_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/internal/flux"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
)

// TestControllersApplyAndPruneADestination runs the real controllers against a real API server:
// a GitRepository on the HTTPS Git server with basic auth and the two Kustomizations of one
// Destination apply what the directory holds, in order, and prune what leaves it.
func TestControllersApplyAndPruneADestination(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server and Flux's controllers; skipped under -short")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins, err := flux.FindBinaries(filepath.Join(root, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop the API server: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	srv := gitserver.NewHTTP(t, gitserver.HTTPOptions{TLS: true})
	if _, err := srv.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	repo := newWorktree(t, filepath.Join(srv.Root(), "state.git"))
	repo.commit(map[string]string{
		"dev/dependencies/ns.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: foo\n",
		"dev/resources/deep/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n  namespace: foo\ndata:\n  greeting: hi\n",
		"other/dependencies/ns.yaml":   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: not-mine\n",
		"dev/.kratix/placement.state":  "not a manifest\n",
		"dev/resources/kratix-info.md": "neither\n",
	})

	if err := flux.Install(ctx, env.Client, bins.CRDDir); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctrls, err := flux.Start(flux.Options{Binaries: bins, Kubeconfig: env.Kubeconfig(), Dir: dir, RequeueDependency: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctrls.Stop(10 * time.Second); err != nil {
			t.Errorf("stop the controllers: %v", err)
		}
		if t.Failed() {
			for _, log := range ctrls.Logs() {
				t.Logf("--- end of %s:\n%s", log, flux.LogTail(log, 40))
			}
		}
	})
	objs, err := flux.DestinationObjects(flux.Destination{
		Git:      &flux.GitSource{URL: srv.URL("state.git"), Username: srv.Username(), Password: srv.Password(), CAPEM: srv.CAPEM()},
		Path:     "dev",
		Interval: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := flux.Apply(ctx, env.Client, objs); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	waitFor(t, ctrls, "ConfigMap foo/hello", func() error {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: "foo", Name: "hello"}, &corev1.ConfigMap{})
	})
	t.Logf("applied %s after the objects were created", time.Since(begin).Round(100*time.Millisecond))
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "not-mine"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("another Destination's namespace: %v, want NotFound", err)
	}
	for _, name := range []string{flux.DependenciesKustomization, flux.ResourcesKustomization} {
		// Every 2 seconds each reconciles again, and is Progressing meanwhile.
		waitFor(t, ctrls, "Kustomization "+name+" Ready", func() error {
			if ready, msg, err := flux.Ready(ctx, env.Client, flux.KustomizationAPIVersion, flux.KindKustomization, name); err != nil || !ready {
				return fmt.Errorf("ready %v, %s, %v", ready, msg, err)
			}
			return nil
		})
	}

	repo.remove("dev/resources/deep/cm.yaml")
	begin = time.Now()
	waitFor(t, ctrls, "ConfigMap foo/hello pruned", func() error {
		cm := &corev1.ConfigMap{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "foo", Name: "hello"}, cm); apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		return errStill
	})
	t.Logf("pruned %s after the commit", time.Since(begin).Round(100*time.Millisecond))
}

var errStill = errorString("still there")

type errorString string

func (e errorString) Error() string { return string(e) }

// waitFor waits for check, failing early when a controller exits.
func waitFor(t *testing.T, c *flux.Controllers, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, what, 2*time.Minute, 250*time.Millisecond, func() error {
		if err := c.ExitError(); err != nil {
			t.Fatal(err)
		}
		return check()
	})
}

// worktree is a clone of a bare repository that commits and pushes with the git CLI.
type worktree struct {
	t   *testing.T
	dir string
	env []string
}

func newWorktree(t *testing.T, bare string) *worktree {
	t.Helper()
	w := &worktree{t: t, dir: filepath.Join(t.TempDir(), "work"), env: gitserver.GitEnv(t.TempDir())}
	w.git("", "clone", "--quiet", bare, w.dir)
	w.git(w.dir, "checkout", "--quiet", "-B", "main")
	return w
}

func (w *worktree) git(dir string, args ...string) {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, w.env
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (w *worktree) commit(files map[string]string) {
	w.t.Helper()
	for name, content := range files {
		path := filepath.Join(w.dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	w.git(w.dir, "add", "-A")
	w.git(w.dir, "commit", "--quiet", "-m", "test")
	w.git(w.dir, "push", "--quiet", "origin", "main")
}

func (w *worktree) remove(name string) {
	w.t.Helper()
	w.git(w.dir, "rm", "--quiet", name)
	w.git(w.dir, "commit", "--quiet", "-m", "remove "+name)
	w.git(w.dir, "push", "--quiet", "origin", "main")
}

// TestFindBinariesNamesMakeTools checks that missing controllers are an error that says how to
// build them.
func TestFindBinariesNamesMakeTools(t *testing.T) {
	_, err := flux.FindBinaries(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("FindBinaries on an empty directory: %v, want an error naming `make tools`", err)
	}
}
