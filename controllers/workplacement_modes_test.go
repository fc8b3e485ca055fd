package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// readyGitDestinationInMode is readyGitDestination for a Destination in the filepath mode, with
// its canary files off so that only placements write into its directory.
func readyGitDestinationInMode(t *testing.T, f *gitFixture, path, mode, filename string) *v1alpha1.Destination {
	t.Helper()
	store := f.readyGitStore(t)
	dest := destination(v1alpha1.KindGitStateStore, store.Name, path)
	dest.Spec.Filepath = v1alpha1.Filepath{Mode: mode, Filename: filename}
	off := false
	dest.Spec.InitWorkloads.Enabled = &off
	create(t, dest)
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	return dest
}

// lastSubject is the subject of the last commit on main that touched path.
func (f *gitFixture) lastSubject(t *testing.T, path string) string {
	t.Helper()
	out, err := f.git(t, "log", "-1", "--format=%s", "main", "--", path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// In filepath mode none, a placement's files go where the pipeline put them, with a state file
// that is not a manifest; an update removes the files it no longer has; a delete removes exactly
// what the placement wrote and leaves another placement's files alone.
func TestWorkPlacementInFilepathModeNone(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	dest := readyGitDestinationInMode(t, f, "flat", v1alpha1.FilepathModeNone, "")
	wp := newPlacement(t, dest.Name, "app", map[string]string{"app/deploy.yaml": "kind: Deployment\n", "app/svc.yaml": "kind: Service\n"})
	create(t, wp)
	other := newPlacement(t, dest.Name, "other", map[string]string{"other.yaml": "kind: Other\n"})
	create(t, other)
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	waitForPlacement(t, other, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)

	state := "flat/.kratix/default." + wp.Name + ".state"
	want := []string{"flat/.kratix/default." + other.Name + ".state", state, "flat/app/deploy.yaml", "flat/app/svc.yaml", "flat/other.yaml"}
	slices.Sort(want)
	if got := f.filesUnder(t, "flat"); !slices.Equal(got, want) {
		t.Fatalf("files under flat/ = %v, want %v", got, want)
	}
	if got := f.show(t, "flat/app/deploy.yaml"); got != "kind: Deployment\n" {
		t.Errorf("flat/app/deploy.yaml = %q", got)
	}
	if content := f.show(t, state); !strings.Contains(content, `"files": [
    "app/deploy.yaml",
    "app/svc.yaml"
  ]`) {
		t.Errorf("the state file does not list the files relative to the Destination:\n%s", content)
	}
	if wp.Status.Path != "flat" {
		t.Errorf("status.path = %q, want the Destination's directory", wp.Status.Path)
	}

	update(t, wp, func(wp *v1alpha1.WorkPlacement) {
		wp.Spec.Workloads = placementWorkloads(t, map[string]string{"app/deploy.yaml": "kind: Deployment\nspec: {}\n"})
	})
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if got := f.filesUnder(t, "flat/app"); !slices.Equal(got, []string{"flat/app/deploy.yaml"}) {
		t.Errorf("after the update, files under flat/app = %v: the file the update dropped is still there", got)
	}

	deleteAndWait(t, wp)
	want = []string{"flat/.kratix/default." + other.Name + ".state", "flat/other.yaml"}
	if got := f.filesUnder(t, "flat"); !slices.Equal(got, want) {
		t.Errorf("after the delete, files under flat/ = %v, want %v", got, want)
	}
	if got := f.lastSubject(t, "flat/app"); !strings.HasPrefix(got, "kratix: delete") {
		t.Errorf("the files were not removed in a delete commit: %q", got)
	}
}

// A workload in filepath mode none cannot write into the engine's own .kratix/ directory.
func TestWorkPlacementInFilepathModeNoneRefusesStateDir(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	dest := readyGitDestinationInMode(t, f, "flat-bad", v1alpha1.FilepathModeNone, "")
	commits := f.commits(t)
	wp := newPlacement(t, dest.Name, "app", map[string]string{".kratix/default.x.state": "app.yaml\n"})
	create(t, wp)

	cond := waitForPlacement(t, wp, v1alpha1.ConditionWriteSucceeded, metav1.ConditionFalse, v1alpha1.ReasonInvalidWorkloadPath)
	if !strings.Contains(cond.Message, ".kratix") {
		t.Errorf("the message does not name the directory: %q", cond.Message)
	}
	if got := f.commits(t); got != commits {
		t.Errorf("commits went from %d to %d", commits, got)
	}
	deleteAndWait(t, wp)
}

// In filepath mode aggregatedYAML, every placement of the Destination is one document group in
// one file, sorted by name; deleting one rewrites the file without it; deleting the last
// removes the file.
func TestWorkPlacementInFilepathModeAggregatedYAML(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	dest := readyGitDestinationInMode(t, f, "agg", v1alpha1.FilepathModeAggregatedYAML, "all.yaml")
	first := newPlacement(t, dest.Name, "first", map[string]string{"a.yaml": "apiVersion: v1\nkind: A\n", "b.yaml": "---\napiVersion: v1\nkind: B\n---\napiVersion: v1\nkind: C"})
	first.Name = "a-" + first.Name
	second := newPlacement(t, dest.Name, "second", map[string]string{"z.yaml": "apiVersion: v1\nkind: Z\n"})
	second.Name = "b-" + second.Name
	create(t, second)
	create(t, first)
	waitForPlacement(t, first, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	waitForPlacement(t, second, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)

	want := "---\n# default/" + first.Name + ": a.yaml\napiVersion: v1\nkind: A\n" +
		"---\n# default/" + first.Name + ": b.yaml\napiVersion: v1\nkind: B\n---\napiVersion: v1\nkind: C\n" +
		"---\n# default/" + second.Name + ": z.yaml\napiVersion: v1\nkind: Z\n"
	waitFor(t, "the aggregated file to hold both placements", func() error {
		if got := f.show(t, "agg/all.yaml"); got != want {
			return fmt.Errorf("agg/all.yaml =\n%s\nwant:\n%s", got, want)
		}
		return nil
	})
	if got := f.filesUnder(t, "agg"); !slices.Equal(got, []string{"agg/all.yaml"}) {
		t.Errorf("files under agg/ = %v", got)
	}
	if first.Status.Path != "agg/all.yaml" {
		t.Errorf("status.path = %q, want the aggregated file", first.Status.Path)
	}

	deleteAndWait(t, first)
	if got, want := f.show(t, "agg/all.yaml"), "---\n# default/"+second.Name+": z.yaml\napiVersion: v1\nkind: Z\n"; got != want {
		t.Errorf("after deleting %s, agg/all.yaml =\n%s\nwant:\n%s", first.Name, got, want)
	}
	deleteAndWait(t, second)
	if got := f.filesUnder(t, "agg"); len(got) != 0 {
		t.Errorf("after deleting every placement, files under agg/ = %v", got)
	}
}

// Deleting a Destination with cleanup all deletes its WorkPlacements, whose files go in their
// own delete commits, and then removes the Destination's directory.
func TestDestinationCleanupAllDeletesItsPlacements(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	dest := readyGitDestination(t, f, "doomed")
	update(t, dest, func(d *v1alpha1.Destination) { d.Spec.Cleanup = v1alpha1.DestinationCleanupAll })
	wp := newPlacement(t, dest.Name, "app", map[string]string{"app.yaml": "kind: A\n"})
	create(t, wp)
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	dir := wp.Status.Path

	deleteAndWait(t, dest)
	waitFor(t, "the WorkPlacement to be gone", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(wp), wp); err == nil {
			return fmt.Errorf("WorkPlacement %s still exists (deleting: %v)", wp.Name, !wp.DeletionTimestamp.IsZero())
		}
		return nil
	})
	if got := f.filesUnder(t, "doomed"); len(got) != 0 {
		t.Errorf("files under doomed/ = %v", got)
	}
	if got := f.lastSubject(t, dir); !strings.HasPrefix(got, "kratix: delete "+dest.Name+": ") {
		t.Errorf("the placement's files were not removed in its own delete commit: %q", got)
	}
}
