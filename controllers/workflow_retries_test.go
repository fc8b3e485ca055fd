package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// failUntilFixed fails until the request is annotated fixed, a change that does not touch its
// spec and so starts no run by itself.
const failUntilFixed = `set -eu
grep -q 'fixed: "true"' /kratix/input/object.yaml || { echo 'not fixed yet' >&2; exit 1; }
` + renderScript

// With --reconcile-after-failure (Options.ReconcileAfterFailure), a failed configure workflow
// runs again from its start on its own once the failure is as old as the reconciliation
// interval: nothing changed its spec and nobody asked for a run, yet it runs again and, the
// cause of the failure gone meanwhile, completes.
func TestReconcileAfterFailure(t *testing.T) {
	// Long enough for a run to finish before the interval brings the next (a pipeline takes a
	// few seconds on the local runner), short enough for the test's waits.
	const interval = 12 * time.Second
	startPlatformWith(t, Options{DefaultMaxConcurrentReconciles: 2, ResourceResyncInterval: interval, ReconcileAfterFailure: true})
	promise, group := workflowPromise(t, failUntilFixed)
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	req := thing(group, uniqueName("flaky"))
	create(t, req)
	waitForRequest(t, req, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed)
	if n := jobsOf(t, promise.Name, req.GetName(), "render"); n != 1 {
		t.Fatalf("%d Jobs after the failure, want 1", n)
	}
	// Not a spec change: only the retry after the failure can run the workflow again.
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"fixed":"true"}}}`))
	if err := env.Client.Patch(t.Context(), req, patch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed workflow runs again on its own", func() error {
		if n := jobsOf(t, promise.Name, req.GetName(), "render"); n < 2 {
			return fmt.Errorf("%d Jobs of the pipeline, want a second one", n)
		}
		return nil
	})
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.InNamespace("default"), client.MatchingLabels{
		v1alpha1.LabelPromiseName: promise.Name, v1alpha1.LabelResourceName: req.GetName(), v1alpha1.LabelPipelineName: "render"}); err != nil {
		t.Fatal(err)
	}
	created := make([]time.Time, 0, len(jobs.Items))
	for _, j := range jobs.Items {
		created = append(created, j.CreationTimestamp.Time)
	}
	slices.SortFunc(created, time.Time.Compare)
	if len(created) < 2 || created[1].Sub(created[0]) < interval-time.Second {
		t.Errorf("Jobs created at %v: the second should come the interval (%s) after the first", created, interval)
	}
	waitForRequest(t, req, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
	waitForNamespacedEvent(t, "default", "Thing", req.GetName(), corev1.EventTypeNormal, v1alpha1.ReasonPipelinesInProgress,
		func(note string) bool { return strings.Contains(note, "RetryAfterFailure") })
}

// promiseGateScript suspends the Promise's configure workflow until the Promise is annotated
// approved.
const promiseGateScript = `set -eu
# The Promise's object holds this script: the split quotes keep it from matching itself.
if ! grep -q 'appro''ved-by: platform' /kratix/input/object.yaml; then
  printf 'suspend: true\nmessage: waiting for the platform team\n' > /kratix/metadata/workflow-control.yaml
