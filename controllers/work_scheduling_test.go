package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/scheduling"
)

// The seed's "Updates" scenario at the Work level: a Promise-level Work moved from dev to prod
// lands on prod, and its dev placement is kept, labelled misscheduled, with the old workload
// byte for byte, through later updates too.
func TestWorkPromiseLevelMisscheduling(t *testing.T) {
	startManager(t)
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	create(t, labelledDestination("dev", map[string]string{"environment": "dev"}))
	create(t, labelledDestination("prod", map[string]string{"environment": "prod"}))
	work := newWork(t, ns, "", rootGroup(t, map[string]string{"environment": "dev"}, namespaceManifest("foo")))
	createWork(t, work)
	devName, prodName := work.Name+".dev", work.Name+".prod"

	wps := waitForPlacements(t, work, "one placement on dev", func(wps []v1alpha1.WorkPlacement) error {
		if got := placementNames(wps); !slices.Equal(got, []string{devName}) {
			return fmt.Errorf("placements %v", got)
		}
		return nil
	})
	devSpec := wps[0].Spec
	if !equality.Semantic.DeepEqual(devSpec.Workloads, work.Spec.WorkloadGroups[0].Workloads) {
		t.Errorf("the dev placement's workloads are not the Work's: %+v", devSpec.Workloads)
	}
	if ref := metav1.GetControllerOf(&wps[0]); ref == nil || ref.UID != work.UID {
		t.Errorf("the dev placement is not controlled by the Work: %+v", wps[0].OwnerReferences)
	}
	waitForWorkCondition(t, work, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionTrue, v1alpha1.ReasonScheduled)
	waitForNamespacedEvent(t, ns, "Work", work.Name, corev1.EventTypeNormal, v1alpha1.ReasonScheduled, func(string) bool { return true })

	for _, next := range []string{"bar", "baz"} {
		update(t, work, func(w *v1alpha1.Work) {
			w.Spec.WorkloadGroups = []v1alpha1.WorkloadGroup{rootGroup(t, map[string]string{"environment": "prod"}, namespaceManifest(next))}
		})
		want := work.Spec.WorkloadGroups[0].Workloads
		wps = waitForPlacements(t, work, "prod placement with "+next+" and dev misscheduled", func(wps []v1alpha1.WorkPlacement) error {
			if got := placementNames(wps); !slices.Equal(got, []string{devName, prodName}) {
				return fmt.Errorf("placements %v", got)
			}
			if !wps[0].IsMisscheduled() || wps[0].Labels[v1alpha1.LabelMisplaced] != "true" {
				return fmt.Errorf("dev placement labels %v, want misscheduled and upstream's misplaced", wps[0].Labels)
			}
			if _, ok := wps[1].Labels[v1alpha1.LabelMisplaced]; ok {
				t.Errorf("the prod placement carries %s: %v", v1alpha1.LabelMisplaced, wps[1].Labels)
			}
			if !equality.Semantic.DeepEqual(wps[1].Spec.Workloads, want) {
				return fmt.Errorf("prod placement does not hold %s yet", next)
			}
			return nil
		})
		if wps[1].IsMisscheduled() {
			t.Errorf("the prod placement is misscheduled: %v", wps[1].Labels)
		}
		if !equality.Semantic.DeepEqual(wps[0].Spec, devSpec) {
			t.Errorf("after %s the dev placement's spec changed:\n got %+v\nwant %+v", next, wps[0].Spec, devSpec)
		}
		cond := waitForWorkCondition(t, work, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonMisscheduled)
		if !strings.Contains(cond.Message, devName+" on Destination dev") {
			t.Errorf("the condition does not name the misscheduled placement and its Destination: %q", cond.Message)
		}
	}
	waitForNamespacedEvent(t, ns, "Work", work.Name, corev1.EventTypeWarning, v1alpha1.ReasonMisscheduled, func(note string) bool {
		return strings.Contains(note, "WorkPlacement "+devName) && strings.Contains(note, "Destination dev")
	})
}

