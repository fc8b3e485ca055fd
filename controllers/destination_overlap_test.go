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
	at := func(name, kind, store, path string, minute int) v1alpha1.Destination {
		d := *destination(kind, store, path)
		d.Name, d.CreationTimestamp = name, metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC))
		return d
	}
	dev := at("dev", v1alpha1.KindGitStateStore, "s", "dev", 1)
	devX := at("dev-x", v1alpha1.KindGitStateStore, "s", "dev/x", 2)
	twin := at("a-twin", v1alpha1.KindGitStateStore, "s", "dev", 1) // same time: the name decides
	otherStore := at("elsewhere", v1alpha1.KindGitStateStore, "t", "dev", 0)
	bucket := at("bucket", v1alpha1.KindBucketStateStore, "s", "dev", 0)
	all := []v1alpha1.Destination{dev, devX, twin, otherStore, bucket}
	for _, tc := range []struct {
		dest v1alpha1.Destination
		want string // "" for none
	}{
		{devX, "a-twin"},
		{dev, "a-twin"},
		{twin, ""},
		{otherStore, ""},
		{bucket, ""},
	} {
		got := overlapWinner(&tc.dest, all)
		if name := nameOf(got); name != tc.want {
			t.Errorf("overlapWinner(%s) = %q, want %q", tc.dest.Name, name, tc.want)
		}
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
