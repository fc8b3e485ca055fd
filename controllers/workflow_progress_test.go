package controllers

import (
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// The progress recorded in status.kratix.workflows outlives the Jobs: deleting a finished
// request's Jobs runs nothing again. Renaming a pipeline runs the workflow again and prunes
// the Jobs of the old name.
func TestWorkflowProgressOutlivesJobs(t *testing.T) {
	startPlatform(t)
	promise, group := workflowPromise(t, renderScript)
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	request := thing(group, uniqueName("kept"))
	create(t, request)
	waitForRequest(t, request, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
	if p := pipelineStatus(t, request, 0); p["phase"] != v1alpha1.WorkflowPhaseSucceeded || p["hash"] == nil || p["run"] != int64(1) {
		t.Fatalf("pipelines[0] = %v, want render Succeeded with its hash in run 1", p)
	}

	if err := env.Client.DeleteAllOf(t.Context(), &batchv1.Job{}, client.InNamespace("default"), client.PropagationPolicy("Background"),
		client.MatchingLabels{v1alpha1.LabelResourceName: request.GetName()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Jobs gone", func() error {
		if n := jobsOf(t, promise.Name, request.GetName(), "render"); n != 0 {
			return fmt.Errorf("%d Jobs left", n)
		}
		return nil
	})
	// Something the request watches changes: it is reconciled, and runs nothing.
	if err := env.Client.Patch(t.Context(), request, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"poke":"1"}}}`))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if n := jobsOf(t, promise.Name, request.GetName(), "render"); n != 0 {
		t.Fatalf("%d Jobs ran again after the finished workflow's Jobs were deleted", n)
	}

	// Rename the pipeline: the workflow runs again and the old name's Jobs are pruned.
	second := request2(group)
	create(t, second)
	waitForRequest(t, second, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
	if n := jobsOf(t, promise.Name, "second", "render"); n != 1 {
		t.Fatalf("%d Jobs of render before the rename, want 1", n)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(promise), promise); err != nil {
		t.Fatal(err)
	}
	promise.Spec.Workflows.Resource.Configure[0].Metadata.Name = "render-v2"
	if err := env.Client.Update(t.Context(), promise); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the renamed pipeline to run and the old one's Jobs pruned", func() error {
		old, renamed := jobsOf(t, promise.Name, "second", "render"), jobsOf(t, promise.Name, "second", "render-v2")
		if old != 0 || renamed == 0 {
			return fmt.Errorf("%d Jobs of render, %d of render-v2", old, renamed)
		}
		return nil
	})
}

// request2 is a second request named "second".
func request2(group string) *unstructured.Unstructured { return thing(group, "second") }

// A reconcile between the status-writer's write and the end of its Job (the Job still running
// in the cache) keeps what the status-writer marked: writing the pipeline back to Running would
// lose its suspension, and the next pipeline would run.
func TestNextProgressKeepsTheStatusWritersMark(t *testing.T) {
	now := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	pipelines := []v1alpha1.Pipeline{{Metadata: v1alpha1.PipelineMetadata{Name: "gate"}}, {Metadata: v1alpha1.PipelineMetadata{Name: "render"}}}
	running := []pipeline.JobRecord{{Name: "gate-1", Pipeline: "gate", Run: 1, Created: now, Phase: pipeline.JobRunning}}
	for _, tt := range []struct {
		name  string
		entry v1alpha1.WorkflowPipelineStatus
		want  string
	}{
		{"the status-writer marked a suspension for this run", v1alpha1.WorkflowPipelineStatus{Name: "gate", Phase: v1alpha1.WorkflowPhaseSuspended, Message: "wait", ReportedRun: 1}, v1alpha1.WorkflowPhaseSuspended},
		{"it has not written yet", v1alpha1.WorkflowPipelineStatus{Name: "gate", Phase: v1alpha1.WorkflowPhasePending}, v1alpha1.WorkflowPhaseRunning},
		{"its mark is an earlier run's", v1alpha1.WorkflowPipelineStatus{Name: "gate", Phase: v1alpha1.WorkflowPhaseSuspended, ReportedRun: 0}, v1alpha1.WorkflowPhaseRunning},
	} {
		t.Run(tt.name, func(t *testing.T) {
			progress := v1alpha1.WorkflowStatus{Action: v1alpha1.WorkflowActionConfigure, Pipelines: []v1alpha1.WorkflowPipelineStatus{tt.entry}}
			next := nextProgress(progress, pipelines, running, pipeline.Decision{Verdict: pipeline.Wait, Job: "gate-1"}, now)
			if got := next.Pipelines[0].Phase; got != tt.want {
				t.Errorf("gate's phase %s, want %s", got, tt.want)
			}
		})
	}
}
