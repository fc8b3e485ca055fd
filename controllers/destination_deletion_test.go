package controllers

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// Deleting a Destination with cleanup all removes its directory in one delete commit that names
// it, and leaves other Destinations' files alone.
func TestDestinationDeletionWithCleanupAll(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	gone := destination(v1alpha1.KindGitStateStore, store.Name, "gone")
	gone.Spec.Cleanup = v1alpha1.DestinationCleanupAll
	create(t, gone)
	// One after the other, so that no commit holds both Destinations' canary files.
	waitForCondition(t, gone, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	kept := destination(v1alpha1.KindGitStateStore, store.Name, "kept")
	create(t, kept)
	waitForCondition(t, kept, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)

	deleteAndWait(t, gone)
	if got, want := f.files(t), canaryPaths("kept"); !slices.Equal(got, want) {
		t.Errorf("files on main = %v, want %v", got, want)
	}
	subject, err := f.git(t, "log", "-1", "--format=%s", "main")
	if err != nil {
		t.Fatal(err)
	}
	if want := "kratix: delete " + gone.Name; strings.TrimSpace(subject) != want {
		t.Errorf("last commit %q, want %q", strings.TrimSpace(subject), want)
	}
	history, err := f.git(t, "log", "--format=%s", "main", "--", "gone")
	if err != nil {
		t.Fatal(err)
	}
	if want := "kratix: delete " + gone.Name + "\nkratix: update " + gone.Name; strings.TrimSpace(history) != want {
		t.Errorf("history of gone/:\n%s\nwant:\n%s", history, want)
	}
}

// Deleting a Destination with cleanup none (the default) leaves its files.
func TestDestinationDeletionWithCleanupNone(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	dest := destination(v1alpha1.KindGitStateStore, store.Name, "stays")
	create(t, dest)
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	commits := f.commits(t)

	deleteAndWait(t, dest)
	if got, want := f.files(t), canaryPaths("stays"); !slices.Equal(got, want) {
		t.Errorf("files on main = %v, want %v", got, want)
	}
	if got := f.commits(t); got != commits {
		t.Errorf("commits went from %d to %d", commits, got)
	}
}

// A Destination whose store does not exist can still be deleted, with a Warning Event that says
// nothing was removed.
func TestDestinationDeletionWithoutStore(t *testing.T) {
	startManager(t)
	dest := destination(v1alpha1.KindGitStateStore, uniqueName("no-such-store"), "orphan")
	dest.Spec.Cleanup = v1alpha1.DestinationCleanupAll
	create(t, dest)
	cond := waitForCondition(t, dest, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)
	if !strings.Contains(cond.Message, "does not exist") {
		t.Errorf("the message does not say that the store is missing: %q", cond.Message)
	}

	deleteAndWait(t, dest)
	ev := waitForEvent(t, "Destination", dest.Name, corev1.EventTypeWarning, v1alpha1.ReasonStateStoreNotFound)
	if !strings.Contains(ev.Note, "nothing was removed") {
		t.Errorf("the Event does not say that nothing was removed: %q", ev.Note)
	}
}

// A Destination whose path the store's writer refuses (here it names a .git directory) is not
// Ready, and with cleanup all it can still be deleted: nothing can have been written under the
// path, and a Warning Event says that nothing was removed.
func TestDestinationWithAnInvalidPathCanBeDeleted(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	dest := destination(v1alpha1.KindGitStateStore, store.Name, "team/.git/hooks")
	dest.Spec.Cleanup = v1alpha1.DestinationCleanupAll
	create(t, dest)
	cond := waitForCondition(t, dest, metav1.ConditionFalse, v1alpha1.ReasonStateStoreWriteFailed)
	if !strings.Contains(cond.Message, ".git") {
		t.Errorf("Ready does not say what is wrong with the path: %q", cond.Message)
	}
	commits := f.commits(t)

	deleteAndWait(t, dest)
	waitForEvent(t, "Destination", dest.Name, corev1.EventTypeWarning, v1alpha1.ReasonInvalidDestinationPath)
	if got := f.commits(t); got != commits {
		t.Errorf("commits went from %d to %d", commits, got)
	}
}
