package controllers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/scheduling"
)

// placementWorkloads encodes files (path → content) as workloads.
func placementWorkloads(t *testing.T, files map[string]string) []v1alpha1.Workload {
	t.Helper()
	var out []v1alpha1.Workload
	for _, path := range slices.Sorted(maps.Keys(files)) {
		content, err := v1alpha1.EncodeContent([]byte(files[path]))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v1alpha1.Workload{Filepath: path, Content: content})
	}
	return out
}

// newPlacement returns a WorkPlacement (not created) in namespace default for the resource
// request default/<resource> of Promise redis, rendered by pipeline render, targeting the
// Destination; resource empty makes it Promise-level.
func newPlacement(t *testing.T, destination, resource string, files map[string]string) *v1alpha1.WorkPlacement {
	t.Helper()
	wp := &v1alpha1.WorkPlacement{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("wp"), Namespace: metav1.NamespaceDefault},
		Spec: v1alpha1.WorkPlacementSpec{
			TargetDestinationName: destination,
			Workloads:             placementWorkloads(t, files),
			PromiseName:           "redis",
			ResourceName:          resource,
			ID:                    scheduling.GroupID(v1alpha1.RootDirectory),
			PipelineName:          "render",
		},
	}
	if resource != "" {
		wp.Spec.ResourceNamespace = metav1.NamespaceDefault
	}
	return wp
}

// waitForPlacement waits until the placement's condition has the status and reason and its
// status observed the current generation when the condition is True; the latest placement is
// left in wp.
func waitForPlacement(t *testing.T, wp *v1alpha1.WorkPlacement, condType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	waitFor(t, fmt.Sprintf("WorkPlacement %s %s=%s %s", wp.Name, condType, status, reason), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(wp), wp); err != nil {
			return err
		}
		c := meta.FindStatusCondition(wp.Status.Conditions, condType)
		switch {
		case c == nil:
			return fmt.Errorf("no %s condition", condType)
		case c.Status != status || c.Reason != reason:
			return fmt.Errorf("%s=%s %s: %s", condType, c.Status, c.Reason, c.Message)
		case status == metav1.ConditionTrue && (c.ObservedGeneration != wp.Generation || wp.Status.ObservedGeneration != wp.Generation):
			return fmt.Errorf("generation %d not observed yet", wp.Generation)
		}
		got = *c
		return nil
	})
	return got
}

// show returns the content of a file on main.
func (f *gitFixture) show(t *testing.T, path string) string {
	t.Helper()
	out, err := f.git(t, "show", "main:"+path)
	if err != nil {
		t.Fatalf("git show main:%s: %v", path, err)
	}
	return out
}

