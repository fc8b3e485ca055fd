package controllers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/gitserver"
)

// TestFilesDeletedOnTheRemoteAreWrittenAgain: someone runs `git rm` on a placement's file and
// a Destination's canary file and pushes. The store's writer notices the branch moved (here
// within its head-check interval of 200 ms, a minute by default), and the Destination and the
// placement write their files again, long before the placement's resync, with the placement's
// version the commit that holds them. Someone else's file beside the Destinations, and a second
// placement whose files nobody touched, are no reason to write anything: only the touched
// placement is restored.
func TestFilesDeletedOnTheRemoteAreWrittenAgain(t *testing.T) {
	startManagerWithOptions(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2, GitHeadCheckInterval: 200 * time.Millisecond})
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	selector := map[string]string{"drift": uniqueName("site")}
	dest := readyDestinationOn(t, store, uniqueName("dest"), selector)
	wp := writtenResourceWork(t, ns, selector, namespaceManifest("drift"))
	writtenResourceWork(t, ns, selector, namespaceManifest("untouched"))
	f.pushByHand(t, func(run func(...string), work string) {
		if err := os.WriteFile(filepath.Join(work, "NOTES.md"), []byte("# notes"), 0o644); err != nil {
			t.Fatal(err)
		}
		run("-C", work, "add", "NOTES.md")
	})
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
	waitForEvent(t, v1alpha1.KindGitStateStore, store.Name, corev1.EventTypeNormal, v1alpha1.ReasonRestored)
	var drifts []string
	for _, e := range eventsOf(t, v1alpha1.KindGitStateStore, store.Name) {
		if e.Reason == v1alpha1.ReasonStoreDrifted {
			drifts = append(drifts, e.Note)
		}
	}
	if len(drifts) != 1 || !strings.Contains(drifts[0], "writing the files of 1 WorkPlacements again") {
		t.Errorf("StoreDrifted Events %q, want one that restores the one touched placement", drifts)
	}
}

// writtenResourceWork creates a resource Work of its own request, whose placement has its own
// directory, and waits for its one placement to be written.
func writtenResourceWork(t *testing.T, namespace string, selector map[string]string, manifest string) *v1alpha1.WorkPlacement {
	t.Helper()
	work := newWork(t, namespace, uniqueName("req"), rootGroup(t, selector, manifest))
	work.Spec.PipelineName = "configure"
	createWork(t, work)
	wp := onlyPlacement(t, work)
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	return wp
}

// TestDeletedBranchComesBackWholeAndPlacementsSayRestoring: the branch is deleted. Every placement
// of the store says Restoring (not Ready: its version is gone) until its files are back, and the
// branch comes back in one commit that holds every placement's files and the canary, although the
// manager runs only two WorkPlacement reconciles at a time. The store's Events say what happened.
func TestDeletedBranchComesBackWholeAndPlacementsSayRestoring(t *testing.T) {
	startManagerWithOptions(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2, GitHeadCheckInterval: 200 * time.Millisecond})
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	selector := map[string]string{"drift": uniqueName("site")}
	readyDestinationOn(t, store, uniqueName("dest"), selector)
	const n = 8
	wps := make([]*v1alpha1.WorkPlacement, n)
	for i := range wps {
		wps[i] = writtenResourceWork(t, ns, selector, namespaceManifest(fmt.Sprintf("restore-%d", i)))
	}
	before := f.files(t)

	// The restore's push waits on the server, so that the restore can be seen under way.
	f.slowPushes(t, 2*time.Second)
	if _, err := f.git(t, "update-ref", "-d", "refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every placement says Restoring", func() error {
		for _, wp := range wps {
			got := &v1alpha1.WorkPlacement{}
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(wp), got); err != nil {
				return err
			}
			ready := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
			if ready == nil || ready.Reason != v1alpha1.ReasonRestoring || ready.Status != metav1.ConditionFalse {
				return fmt.Errorf("%s: Ready %+v", wp.Name, ready)
			}
		}
		return nil
	})
	waitFor(t, "every placement is Ready at a version on main that holds its files", func() error {
		for _, wp := range wps {
			got := &v1alpha1.WorkPlacement{}
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(wp), got); err != nil {
				return err
			}
			ready := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s: Ready %+v", wp.Name, ready)
			}
			if _, err := f.git(t, "merge-base", "--is-ancestor", got.Status.VersionID, "main"); err != nil {
				return fmt.Errorf("%s: version %s is not on main", wp.Name, got.Status.VersionID)
			}
			if _, err := f.git(t, "cat-file", "-e", got.Status.VersionID+":"+got.Status.Path); err != nil {
				return fmt.Errorf("%s: version %s does not hold %s", wp.Name, got.Status.VersionID, got.Status.Path)
			}
		}
		return nil
	})
	if got := f.files(t); !slices.Equal(got, before) {
		t.Errorf("files after the restore %v, want %v", got, before)
	}
	if c := f.commits(t); c != 1 {
		log, _ := f.git(t, "log", "--format=%s", "main")
		t.Errorf("the branch came back in %d commits, want 1:\n%s", c, log)
	}
	if msg, _ := f.git(t, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Kratix-Action: restore") {
		t.Errorf("the commit that brings the branch back does not say it restores:\n%s", msg)
	}
	waitForEvent(t, v1alpha1.KindGitStateStore, store.Name, corev1.EventTypeWarning, v1alpha1.ReasonStoreDrifted)
	waitForEvent(t, v1alpha1.KindGitStateStore, store.Name, corev1.EventTypeNormal, v1alpha1.ReasonRestored)
}

// slowPushes has the server hold every push for d before it accepts it (a pre-receive hook),
// until the test ends.
func (f *gitFixture) slowPushes(t *testing.T, d time.Duration) {
	t.Helper()
	hook := filepath.Join(f.server.Root(), f.repo, "hooks", "pre-receive")
	script := fmt.Sprintf("#!/bin/sh\ncat >/dev/null\nsleep %.1f\n", d.Seconds())
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(hook) })
}

// removeByHand removes files from main in a clone of the repository and pushes, as a person
// running `git rm` would.
func (f *gitFixture) removeByHand(t *testing.T, paths ...string) {
	t.Helper()
	f.pushByHand(t, func(run func(...string), work string) {
		run(append([]string{"-C", work, "rm", "--quiet"}, paths...)...)
	})
}

// pushByHand clones main, has edit change the work tree (run runs git; edits must be staged),
// commits and pushes, as a person would.
func (f *gitFixture) pushByHand(t *testing.T, edit func(run func(...string), work string)) {
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
	edit(run, work)
	run("-C", work, "-c", "user.name=someone", "-c", "user.email=someone@example.com", "commit", "--quiet", "-m", "by hand")
	run("-C", work, "push", "--quiet", "origin", "main")
}
