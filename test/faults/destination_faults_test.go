package faults

import (
	"fmt"
	"sort"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// doomedPath is the directory of the Destination that scenario (g) deletes.
const doomedPath = "doomed"

// testDestinationDeleted puts Works in flight for two Destinations on one store, N for one and
// N/2 for the other, and deletes the other, with the cleanup policy given, while its placements
// are still being written. The deletion must complete (no Destination or placement stuck Terminating), and the
// files must be as the policy says:
//
//   - none (the default): the Destination's files stay where they are (api/v1alpha1:
//     "DestinationCleanupNone leaves the files in the state store"); its placements stay,
//     frozen, labelled misscheduled, as for any Destination that stops matching (README), and
//     deleting them, as the platform team would, removes nothing either, since their Destination
//     is gone;
//   - all: the Destination's placements are deleted and its directory is removed from the store.
//
// The other Destination's placements are the scenario's N: none of their writes may be lost.
func testDestinationDeleted(t *testing.T, cleanup string) {
	s := newScenario(t, "(g) destination deleted, cleanup "+cleanup, rigOptions{})
	r := s.r
	doomedLabels := map[string]string{"faults": uniqueName("doomed")}
	doomed := r.newDestination(t, doomedPath, doomedLabels, cleanup)
	doomedNS := uniqueName("doomed")
	ensureNamespace(t, doomedNS)
	// Registered before the other Works' cleanup, so it runs after it.
	t.Cleanup(func() { r.deleteWorks(t, doomedNS) })
	doomedFiles, doomedContent := map[string]string{}, map[string][]byte{}
	doomedN := max(1, s.res.n/2)
	// One of the doomed Destination's Works after every two of the other's, so that both are
	// being written when the fault comes.
	s.putWorks(t, 0)
	for i := range s.res.n {
		s.r.addWorks(t, 1)
		if i%2 == 0 && i/2 < doomedN {
			r.createWorks(t, doomedNS, doomed, doomedLabels, i/2, 1, doomedFiles, doomedContent)
		}
	}

	// The fault: the Destination goes once a quarter of its placements are written.
	var doomedWritten int
	eventually(t, "a quarter of the doomed Destination's placements written", convergeTimeout, func() error {
		wps, err := placementsIn(t.Context(), doomedNS)
		if err != nil {
			return err
		}
		doomedWritten = 0
		for _, wp := range wps {
			if placementReady(wp) {
				doomedWritten++
			}
		}
		if doomedWritten < max(1, doomedN/4) {
			return fmt.Errorf("%d of %d written", doomedWritten, doomedN)
		}
		return nil
	})
	wps, err := r.placementsOf(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for _, wp := range wps {
		if placementReady(wp) {
			written++
		}
	}
	s.faultBegins(t, written)
	if err := env.Client.Delete(t.Context(), doomed); err != nil {
		t.Fatalf("delete the Destination: %v", err)
	}
	t.Logf("deleted Destination %s (cleanup %s) with %d of its %d placements written", doomed.Name, cleanup, doomedWritten, doomedN)
	eventually(t, "the Destination is gone", setupTimeout, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(doomed), &v1alpha1.Destination{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("still there")
	})
	gone := time.Now()
	t.Logf("the Destination was gone %.1fs after its deletion", gone.Sub(s.faultBegan).Seconds())

	if cleanup == v1alpha1.DestinationCleanupAll {
		waitPlacementsGone(t, "the Destination's placements are gone", doomedNS)
		eventually(t, "the Destination's directory is gone from main", setupTimeout, func() error {
			snap, err := r.take(t.Context())
			if err != nil {
				return err
			}
			if left := filesUnder(snap, doomedPath); len(left) > 0 {
				return fmt.Errorf("%d files left, e.g. %s", len(left), left[0])
			}
			return nil
		})
	} else {
		checkCleanupNone(t, s, doomedNS, doomedFiles, doomedContent)
	}
	s.converge(t, gone)
}

// checkCleanupNone checks what a Destination deleted with cleanup none leaves: its placements,
// none Terminating, each labelled misscheduled; its canary files and the file of every placement
// that wrote, with the placement's content. Then it deletes the placements, as the platform team
// would, and checks that they go and that the files stay.
func checkCleanupNone(t *testing.T, s *scenario, doomedNS string, files map[string]string, contents map[string][]byte) {
	t.Helper()
	r := s.r
	var kept map[string]v1alpha1.WorkPlacement
	eventually(t, "the Destination's placements are misscheduled", setupTimeout, func() error {
		var err error
		if kept, err = placementsIn(t.Context(), doomedNS); err != nil {
			return err
		}
		var wrong []string
		for _, wp := range kept {
			if !wp.DeletionTimestamp.IsZero() || !wp.IsMisscheduled() {
				wrong = append(wrong, describe(wp))
			}
		}
		sort.Strings(wrong)
		if len(wrong) > 0 {
			return fmt.Errorf("%d placements Terminating or not misscheduled, e.g. %s", len(wrong), wrong[0])
		}
		return nil
	})
	canaries, err := statestore.CanaryFiles(doomedPath)
	if err != nil {
		t.Fatal(err)
	}
	// The files that must stay: every placement's that wrote, and the canaries.
	want := map[string]string{}
	for _, c := range canaries {
		want[c.Path] = r.contentID(c.Content)
	}
	for name, wp := range kept {
		if wp.Status.VersionID != "" {
			want[files[name]] = r.contentID(contents[name])
		}
	}
	t.Logf("%d placements of the deleted Destination stay, misscheduled; %d of them wrote", len(kept), len(want)-len(canaries))
	checkFiles := func(when string) {
		t.Helper()
		snap, err := r.take(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for file, id := range want {
			if snap.files[file] != id {
				missing = append(missing, file)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s, %d files of the deleted Destination are not on main as written, e.g. %s", when, len(missing), missing[0])
		}
	}
	checkFiles("once the Destination is gone")

	if err := env.Client.DeleteAllOf(t.Context(), &v1alpha1.WorkPlacement{}, client.InNamespace(doomedNS)); err != nil {
		t.Fatalf("delete the misscheduled placements: %v", err)
	}
	waitPlacementsGone(t, "the misscheduled placements are gone", doomedNS)
	checkFiles("once its placements are deleted")
}

// describePlacements describes the placements, sorted by name: name, finalizers, Terminating,
// misscheduled.
func describePlacements(wps map[string]v1alpha1.WorkPlacement) []string {
	out := make([]string, 0, len(wps))
	for _, wp := range wps {
		out = append(out, describe(wp))
	}
	sort.Strings(out)
	return out
}

// describe describes a placement: its name, finalizers, whether it is Terminating or misscheduled.
func describe(wp v1alpha1.WorkPlacement) string {
	desc := fmt.Sprintf("%s finalizers %v", wp.Name, wp.Finalizers)
	if !wp.DeletionTimestamp.IsZero() {
		desc += " (Terminating)"
	}
	if wp.IsMisscheduled() {
		desc += " (misscheduled)"
	}
	return desc
}

// filesUnder lists the snapshot's files under dir, sorted.
func filesUnder(s *snapshot, dir string) []string {
	var out []string
	for f := range s.files {
		if statestore.IsWithin(dir, f) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// waitPlacementsGone waits until the namespace holds no WorkPlacement.
func waitPlacementsGone(t *testing.T, what, namespace string) {
	t.Helper()
	eventually(t, what, setupTimeout, func() error {
		wps, err := placementsIn(t.Context(), namespace)
		if err != nil {
			return err
		}
		if len(wps) > 0 {
			return fmt.Errorf("%d placements left, e.g. %s", len(wps), describePlacements(wps)[0])
		}
		return nil
	})
}
