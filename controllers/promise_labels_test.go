package controllers

import (
	"fmt"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// runsOf counts the finished Resource Configure runs of a request: its completed Jobs.
func runsOf(t *testing.T, promise string, r *unstructured.Unstructured) int {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.InNamespace(r.GetNamespace()), client.MatchingLabels{
		v1alpha1.LabelPromiseName: promise, v1alpha1.LabelResourceName: r.GetName(),
		v1alpha1.LabelWorkflowAction: v1alpha1.WorkflowActionConfigure,
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs.Items {
		if j.Status.Succeeded > 0 {
			n++
		}
	}
	return n
}

// waitForRuns waits until the request has n finished runs and no trigger label left.
func waitForRuns(t *testing.T, promise string, r *unstructured.Unstructured, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to have run %d times", r.GetName(), n), func() error {
		if got := runsOf(t, promise, r); got != n {
			return fmt.Errorf("%d runs", got)
		}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(r), r); err != nil {
			return err
		}
		if _, ok := r.GetLabels()[v1alpha1.LabelManualReconciliation]; ok {
			return fmt.Errorf("the label %s is still there", v1alpha1.LabelManualReconciliation)
		}
		return nil
	})
}

// kratix.io/manual-reconciliation re-runs one request; kratix.io/reconcile-resources on the
// Promise re-runs every request; kratix.io/paused stops the engine acting on a request until the
// label goes. Each trigger label is removed once acted on.
func TestTriggerLabels(t *testing.T) {
	startPlatform(t)
	f := newGitFixture(t)
	exampleStore(t, f, "updates/destinations.yaml")
	promise, group := workflowPromise(t, renderScript)
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	one, two := thing(group, "one"), thing(group, "two")
	create(t, one)
	create(t, two)
	for _, r := range []*unstructured.Unstructured{one, two} {
		waitForRequest(t, r, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
		waitForRuns(t, promise.Name, r, 1)
	}

	labelled := func(r *unstructured.Unstructured, key string) {
		t.Helper()
		patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, key)))
		if err := env.Client.Patch(t.Context(), r, patch); err != nil {
			t.Fatal(err)
		}
	}
	labelled(one, v1alpha1.LabelManualReconciliation)
	waitForRuns(t, promise.Name, one, 2)
	if got := runsOf(t, promise.Name, two); got != 1 {
		t.Errorf("%s ran %d times; only %s was asked to", two.GetName(), got, one.GetName())
	}

	if err := env.Client.Patch(t.Context(), promise, client.RawPatch("application/merge-patch+json",
		[]byte(fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, v1alpha1.LabelReconcileResources)))); err != nil {
		t.Fatal(err)
	}
	waitForRuns(t, promise.Name, one, 3)
	waitForRuns(t, promise.Name, two, 2)
	waitFor(t, "the Promise's trigger label to go", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(promise), promise); err != nil {
			return err
		}
		if _, ok := promise.Labels[v1alpha1.LabelReconcileResources]; ok {
			return fmt.Errorf("still there")
		}
		return nil
	})

	labelled(two, v1alpha1.LabelPaused)
	waitForRequest(t, two, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonPaused)
	update(t, two, func(r *unstructured.Unstructured) {
		if err := unstructured.SetNestedField(r.Object, "red", "spec", "color"); err != nil {
			t.Fatal(err)
		}
	})
	labelled(one, v1alpha1.LabelManualReconciliation)
	waitForRuns(t, promise.Name, one, 4)
	if got := runsOf(t, promise.Name, two); got != 2 {
		t.Errorf("the paused request ran: %d runs", got)
	}
	patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, v1alpha1.LabelPaused)))
	if err := env.Client.Patch(t.Context(), two, patch); err != nil {
		t.Fatal(err)
	}
	waitForRuns(t, promise.Name, two, 3)
	waitForRequest(t, two, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
}
