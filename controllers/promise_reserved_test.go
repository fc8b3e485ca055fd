package controllers

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// A Promise whose pipeline claims one of the engine's own steps, by a container's name, by the
// engine's adapter image or by a command that runs `kratix pipeline-adapter`, is refused before
// any Job runs: its ConfigureWorkflowCompleted and Reconciled conditions and a Warning Event say
// which container and why, so that its author can fix it, and no Job of the workflow exists.
func TestPromiseClaimingTheEnginesStepsIsRefused(t *testing.T) {
	startManager(t)
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	tests := []struct {
		name   string
		change func(*v1alpha1.Container)
		want   string
	}{
		{"reserved container name", func(c *v1alpha1.Container) { c.Name = pipeline.ContainerWorkWriter },
			`container name "work-writer" is reserved for the engine`},
		{"the adapter image", func(c *v1alpha1.Container) { c.Image = "docker.io/library/" + pipeline.DefaultAdapterImage },
			`container "setup": image "docker.io/library/kratix:latest" is the engine's own`},
		{"the adapter command", func(c *v1alpha1.Container) {
			c.Command, c.Args = []string{"/usr/bin/kratix"}, []string{pipeline.AdapterSubcommand, pipeline.ContainerWorkWriter}
		}, "container \"setup\": its command and args run `kratix pipeline-adapter`"},
		{"the adapter in a script", func(c *v1alpha1.Container) {
			c.Args = []string{"kratix pipeline-adapter status-writer --metadata-dir /kratix/metadata"}
		}, `container "setup": its command or args mention "pipeline-adapter"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			promise, _ := workflowPromise(t, renderScript)
			setup := shPipeline("setup", "echo setting up")
			tt.change(&setup.Spec.Containers[0])
			promise.Spec.Workflows.Promise.Configure = []v1alpha1.Pipeline{setup}
			// No pipeline runs here: nothing may wait for one when the Promise goes.
			promise.Spec.Workflows.Promise.Delete, promise.Spec.Workflows.Resource.Delete = nil, nil
			create(t, promise)

			for _, condType := range []string{v1alpha1.ConditionConfigureWorkflowCompleted, v1alpha1.ConditionReconciled} {
				cond := waitForPromise(t, promise, condType, metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed)
				if !strings.Contains(cond.Message, tt.want) || !strings.Contains(cond.Message, `pipeline "setup"`) {
					t.Errorf("%s: %q, want the pipeline named and %q", condType, cond.Message, tt.want)
				}
			}
			ev := waitForEvent(t, "Promise", promise.Name, "Warning", v1alpha1.ReasonConfigureWorkflowFailed)
			if !strings.Contains(ev.Note, tt.want) {
				t.Errorf("Event %q, want %q", ev.Note, tt.want)
			}
			w := pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise, Action: v1alpha1.WorkflowActionConfigure, Promise: promise}
			var jobs batchv1.JobList
			if err := env.Client.List(t.Context(), &jobs, client.InNamespace(v1alpha1.DefaultPlatformNS), client.MatchingLabels(w.Selector())); err != nil {
				t.Fatal(err)
			}
			if len(jobs.Items) != 0 {
				t.Errorf("%d Jobs of the refused workflow, the first %s", len(jobs.Items), jobs.Items[0].Name)
			}
		})
	}
}