fi`

// promiseJobs counts the Jobs of one pipeline of a Promise's configure workflow.
func promiseJobs(t *testing.T, promise, pipelineName string) int {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.InNamespace(v1alpha1.DefaultPlatformNS), client.MatchingLabels{
		v1alpha1.LabelPromiseName: promise, v1alpha1.LabelPipelineName: pipelineName,
		v1alpha1.LabelWorkflowType: v1alpha1.WorkflowTypePromise, v1alpha1.LabelWorkflowAction: v1alpha1.WorkflowActionConfigure}); err != nil {
		t.Fatal(err)
	}
	return len(jobs.Items)
}

// A Promise's configure pipeline suspends the Promise's workflow: the Promise is labelled
// kratix.io/workflow-suspended, its conditions, kubectl column and Events say so, the next
// pipeline does not run; removing the label runs the suspending pipeline again, and the rest.
func TestPromiseWorkflowSuspendedAndResumed(t *testing.T) {
	startPlatform(t)
	promise, _ := workflowPromise(t, renderScript)
	promise.Spec.Workflows.Promise.Configure = []v1alpha1.Pipeline{shPipeline("gate", promiseGateScript), shPipeline("after", "echo after the gate")}
	create(t, promise)

	c := waitForPromise(t, promise, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionFalse, v1alpha1.ReasonWorkflowSuspended)
	if !strings.Contains(c.Message, "waiting for the platform team") {
		t.Errorf("ConfigureWorkflowCompleted message %q, want the pipeline's", c.Message)
	}
	waitForPromise(t, promise, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonWorkflowSuspended)
	waitFor(t, "the Promise is labelled suspended", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(promise), promise); err != nil {
			return err
		}
		if promise.Labels[v1alpha1.LabelWorkflowSuspended] != "true" {
			return fmt.Errorf("labels %v", promise.Labels)
		}
		return nil
	})
	if ws := promise.Status.Kratix; ws == nil || len(ws.Workflows.Pipelines) != 2 || ws.Workflows.Pipelines[0].Phase != v1alpha1.WorkflowPhaseSuspended ||
		ws.Workflows.Pipelines[1].Phase != v1alpha1.WorkflowPhasePending {
		t.Errorf("status.kratix = %+v, want gate Suspended and after Pending", ws)
	}
	if out := kubectl(t, "get", "promise", promise.Name); !strings.Contains(out, "waiting for the platform team") {
		t.Errorf("kubectl get promise does not show the suspension:\n%s", out)
	}
	waitForEvent(t, "Promise", promise.Name, corev1.EventTypeWarning, v1alpha1.ReasonWorkflowSuspended)
	time.Sleep(2 * time.Second)
	if n := promiseJobs(t, promise.Name, "after"); n != 0 {
		t.Fatalf("%d Jobs of the next pipeline ran while suspended", n)
	}

	// Approve (no spec change), then resume by removing the label.
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"approved-by":"platform"}}}`))
	if err := env.Client.Patch(t.Context(), promise, patch); err != nil {
		t.Fatal(err)
	}
	if err := removeLabel(t.Context(), env.Client, promise, v1alpha1.LabelWorkflowSuspended); err != nil {
		t.Fatal(err)
	}
	waitForPromise(t, promise, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
	if n := promiseJobs(t, promise.Name, "gate"); n != 2 {
		t.Errorf("%d Jobs of the gate, want 2 (suspended, resumed)", n)
	}
	if n := promiseJobs(t, promise.Name, "after"); n != 1 {
		t.Errorf("%d Jobs of the next pipeline, want 1", n)
	}
	waitForEvent(t, "Promise", promise.Name, corev1.EventTypeNormal, v1alpha1.ReasonWorkflowResumed)
	if promise.Labels[v1alpha1.LabelWorkflowSuspended] != "" {
		t.Errorf("the label %s stayed after resuming", v1alpha1.LabelWorkflowSuspended)
	}
}

// retryDeleteScript asks for a retry in 5s on its first attempt, and completes on the second.
const retryDeleteScript = `set -eu
if ! grep -q 'attempts: 1' /kratix/input/object.yaml; then
  printf 'retryAfter: 5s\nmessage: the database still has connections\n' > /kratix/metadata/workflow-control.yaml
fi`

// A resource delete pipeline that asks for a retry keeps the request: its deletion waits,
// with a DeleteWorkflowSuspended Event and the reason in its Ready condition, until the
// pipeline runs again after the duration and completes; then the request goes.
func TestResourceDeleteWorkflowRetry(t *testing.T) {
	startPlatform(t)
	promise, group := workflowPromise(t, renderScript)
	promise.Spec.Workflows.Resource.Delete = []v1alpha1.Pipeline{shPipeline("drain", retryDeleteScript)}
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	req := thing(group, uniqueName("db"))
	create(t, req)
	waitForRequest(t, req, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)

	if err := env.Client.Delete(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	ev := waitForNamespacedEvent(t, "default", "Thing", req.GetName(), corev1.EventTypeWarning, v1alpha1.ReasonDeleteWorkflowSuspended,
		func(string) bool { return true })
	if !strings.Contains(ev.Note, "the database still has connections") {
		t.Errorf("Event note %q, want the pipeline's message", ev.Note)
	}
	waitFor(t, "the request's Ready condition names the suspended delete workflow", func() error {
		c := waitForRequest(t, req, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonReconciling)
		if !strings.Contains(c.Message, "Resource Delete workflow is suspended") || !strings.Contains(c.Message, "retry at") {
			return fmt.Errorf("Ready message %q", c.Message)
		}
		return nil
	})
	if len(req.GetFinalizers()) == 0 {
		t.Errorf("the request has no finalizer left while its delete workflow waits")
	}
	var gone time.Time
	waitFor(t, "the request is gone after the retry", func() error {
		err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(req), &unstructured.Unstructured{Object: map[string]any{"apiVersion": req.GetAPIVersion(), "kind": req.GetKind()}})
		if apierrors.IsNotFound(err) {
			gone = time.Now()
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("still there")
	})
	if waited := gone.Sub(deleted); waited < 4*time.Second {
		t.Errorf("the request was gone %s after its deletion, want the retry's 5s at least", waited)
	}
	waitForNamespacedEvent(t, "default", "Thing", req.GetName(), corev1.EventTypeNormal, v1alpha1.ReasonWorkflowResumed,
		func(note string) bool { return strings.Contains(note, "Resource Delete") })
}
