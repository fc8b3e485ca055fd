package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// In filepath mode none, two placements that claim one path (the same file, or a file and a
// directory of the same name) do not overwrite each other: the first writes, the others are
// refused with FileClaimed naming it and write nothing, and deleting a refused one removes
// nothing of the first's. When the first goes or stops writing the path, the next one writes,
// brought back by the change alone.
func TestWorkPlacementClaimsInFilepathModeNone(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	dest := readyGitDestinationInMode(t, f, "claims", v1alpha1.FilepathModeNone, "")
	// Placements created in the same second are ordered by name.
	first := newPlacement(t, dest.Name, "first", map[string]string{"foo/bar.yaml": "kind: First\n"})
	first.Name = "a-" + first.Name
	create(t, first)
	waitForPlacement(t, first, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	commits := f.commits(t)

	file := newPlacement(t, dest.Name, "file", map[string]string{"foo": "kind: File\n", "mine.yaml": "kind: Mine\n"})
	file.Name = "b-" + file.Name
	create(t, file)
	same := newPlacement(t, dest.Name, "same", map[string]string{"foo/bar.yaml": "kind: Same\n"})
	same.Name = "c-" + same.Name
	create(t, same)
	passer := newPlacement(t, dest.Name, "passer", map[string]string{"passer.yaml": "kind: Passer\n"})
	passer.Name = "d-" + passer.Name
	create(t, passer)
	for _, wp := range []*v1alpha1.WorkPlacement{file, same} {
		cond := waitForPlacement(t, wp, v1alpha1.ConditionWriteSucceeded, metav1.ConditionFalse, v1alpha1.ReasonFileClaimed)
		if !strings.Contains(cond.Message, first.Namespace+"/"+first.Name) || !strings.Contains(cond.Message, `"claims/foo/bar.yaml"`) {
			t.Errorf("%s: the message does not name the placement first to the path and the path: %q", wp.Name, cond.Message)
		}
		waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonFileClaimed)
		waitForEvent(t, "WorkPlacement", wp.Name, corev1.EventTypeWarning, v1alpha1.ReasonFileClaimed)
	}
	waitForPlacement(t, passer, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if got := f.show(t, "claims/foo/bar.yaml"); got != "kind: First\n" {
		t.Errorf("claims/foo/bar.yaml = %q, want the first placement's", got)
	}
	want := []string{"claims/.kratix/default." + first.Name + ".state", "claims/.kratix/default." + passer.Name + ".state", "claims/foo/bar.yaml", "claims/passer.yaml"}
	if got := f.filesUnder(t, "claims"); !slices.Equal(got, want) {
		t.Errorf("files under claims/ = %v, want %v: a refused placement wrote something", got, want)
	}
	if got := f.commits(t); got != commits+1 {
		t.Errorf("commits went from %d to %d, want one for the placement with no claim in common", commits, got)
	}

	// Deleting the first frees foo/bar.yaml: the file placement, older than same, writes foo.
	deleteAndWait(t, first)
	waitForPlacement(t, file, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	// same was refused for first's path before; now for the file placement's.
	waitFor(t, "same's refusal names the file placement and its path", func() error {
		cond := waitForPlacement(t, same, v1alpha1.ConditionWriteSucceeded, metav1.ConditionFalse, v1alpha1.ReasonFileClaimed)
		if !strings.Contains(cond.Message, file.Name) || !strings.Contains(cond.Message, `"claims/foo"`) {
			return fmt.Errorf("the message does not name the file placement and its path: %q", cond.Message)
		}
		return nil
	})
	if got := f.show(t, "claims/foo"); got != "kind: File\n" {
		t.Errorf("claims/foo = %q, want the file placement's", got)
	}

	// The file placement stops writing foo: same writes foo/bar.yaml, and foo goes.
	update(t, file, func(wp *v1alpha1.WorkPlacement) {
		wp.Spec.Workloads = placementWorkloads(t, map[string]string{"mine.yaml": "kind: Mine\n"})
	})
	waitForPlacement(t, same, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	waitForPlacement(t, file, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if got := f.show(t, "claims/foo/bar.yaml"); got != "kind: Same\n" {
		t.Errorf("claims/foo/bar.yaml = %q, want the same placement's", got)
	}

	// Deleting the file placement, whose state file once listed foo, leaves same's files.
	deleteAndWait(t, file)
	want = []string{"claims/.kratix/default." + same.Name + ".state", "claims/.kratix/default." + passer.Name + ".state", "claims/foo/bar.yaml", "claims/passer.yaml"}
	slices.Sort(want)
	if got := f.filesUnder(t, "claims"); !slices.Equal(got, want) {
		t.Errorf("after deleting %s, files under claims/ = %v, want %v", file.Name, got, want)
	}
}
