package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// gateScript suspends the workflow of a red request until it is annotated approved, and asks
// for a retry in 10 s for a green one, which its second attempt passes.
const gateScript = `set -eu
obj=/kratix/input/object.yaml
if grep -q 'color: red' $obj && ! grep -q 'approved: "true"' $obj; then
  printf 'suspend: true\nmessage: waiting for approval\n' > /kratix/metadata/workflow-control.yaml
elif grep -q 'color: green' $obj && ! grep -q 'attempts: 1' $obj; then
  printf 'retryAfter: 10s\nmessage: not ready yet\n' > /kratix/metadata/workflow-control.yaml
fi`

// pipelineStatus is status.kratix.workflows.pipelines[i] of a request.
func pipelineStatus(t *testing.T, obj *unstructured.Unstructured, i int) map[string]any {
	t.Helper()
	list, _, _ := unstructured.NestedSlice(obj.Object, "status", "kratix", "workflows", "pipelines")
	if i >= len(list) {
		t.Fatalf("status.kratix.workflows.pipelines has %d entries: %v", len(list), obj.Object["status"])
	}
	return list[i].(map[string]any)
}

// jobsOf counts the Jobs of one pipeline of a request's configure workflow.
func jobsOf(t *testing.T, promise, request, pipelineName string) int {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.InNamespace("default"), client.MatchingLabels{
		v1alpha1.LabelPromiseName: promise, v1alpha1.LabelResourceName: request, v1alpha1.LabelPipelineName: pipelineName,
		v1alpha1.LabelWorkflowAction: v1alpha1.WorkflowActionConfigure}); err != nil {
		t.Fatal(err)
	}
	return len(jobs.Items)
}

// A pipeline suspends its workflow through workflow-control.yaml: the request is labelled
// kratix.io/workflow-suspended, its conditions and kubectl columns say so with the pipeline's
// message, a Warning Event is recorded, and the next pipeline does not run; removing the label
// runs the suspending pipeline again. A pipeline that asks for a retry in 10 s runs again on its
// own, its attempts counted in status.kratix.workflows.
func TestWorkflowControl(t *testing.T) {
	startPlatform(t)
	promise, group := workflowPromise(t, renderScript)
	promise.Spec.Workflows.Resource.Configure = []v1alpha1.Pipeline{shPipeline("gate", gateScript), shPipeline("render", renderScript)}
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	t.Run("suspend", func(t *testing.T) {
		held := thing(group, uniqueName("held"))
		_ = unstructured.SetNestedField(held.Object, "red", "spec", "color")
		create(t, held)
		c := waitForRequest(t, held, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionFalse, v1alpha1.ReasonWorkflowSuspended)
		if !strings.Contains(c.Message, "waiting for approval") {
			t.Errorf("ConfigureWorkflowCompleted message %q, want the pipeline's", c.Message)
		}
		waitForRequest(t, held, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonWorkflowSuspended)
		if held.GetLabels()[v1alpha1.LabelWorkflowSuspended] != "true" {
			t.Errorf("labels %v, want %s=true", held.GetLabels(), v1alpha1.LabelWorkflowSuspended)
		}
		gate := pipelineStatus(t, held, 0)
		if gate["phase"] != v1alpha1.WorkflowPhaseSuspended || gate["message"] != "waiting for approval" {
			t.Errorf("status.kratix.workflows.pipelines[0] = %v, want Suspended with the message", gate)
		}
		out := kubectl(t, "get", "things."+group, held.GetName(), "-n", "default")
		if !strings.Contains(out, "suspended") || !strings.Contains(out, "False") {
			t.Errorf("kubectl get does not show the suspension:\n%s", out)
		}
		waitForEvent(t, "Thing", held.GetName(), "Warning", v1alpha1.ReasonWorkflowSuspended)
		time.Sleep(2 * time.Second)
		if n := jobsOf(t, promise.Name, held.GetName(), "render"); n != 0 {
			t.Fatalf("%d Jobs of the next pipeline ran while suspended", n)
		}

		// Approve, then resume by removing the label: the gate runs again and passes.
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"approved":"true"}}}`))
		if err := env.Client.Patch(t.Context(), held, patch); err != nil {
			t.Fatal(err)
		}
		if err := removeLabel(t.Context(), env.Client, held, v1alpha1.LabelWorkflowSuspended); err != nil {
			t.Fatal(err)
		}
		waitForRequest(t, held, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
		if n := jobsOf(t, promise.Name, held.GetName(), "gate"); n != 2 {
			t.Errorf("%d Jobs of the gate, want 2 (suspended, resumed)", n)
		}
		waitForEvent(t, "Thing", held.GetName(), "Normal", v1alpha1.ReasonWorkflowResumed)
		for i, want := range []string{"gate", "render"} {
			if p := pipelineStatus(t, held, i); p["name"] != want || p["phase"] != v1alpha1.WorkflowPhaseSucceeded || p["hash"] == nil {
				t.Errorf("pipelines[%d] = %v, want %s Succeeded with its hash", i, p, want)
			}
		}
	})

	t.Run("retry after 10s", func(t *testing.T) {
		later := thing(group, uniqueName("later"))
		_ = unstructured.SetNestedField(later.Object, "green", "spec", "color")
		create(t, later)
		c := waitForRequest(t, later, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionFalse, v1alpha1.ReasonWorkflowSuspended)
		if !strings.Contains(c.Message, "not ready yet") || !strings.Contains(c.Message, "retry at") {
			t.Errorf("ConfigureWorkflowCompleted message %q, want the pipeline's and the retry time", c.Message)
		}
		gate := pipelineStatus(t, later, 0)
		if gate["phase"] != v1alpha1.WorkflowPhaseSuspended || gate["nextRetryAt"] == nil || gate["attempts"] != int64(1) {
			t.Errorf("status.kratix.workflows.pipelines[0] = %v, want Suspended with nextRetryAt and 1 attempt", gate)
		}
		out := kubectl(t, "get", "things."+group, later.GetName(), "-n", "default")
		if !strings.Contains(out, "retry at") {
			t.Errorf("kubectl get does not show the retry:\n%s", out)
		}
		suspendedAt := time.Now()
		waitFor(t, "the gate's retry", func() error {
			if n := jobsOf(t, promise.Name, later.GetName(), "gate"); n != 2 {
				return fmt.Errorf("%d Jobs of the gate, want 2", n)
			}
			return nil
		})
		if waited := time.Since(suspendedAt); waited < 5*time.Second {
			t.Errorf("the retry ran after %s, want about 10s", waited)
		}
		waitForRequest(t, later, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
		if later.GetLabels()[v1alpha1.LabelWorkflowSuspended] != "" {
			t.Errorf("the label %s stayed after the retry", v1alpha1.LabelWorkflowSuspended)
		}
	})
}
