package pipeline

import (
	"reflect"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestWorkflowPipelines: configure runs every pipeline in order, delete only the first.
func TestWorkflowPipelines(t *testing.T) {
	p := testPromise(t)
	request := testRequest("cache", "team-a")
	tests := []struct {
		name     string
		workflow Workflow
		want     []string
	}{
		{"resource configure", resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, request), []string{"instance-configure", "instance-notify"}},
		{"resource delete", resourceWorkflow(p, v1alpha1.WorkflowActionDelete, request), []string{"instance-delete"}},
		{"promise configure", promiseWorkflow(p, v1alpha1.WorkflowActionConfigure), []string{"promise-configure"}},
		{"promise delete, none defined", promiseWorkflow(p, v1alpha1.WorkflowActionDelete), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pipelines, err := tt.workflow.Pipelines()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, pl := range pipelines {
				got = append(got, pl.Metadata.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pipelines %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWorkflowNamespaceAndSelector: where a workflow's Jobs live and the labels that find them.
func TestWorkflowNamespaceAndSelector(t *testing.T) {
	p := testPromise(t)
	shared := testPromise(t)
	shared.Spec.Workflows.Config.PipelineNamespace = "pipelines"
	tests := []struct {
		name          string
		workflow      Workflow
		opts          Options
		wantNamespace string
		wantSelector  map[string]string
	}{
		{
			name: "promise workflow", workflow: promiseWorkflow(shared, v1alpha1.WorkflowActionConfigure), opts: Options{PlatformNamespace: "platform"},
			wantNamespace: "platform",
			wantSelector:  map[string]string{"kratix.io/promise-name": "redis", "kratix.io/workflow-type": "promise", "kratix.io/workflow-action": "configure"},
		},
		{
			name: "resource workflow", workflow: resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")),
			wantNamespace: "team-a",
			wantSelector: map[string]string{
				"kratix.io/promise-name": "redis", "kratix.io/workflow-type": "resource", "kratix.io/workflow-action": "delete",
				"kratix.io/resource-name": "cache", "kratix.io/resource-namespace": "team-a",
			},
		},
		{
			name: "resource workflow with pipelineNamespace", workflow: resourceWorkflow(shared, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")),
			wantNamespace: "pipelines",
			wantSelector: map[string]string{
				"kratix.io/promise-name": "redis", "kratix.io/workflow-type": "resource", "kratix.io/workflow-action": "configure",
				"kratix.io/resource-name": "cache", "kratix.io/resource-namespace": "team-a",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.workflow.Namespace(tt.opts); got != tt.wantNamespace {
				t.Errorf("namespace %q, want %q", got, tt.wantNamespace)
			}
			if got := tt.workflow.Selector(); !reflect.DeepEqual(got, tt.wantSelector) {
				t.Errorf("selector %v, want %v", got, tt.wantSelector)
			}
		})
	}
}
