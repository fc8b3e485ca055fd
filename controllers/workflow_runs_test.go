package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// promiseSetupScript writes a Promise-level output file and a status message.
const promiseSetupScript = `set -eu
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shared}\n' > /kratix/output/namespace.yaml
echo 'message: set up' > /kratix/metadata/status.yaml`

// Every kind of workflow runs through the local job runner to its end, its engine's containers
// (reader, work-writer, status-writer) doing their part with the access the engine grants the
// pipeline's ServiceAccount: a Promise Configure workflow of two pipelines writes the Promise's
// Works, a cluster-scoped request's configure workflow (in a pipelineNamespace, or in the
// platform namespace) writes its Work and status, and the delete workflows of both write status
// as their objects go. Once for the engine's own ServiceAccounts, once for a ServiceAccount that
// the pipelines name themselves (rbac.serviceAccount).
func TestEveryWorkflowRuns(t *testing.T) {
	for _, tt := range []struct {
		name              string
		ownAccount        bool
		pipelineNamespace string
	}{
		{"engine's ServiceAccounts in a pipelineNamespace", false, uniqueName("pipelines")},
		{"the pipelines' own ServiceAccount", true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			startPlatform(t)
			promise, group := workflowPromise(t, renderScript+"\necho 'message: rendered' > /kratix/metadata/status.yaml")
			promise.Spec.API.Raw = []byte(strings.Replace(string(promise.Spec.API.Raw), `"Namespaced"`, `"Cluster"`, 1))
			promise.Spec.Workflows.Promise.Configure = []v1alpha1.Pipeline{shPipeline("setup", promiseSetupScript), shPipeline("check", promiseSetupScript)}
			promise.Spec.Workflows.Promise.Delete[0].Spec.Containers[0].Args = []string{"echo 'message: retiring' > /kratix/metadata/status.yaml"}
			promise.Spec.Workflows.Resource.Delete[0].Spec.Containers[0].Args = []string{"echo 'message: tearing down' > /kratix/metadata/status.yaml"}
			jobNamespace := v1alpha1.DefaultPlatformNS
			if tt.pipelineNamespace != "" {
				ensureNamespace(t, tt.pipelineNamespace)
				promise.Spec.Workflows.Config.PipelineNamespace = tt.pipelineNamespace
				jobNamespace = tt.pipelineNamespace
			}
			if tt.ownAccount {
				account := "own-" + promise.Name
				create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: jobNamespace, Name: account}})
				w := &promise.Spec.Workflows
				for _, pipelines := range [][]v1alpha1.Pipeline{w.Promise.Configure, w.Promise.Delete, w.Resource.Configure, w.Resource.Delete} {
					for i := range pipelines {
						pipelines[i].Spec.RBAC.ServiceAccount = account
					}
				}
			}
			create(t, promise)
			waitForPromise(t, promise, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
			var works v1alpha1.WorkList
			if err := env.Client.List(t.Context(), &works, client.InNamespace(v1alpha1.DefaultPlatformNS),
				client.MatchingLabels{v1alpha1.LabelPromiseName: promise.Name, v1alpha1.LabelWorkType: v1alpha1.WorkTypePromise}); err != nil {
				t.Fatal(err)
			}
			if len(works.Items) != 2 {
				t.Errorf("%d Promise-level Works, want one of each pipeline", len(works.Items))
			}

			request := thing(group, uniqueName("one"))
			request.SetNamespace("")
			create(t, request)
			waitForRequest(t, request, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
			if msg, _, _ := unstructured.NestedString(request.Object, "status", "message"); msg != "rendered" {
				t.Errorf("the request's status.message %q, want the pipeline's", msg)
			}
			// A ResourceBinding is namespaced: a cluster-scoped request's is in the platform namespace.
			binding := &v1alpha1.ResourceBinding{}
			if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: v1alpha1.DefaultPlatformNS, Name: bindingName(request.GetName(), promise.Name)}, binding); err != nil {
				t.Errorf("the cluster-scoped request's binding: %v", err)
			}
			deleteAndWait(t, request)
			deleteAndWait(t, promise)
		})
	}
}
