package controllers

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/gitserver"
)

// TestFilesDeletedOnTheRemoteAreWrittenAgain: someone runs `git rm` on a placement's file and
// a Destination's canary file and pushes. The store's writer notices the branch moved (here
// within its head-check interval of 200 ms, a minute by default), and the Destination and the
// placement write their files again, long before the placement's resync, with the placement's
// version the commit that holds them.
func TestFilesDeletedOnTheRemoteAreWrittenAgain(t *testing.T) {
	startManagerWithOptions(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2, GitHeadCheckInterval: 200 * time.Millisecond})
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	selector := map[string]string{"drift": uniqueName("site")}
	dest := readyDestinationOn(t, store, uniqueName("dest"), selector)
	_, wp := writtenWork(t, ns, selector, namespaceManifest("drift"))
	before := f.files(t)
	var placed, canary string
	for _, p := range before {
		switch {
		case strings.HasPrefix(p, wp.Status.Path+"/"):
			placed = p
		case strings.HasPrefix(p, dest.Spec.Path+"/dependencies/"):
			canary = p
		}
	}
	if placed == "" || canary == "" {
		t.Fatalf("no placement file under %s or canary file in %v", wp.Status.Path, before)
	}

	f.removeByHand(t, placed, canary)
	waitFor(t, "the deleted files are back", func() error {
		if got := f.files(t); !slices.Equal(got, before) {
			return fmt.Errorf("files %v, want %v", got, before)
		}
		return nil
	})
	waitFor(t, "the placement's version holds its file", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(wp), wp); err != nil {
			return err
		}
		if _, err := f.git(t, "cat-file", "-e", wp.Status.VersionID+":"+placed); err != nil {
			return fmt.Errorf("version %s does not hold %s", wp.Status.VersionID, placed)
		}
		return nil
	})
}

// removeByHand removes files from main in a clone of the repository and pushes, as a person
// running `git rm` would.
func (f *gitFixture) removeByHand(t *testing.T, paths ...string) {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	run := func(args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env = gitserver.GitEnv(dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("clone", "--quiet", "--branch", "main", filepath.Join(f.server.Root(), f.repo), work)
	run(append([]string{"-C", work, "rm", "--quiet"}, paths...)...)
	run("-C", work, "-c", "user.name=someone", "-c", "user.email=someone@example.com", "commit", "--quiet", "-m", "tidy up")
	run("-C", work, "push", "--quiet", "origin", "main")
}
