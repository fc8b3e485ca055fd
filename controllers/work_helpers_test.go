package controllers

import (
	"context"
	"fmt"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/scheduling"
)

// ensureNamespace creates the namespace unless it exists. It is left in place: envtest has no
// namespace controller to finish deleting it.
func ensureNamespace(t testing.TB, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// labelledDestination returns a Destination (not created) named name with the labels, on a store
// that does not exist: scheduling does not depend on the Destination being ready.
func labelledDestination(name string, labels map[string]string) *v1alpha1.Destination {
	return &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: v1alpha1.DestinationSpec{
			StateStoreRef: v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: "work-tests-no-store"},
			Path:          name,
		},
	}
}

// namespaceManifest is the YAML of a Namespace.
func namespaceManifest(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
}

// rootGroup is a root workload group selecting selector with one file holding manifest.
func rootGroup(t *testing.T, selector map[string]string, manifest string) v1alpha1.WorkloadGroup {
	t.Helper()
	content, err := v1alpha1.EncodeContent([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	return v1alpha1.WorkloadGroup{
		ID:        scheduling.GroupID(v1alpha1.RootDirectory),
		Directory: v1alpha1.RootDirectory,
		Workloads: []v1alpha1.Workload{{Filepath: "manifest.yaml", Content: content}},
		DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
			{MatchLabels: selector, Source: v1alpha1.SelectorSourcePromise},
		},
	}
}

// newWork returns a Work (not created) with one root group; resourceName empty makes it
// Promise-level, which belongs in the platform namespace. A resource Work is for a request in
// the Work's namespace, as the work-writer writes it.
func newWork(t *testing.T, namespace, resourceName string, group v1alpha1.WorkloadGroup) *v1alpha1.Work {
	t.Helper()
	work := &v1alpha1.Work{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("work"), Namespace: namespace},
		Spec: v1alpha1.WorkSpec{
			PromiseName:    "namespace",
			ResourceName:   resourceName,
			WorkloadGroups: []v1alpha1.WorkloadGroup{group},
		},
	}
	if resourceName != "" {
		work.Spec.ResourceNamespace = namespace
	}
	return work
}

// createWork creates the Work, deleting it when the test ends, and deletes whatever placements
// of it are left after that (misscheduled ones outlive their Work).
func createWork(t *testing.T, work *v1alpha1.Work) {
	t.Helper()
	t.Cleanup(func() {
		for _, wp := range listPlacements(t, work) {
			deleteAndWait(t, &wp)
		}
	})
	create(t, work)
}

// update changes an object, re-reading it and retrying on conflicts with the controllers.
func update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return env.Client.Update(t.Context(), obj)
	})
	if err != nil {
		t.Fatalf("update %s: %v", describeObject(obj), err)
	}
}

// listPlacements lists the Work's WorkPlacements from the API server, sorted by name.
func listPlacements(t *testing.T, work *v1alpha1.Work) []v1alpha1.WorkPlacement {
	t.Helper()
	var list v1alpha1.WorkPlacementList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(work.Namespace),
		client.MatchingLabels{v1alpha1.LabelWork: work.Name}); err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// placementNames are the names of the placements.
func placementNames(wps []v1alpha1.WorkPlacement) []string {
	out := make([]string, 0, len(wps))
	for _, wp := range wps {
		out = append(out, wp.Name)
	}
	return out
}

// waitForPlacements waits until the Work's placements satisfy check, and returns them.
func waitForPlacements(t *testing.T, work *v1alpha1.Work, what string, check func([]v1alpha1.WorkPlacement) error) []v1alpha1.WorkPlacement {
	t.Helper()
	var got []v1alpha1.WorkPlacement
	waitFor(t, what, func() error {
		got = listPlacements(t, work)
		return check(got)
	})
	return got
}

// waitForWorkCondition waits until the Work's condition has the status and reason, and returns
// it; the latest Work is left in work.
func waitForWorkCondition(t *testing.T, work *v1alpha1.Work, condType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	waitFor(t, fmt.Sprintf("Work %s %s=%s %s", work.Name, condType, status, reason), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(work), work); err != nil {
			return err
		}
		c := meta.FindStatusCondition(work.Status.Conditions, condType)
		if c == nil {
			return fmt.Errorf("no %s condition", condType)
		}
		if c.Status != status || c.Reason != reason {
			return fmt.Errorf("%s=%s %s: %s", condType, c.Status, c.Reason, c.Message)
		}
		got = *c
		return nil
	})
	return got
}

// markPlacementReady sets the placement's Ready condition to True through the status
// subresource, as the WorkPlacement controller does after a write.
func markPlacementReady(t *testing.T, wp *v1alpha1.WorkPlacement) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(wp), wp); err != nil {
			return err
		}
		meta.SetStatusCondition(&wp.Status.Conditions, metav1.Condition{
			Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonWriteSucceeded,
			Message: "written by the test", ObservedGeneration: wp.Generation,
		})
		return env.Client.Status().Update(t.Context(), wp)
	})
	if err != nil {
		t.Fatalf("mark WorkPlacement %s ready: %v", wp.Name, err)
	}
}

// waitForNamespacedEvent waits for an Event with the type and reason about a namespaced object
// whose note satisfies match, and returns it.
func waitForNamespacedEvent(t *testing.T, namespace, kind, name, eventType, reason string, match func(note string) bool) eventsv1.Event {
	t.Helper()
	var got eventsv1.Event
	waitFor(t, fmt.Sprintf("a %s Event %s on %s %s", eventType, reason, kind, name), func() error {
		var list eventsv1.EventList
		if err := env.Client.List(t.Context(), &list, client.InNamespace(namespace)); err != nil {
			return err
		}
		var seen []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Kind != kind || e.Regarding.Name != name {
				continue
			}
			seen = append(seen, e)
			if e.Type == eventType && e.Reason == reason && match(e.Note) {
				got = e
				return nil
			}
		}
		return fmt.Errorf("events so far: %v", describeEvents(seen))
	})
	return got
}