// A resource-level Work goes to exactly one of the matching Destinations and stays there when a
// Destination that would score higher appears; its Ready condition rolls up its placement's.
func TestWorkResourceLevelPlacementIsKept(t *testing.T) {
	startManager(t)
	ns := metav1.NamespaceDefault
	selector := map[string]string{"tier": uniqueName("gold")}
	a := labelledDestination(uniqueName("dest"), selector)
	b := labelledDestination(uniqueName("dest"), selector)
	create(t, a)
	create(t, b)
	work := newWork(t, ns, "my-request", rootGroup(t, selector, namespaceManifest("foo")))
	createWork(t, work)

	wps := waitForPlacements(t, work, "one placement", func(wps []v1alpha1.WorkPlacement) error {
		if len(wps) != 1 {
			return fmt.Errorf("placements %v", placementNames(wps))
		}
		return nil
	})
	chosen := wps[0].Spec.TargetDestinationName
	if chosen != a.Name && chosen != b.Name {
		t.Fatalf("placed on %q, not one of the matching Destinations", chosen)
	}
	cond := waitForWorkCondition(t, work, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending)
	if cond.Message != "0 of 1 placements written" {
		t.Errorf("Ready message %q", cond.Message)
	}
	if work.Status.WorkPlacements != 1 || work.Status.WorkPlacementsCreated != 1 {
		t.Errorf("status counts %d/%d, want 1/1", work.Status.WorkPlacementsCreated, work.Status.WorkPlacements)
	}

	// A third Destination that rendezvous hashing prefers to the chosen one.
	group := work.Spec.WorkloadGroups[0].ID
	best := scheduling.PlacementScore(ns, work.Name, group, chosen)
	var third *v1alpha1.Destination
	for third == nil {
		name := uniqueName("dest")
		if scheduling.PlacementScore(ns, work.Name, group, name) > best {
			third = labelledDestination(name, selector)
		}
	}
	create(t, third)
	// The Destination controller's finalizer shows that the manager's cache has the Destination.
	waitFor(t, "the manager sees the third Destination", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(third), third); err != nil {
			return err
		}
		if len(third.Finalizers) == 0 {
			return fmt.Errorf("no finalizer yet")
		}
		return nil
	})
	update(t, work, func(w *v1alpha1.Work) {
		w.Spec.WorkloadGroups = []v1alpha1.WorkloadGroup{rootGroup(t, selector, namespaceManifest("bar"))}
	})
	want := work.Spec.WorkloadGroups[0].Workloads
	wps = waitForPlacements(t, work, "the placement holds bar", func(wps []v1alpha1.WorkPlacement) error {
		if len(wps) != 1 || !equality.Semantic.DeepEqual(wps[0].Spec.Workloads, want) {
			return fmt.Errorf("placements %v", placementNames(wps))
		}
		return nil
	})
	if got := wps[0].Spec.TargetDestinationName; got != chosen {
		t.Errorf("the placement moved from %s to %s", chosen, got)
	}

	markPlacementReady(t, &wps[0])
	cond = waitForWorkCondition(t, work, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllPlacementsReady)
	if cond.Message != "1 of 1 placements written" {
		t.Errorf("Ready message %q", cond.Message)
	}
	if work.Status.ObservedGeneration != work.Generation {
		t.Errorf("observedGeneration %d, generation %d", work.Status.ObservedGeneration, work.Generation)
	}
}

// A Work that no Destination matches says so, and is scheduled as soon as a matching Destination
// is created.
func TestWorkScheduledWhenAMatchingDestinationAppears(t *testing.T) {
	startManager(t)
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	selector := map[string]string{"zone": uniqueName("nowhere")}
	work := newWork(t, ns, "", rootGroup(t, selector, namespaceManifest("foo")))
	createWork(t, work)

	cond := waitForWorkCondition(t, work, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonNoMatchingDestination)
	if want := work.Spec.WorkloadGroups[0].ID + " (zone=" + selector["zone"] + ")"; !strings.Contains(cond.Message, want) {
		t.Errorf("the message does not name the group and its selector %q: %q", want, cond.Message)
	}
	waitForWorkCondition(t, work, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending)
	waitForNamespacedEvent(t, ns, "Work", work.Name, corev1.EventTypeWarning, v1alpha1.ReasonNoMatchingDestination, func(string) bool { return true })
	if wps := listPlacements(t, work); len(wps) != 0 {
		t.Errorf("placements without a Destination: %v", placementNames(wps))
	}

	dest := labelledDestination(uniqueName("dest"), selector)
	create(t, dest)
	waitForWorkCondition(t, work, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionTrue, v1alpha1.ReasonScheduled)
	waitForPlacements(t, work, "a placement on the new Destination", func(wps []v1alpha1.WorkPlacement) error {
		if got := placementNames(wps); !slices.Equal(got, []string{work.Name + "." + dest.Name}) {
			return fmt.Errorf("placements %v", got)
		}
		return nil
	})
}