// revParse returns the commit SHA of rev.
func (f *gitFixture) revParse(t *testing.T, rev string) string {
	t.Helper()
	out, err := f.git(t, "rev-parse", rev)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// filesUnder lists the files on main under dir.
func (f *gitFixture) filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, p := range f.files(t) {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// readyGitDestination creates a ready Git store and a Destination on it at path, and waits until
// the Destination is Ready.
func readyGitDestination(t *testing.T, f *gitFixture, path string) *v1alpha1.Destination {
	t.Helper()
	store := f.readyGitStore(t)
	dest := destination(v1alpha1.KindGitStateStore, store.Name, path)
	create(t, dest)
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	return dest
}

// A placement's files are committed into its directory in one commit that names it; an update
// replaces them (a file the new spec lacks is removed); once misscheduled, the files are frozen;
// deleting it removes its directory in a delete commit.
func TestWorkPlacementWritesUpdatesFreezesAndRemovesFiles(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	dest := readyGitDestination(t, f, "wp-dev")
	wp := newPlacement(t, dest.Name, "my-app", map[string]string{"app.yaml": "kind: A\n", "extra/config.yaml": "kind: B\n"})
	create(t, wp)

	dir := "wp-dev/resources/default/redis/my-app/render/" + wp.Spec.ID[:5]
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if got, want := f.filesUnder(t, dir), []string{dir + "/app.yaml", dir + "/extra/config.yaml"}; !slices.Equal(got, want) {
		t.Fatalf("files under %s = %v, want %v", dir, got, want)
	}
	if got := f.show(t, dir+"/app.yaml"); got != "kind: A\n" {
		t.Errorf("app.yaml = %q", got)
	}
	if got, want := wp.Status.VersionID, f.revParse(t, "main"); got != want {
		t.Errorf("versionID %q, main at %q", got, want)
	}
	if wp.Status.Path != dir || wp.Status.LastWriteTime == nil {
		t.Errorf("path %q lastWriteTime %v, want %q and a time", wp.Status.Path, wp.Status.LastWriteTime, dir)
	}
	checkCondition(t, wp.Status.Conditions, v1alpha1.ConditionScheduleSucceeded, wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, dest.Name})
	checkCondition(t, wp.Status.Conditions, v1alpha1.ConditionWriteSucceeded, wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, dir})
	if !slices.Contains(wp.Finalizers, v1alpha1.FinalizerRepoCleanup) {
		t.Errorf("finalizers %v lack %s", wp.Finalizers, v1alpha1.FinalizerRepoCleanup)
	}
	message, err := f.git(t, "log", "-1", "--format=%B", "main")
	if err != nil {
		t.Fatal(err)
	}
	if want := "kratix: update " + dest.Name + ": redis/default/my-app (render)\n"; !strings.HasPrefix(message, want) {
		t.Errorf("commit message %q does not start with %q", message, want)
	}
	for _, trailer := range []string{"Kratix-WorkPlacement: " + wp.Name, "Kratix-Destination: " + dest.Name, "Kratix-Action: update"} {
		if !strings.Contains(message, trailer) {
			t.Errorf("commit message %q lacks %q", message, trailer)
		}
	}
	waitForNamespacedEvent(t, wp.Namespace, "WorkPlacement", wp.Name, corev1.EventTypeNormal, v1alpha1.ReasonWriteSucceeded, func(string) bool { return true })

	// An update replaces the directory's content.
	update(t, wp, func(wp *v1alpha1.WorkPlacement) {
		wp.Spec.Workloads = placementWorkloads(t, map[string]string{"app.yaml": "kind: A2\n"})
	})
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if got, want := f.filesUnder(t, dir), []string{dir + "/app.yaml"}; !slices.Equal(got, want) {
		t.Errorf("files under %s after the update = %v, want %v", dir, got, want)
	}
	if got := f.show(t, dir+"/app.yaml"); got != "kind: A2\n" {
		t.Errorf("app.yaml after the update = %q", got)
	}
	if got, want := wp.Status.VersionID, f.revParse(t, "main"); got != want {
		t.Errorf("versionID %q after the update, main at %q", got, want)
	}

	// Misscheduled: the files stay as they are, whatever the spec says.
	frozen, version, commits := f.show(t, dir+"/app.yaml"), wp.Status.VersionID, f.commits(t)
	update(t, wp, func(wp *v1alpha1.WorkPlacement) {
		wp.Labels = map[string]string{v1alpha1.LabelMisscheduled: v1alpha1.LabelMisscheduledValue}
	})
	cond := waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonMisscheduled)
	if want := "files are kept on " + dest.Name + " and no longer updated"; cond.Message != want {
		t.Errorf("Ready message %q, want %q", cond.Message, want)
	}
	checkCondition(t, wp.Status.Conditions, v1alpha1.ConditionScheduleSucceeded, wantCondition{metav1.ConditionFalse, v1alpha1.ReasonMisscheduled, dest.Name})
	update(t, wp, func(wp *v1alpha1.WorkPlacement) {
		wp.Spec.Workloads = placementWorkloads(t, map[string]string{"app.yaml": "kind: A3\n", "new.yaml": "kind: N\n"})
	})
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonMisscheduled)
	if wp.Status.VersionID != version || wp.Status.Path != dir {
		t.Errorf("versionID %q path %q while misscheduled, want %q and %q kept", wp.Status.VersionID, wp.Status.Path, version, dir)
	}

	// Deleting it removes the directory in one delete commit; the commit before it is the last
	// write before the placement was misscheduled, so the workload change wrote nothing.
	deleteAndWait(t, wp)
	if got := f.filesUnder(t, dir); len(got) != 0 {
		t.Errorf("files under %s after deletion: %v", dir, got)
	}
	if got := f.commits(t); got != commits+1 {
		t.Errorf("%d commits after deletion, want %d (one delete commit)", got, commits+1)
	}
	if got := f.revParse(t, "main~1"); got != version {
		t.Errorf("the commit before the delete is %s, want %s (the last write)", got, version)
	}
	if got, err := f.git(t, "show", "main~1:"+dir+"/app.yaml"); err != nil || got != frozen {
		t.Errorf("app.yaml before the delete = %q (%v), want %q", got, err, frozen)
	}
	message, err = f.git(t, "log", "-1", "--format=%B", "main")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(message, "kratix: delete "+dest.Name+": ") || !strings.Contains(message, "Kratix-WorkPlacement: "+wp.Name) {
		t.Errorf("delete commit message %q", message)
	}
}

// A Promise-level placement's files go under dependencies/.
func TestWorkPlacementWritesPromiseLevelFiles(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	dest := readyGitDestination(t, f, "wp-deps")
	wp := newPlacement(t, dest.Name, "", map[string]string{"crd.yaml": "kind: CRD\n"})
	// Promise-level output lives where Promise workflows run (work_ownership.go).
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	wp.Namespace = v1alpha1.DefaultPlatformNS
	create(t, wp)

	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	path := "wp-deps/dependencies/redis/render/" + wp.Spec.ID[:5] + "/crd.yaml"
	if got := f.show(t, path); got != "kind: CRD\n" {
		t.Errorf("%s = %q", path, got)
	}
	if got, want := wp.Status.VersionID, f.revParse(t, "main"); got != want {
		t.Errorf("versionID %q, main at %q", got, want)
	}
}

// A placement whose Destination does not exist says so, and its deletion is not stuck on the
// finalizer.
func TestWorkPlacementWithoutDestinationIsDeleted(t *testing.T) {
	startManager(t)
	wp := newPlacement(t, uniqueName("missing"), "my-app", map[string]string{"app.yaml": "kind: A\n"})
	create(t, wp)

	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDestinationNotFound)
	if !slices.Contains(wp.Finalizers, v1alpha1.FinalizerRepoCleanup) {
		t.Errorf("finalizers %v lack %s", wp.Finalizers, v1alpha1.FinalizerRepoCleanup)
	}
	deleteAndWait(t, wp)
	waitForNamespacedEvent(t, wp.Namespace, "WorkPlacement", wp.Name, corev1.EventTypeWarning, v1alpha1.ReasonDestinationNotFound,
		func(note string) bool { return strings.Contains(note, "nothing was removed") })
}
