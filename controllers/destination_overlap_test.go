package controllers

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

func TestPathsOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"dev", "dev", true},
		{"dev", "dev/", true},
		{"dev", "dev/x", true},
		{"dev/x/y", "dev", true},
		{"dev", "devel", false},
		{"dev/x", "dev/y", false},
		{"dev", "../dev", false}, // refused paths overlap nothing
	} {
		if got := statestore.PathsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("PathsOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestOverlapWinner(t *testing.T) {
	repo := storeTarget{location: "git github.com/org/state main"}
	other := storeTarget{location: "git github.com/org/other main"}
	rooted := storeTarget{location: repo.location, root: "dev"} // another store on the same branch
	at := func(target storeTarget, name, path string, minute int) placedDestination {
		d := destination(v1alpha1.KindGitStateStore, "s", path)
		d.Name, d.CreationTimestamp = name, metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC))
		return target.place(d)
	}
	dev := at(repo, "dev", "dev", 1)
	devX := at(repo, "dev-x", "dev/x", 2)
	twin := at(repo, "a-twin", "dev", 1) // same time: the name decides
	elsewhere := at(other, "elsewhere", "dev", 0)
	underRoot := at(rooted, "under-root", "y", 3) // dev/y of the same branch
	all := []placedDestination{dev, devX, twin, elsewhere, underRoot}
	for _, tc := range []struct {
		dest placedDestination
		want string // "" for none
	}{
		{devX, "a-twin"},
		{dev, "a-twin"},
		{twin, ""},
		{elsewhere, ""},
		{underRoot, "a-twin"},
	} {
		got := overlapWinner(tc.dest, all)
		if name := nameOf(got); name != tc.want {
			t.Errorf("overlapWinner(%s) = %q, want %q", tc.dest.dest.Name, name, tc.want)
		}
	}
}

// TestRepositoryOf: the URL forms that reach one repository name it the same.
func TestRepositoryOf(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"https://github.com/org/state.git", "github.com/org/state"},
		{"https://GitHub.com/org/state/", "github.com/org/state"},
		{"http://user@github.com/org/state", "github.com/org/state"},
		{"https://user:p@ss@github.com/org/state", "github.com/org/state"},
		{"ssh://git@github.com/org/state.git", "github.com/org/state"},
		{"git@github.com:org/state.git", "github.com/org/state"},
		{"github.com:org/state", "github.com/org/state"},
		{"https://git.example.com:8443/org/state", "git.example.com:8443/org/state"},
		{"file:///srv/git/state.git", "/srv/git/state"},
		{"/srv/git/state", "/srv/git/state"},
	} {
		if got := repositoryOf(tc.url); got != tc.want {
			t.Errorf("repositoryOf(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
	if repositoryOf("https://github.com/org/state") == repositoryOf("https://github.com/org/state-2") {
		t.Error("two repositories share a name")
	}
}

func nameOf(d *v1alpha1.Destination) string {
	if d == nil {
		return ""
	}
	return d.Name
}

// TestOverlappingDestinationWritesNothing: two Destinations of one store, "dev" and then
// "dev/x". The second writes nothing, neither canary files nor placements, and says why; its
// deletion with cleanup all removes nothing of the first's. Once the first is gone, the second
// writes.
func TestOverlappingDestinationWritesNothing(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	// Creation times have seconds; within one, the name that sorts first comes first.
	first := destination(v1alpha1.KindGitStateStore, store.Name, "dev")
	first.Name = "a-" + first.Name
	create(t, first)
	waitForCondition(t, first, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)

	second := destination(v1alpha1.KindGitStateStore, store.Name, "dev/x")
	second.Name = "z-" + second.Name
	second.Spec.Cleanup = v1alpha1.DestinationCleanupAll
	create(t, second)
	cond := waitForCondition(t, second, metav1.ConditionFalse, v1alpha1.ReasonPathOverlaps)
	if !strings.Contains(cond.Message, first.Name) || !strings.Contains(cond.Message, `"dev"`) {
		t.Errorf("Ready does not name the Destination and path it overlaps: %q", cond.Message)
	}
	wp := newPlacement(t, second.Name, "app", map[string]string{"cm.yaml": "kind: ConfigMap\n"})
	create(t, wp)
	waitForPlacement(t, wp, v1alpha1.ConditionWriteSucceeded, metav1.ConditionFalse, v1alpha1.ReasonPathOverlaps)
	if got, want := f.files(t), canaryPaths("dev"); !slices.Equal(got, want) {
		t.Errorf("files = %v, want only the first Destination's %v", got, want)
	}

	deleteAndWait(t, wp)
	deleteAndWait(t, second)
	if got, want := f.files(t), canaryPaths("dev"); !slices.Equal(got, want) {
		t.Errorf("after the second Destination's cleanup, files = %v, want the first's %v", got, want)
	}

	// Once the first is gone, a Destination at dev/x has the directory to itself.
	third := destination(v1alpha1.KindGitStateStore, store.Name, "dev/x")
	third.Name = "z-" + third.Name
	create(t, third)
	waitForCondition(t, third, metav1.ConditionFalse, v1alpha1.ReasonPathOverlaps)
	deleteAndWait(t, first)
	waitForCondition(t, third, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
}