// Deleting a Work deletes its placements, except the misscheduled ones, which stay (no longer
// owned by the Work) until the platform team deletes them.
func TestWorkDeletionKeepsMisscheduledPlacements(t *testing.T) {
	startManager(t)
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	key := uniqueName("site")
	old := labelledDestination(uniqueName("dest"), map[string]string{key: "old"})
	current := labelledDestination(uniqueName("dest"), map[string]string{key: "new"})
	create(t, old)
	create(t, current)
	work := newWork(t, ns, "", rootGroup(t, map[string]string{key: "old"}, namespaceManifest("foo")))
	createWork(t, work)
	oldName, currentName := work.Name+"."+old.Name, work.Name+"."+current.Name
	waitForPlacements(t, work, "a placement on the old Destination", func(wps []v1alpha1.WorkPlacement) error {
		if got := placementNames(wps); !slices.Equal(got, []string{oldName}) {
			return fmt.Errorf("placements %v", got)
		}
		return nil
	})
	update(t, work, func(w *v1alpha1.Work) {
		w.Spec.WorkloadGroups = []v1alpha1.WorkloadGroup{rootGroup(t, map[string]string{key: "new"}, namespaceManifest("bar"))}
	})
	waitForPlacements(t, work, "the old placement misscheduled and a new one", func(wps []v1alpha1.WorkPlacement) error {
		want := []string{oldName, currentName}
		slices.Sort(want)
		if got := placementNames(wps); !slices.Equal(got, want) {
			return fmt.Errorf("placements %v", got)
		}
		for _, wp := range wps {
			if wp.IsMisscheduled() != (wp.Name == oldName) {
				return fmt.Errorf("placement %s labels %v", wp.Name, wp.Labels)
			}
		}
		return nil
	})

	deleteAndWait(t, work)
	wps := listPlacements(t, work)
	if got := placementNames(wps); !slices.Equal(got, []string{oldName}) {
		t.Fatalf("placements after the Work was deleted: %v, want only %s", got, oldName)
	}
	if !wps[0].IsMisscheduled() || len(wps[0].OwnerReferences) != 0 {
		t.Errorf("the kept placement: labels %v, owners %v", wps[0].Labels, wps[0].OwnerReferences)
	}
}

// TestPlacementNamesThatCollideAreBothPlaced: Destination names may hold "-", so the placement
// of one workload group, "<work>.<destination>-<id>", can have the name of another's,
// "<work>.<destination>". Both groups are placed, each on its Destination, and the Work counts
// what exists.
func TestPlacementNamesThatCollideAreBothPlaced(t *testing.T) {
	startManager(t)
	ns := uniqueName("collide")
	ensureNamespace(t, ns)
	work := newWork(t, ns, "my-request", rootGroup(t, map[string]string{"collide": uniqueName("root")}, namespaceManifest("root")))
	sub := rootGroup(t, map[string]string{"collide": uniqueName("sub")}, namespaceManifest("sub"))
	sub.Directory, sub.ID = "sub", scheduling.GroupID("sub")
	// A directory group ignores the Promise's selectors; its own come from the workflow.
	sub.DestinationSelectors[0].Source = v1alpha1.SelectorSourceResourceWorkflow
	work.Spec.WorkloadGroups = append(work.Spec.WorkloadGroups, sub)

	subDest := uniqueName("d")
	// The root group's Destination is named so that its placement's name is the sub group's.
	rootDest := strings.TrimPrefix(scheduling.PlacementName(work.Name, subDest, sub.ID), work.Name+".")
	if scheduling.PlacementName(work.Name, rootDest, work.Spec.WorkloadGroups[0].ID) != scheduling.PlacementName(work.Name, subDest, sub.ID) {
		t.Fatal("the test's Destination names do not make the placement names collide")
	}
	create(t, labelledDestination(rootDest, work.Spec.WorkloadGroups[0].DestinationSelectors[0].MatchLabels))
	create(t, labelledDestination(subDest, sub.DestinationSelectors[0].MatchLabels))
	createWork(t, work)

	waitForPlacements(t, work, "a placement of each group on its Destination", func(wps []v1alpha1.WorkPlacement) error {
		got := map[string]string{}
		for _, wp := range wps {
			got[wp.Spec.ID] = wp.Spec.TargetDestinationName
		}
		if got[work.Spec.WorkloadGroups[0].ID] != rootDest || got[sub.ID] != subDest || len(wps) != 2 {
			return fmt.Errorf("placements %v: groups on %v", placementNames(wps), got)
		}
		return nil
	})
	waitFor(t, "the Work counts both placements", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(work), work); err != nil {
			return err
		}
		if work.Status.WorkPlacements != 2 || work.Status.WorkPlacementsCreated != 2 {
			return fmt.Errorf("%d of %d created", work.Status.WorkPlacementsCreated, work.Status.WorkPlacements)
		}
		return nil
	})
}
