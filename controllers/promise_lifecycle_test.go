package controllers

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// shPipeline is a pipeline of one container that runs script with sh.
func shPipeline(name, script string) v1alpha1.Pipeline {
	return v1alpha1.Pipeline{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "Pipeline",
		Metadata: v1alpha1.PipelineMetadata{Name: name},
		Spec: v1alpha1.PipelineSpec{Containers: []v1alpha1.Container{{
			Name: name, Image: "busybox:1.36", Command: []string{"sh", "-c"}, Args: []string{script},
		}}},
	}
}

// workflowPromise is an API Promise for kind Thing whose resource configure pipeline writes one
// ConfigMap named after the request, scheduled to environment=dev, with delete pipelines for the
// Promise and its requests.
func workflowPromise(t *testing.T, configure string) (*v1alpha1.Promise, string) {
	t.Helper()
	name := uniqueName("things")
	group := name + ".example.com"
	p := apiPromise(t, name, group, "Thing", "color")
	p.Spec.DestinationSelectors = []v1alpha1.PromiseScheduling{{MatchLabels: map[string]string{"environment": "dev"}}}
	p.Spec.Workflows.Resource.Configure = []v1alpha1.Pipeline{shPipeline("render", configure)}
	p.Spec.Workflows.Resource.Delete = []v1alpha1.Pipeline{shPipeline("teardown", "echo tearing down")}
	p.Spec.Workflows.Promise.Delete = []v1alpha1.Pipeline{shPipeline("retire", "echo retiring")}
	return p, group
}

// renderScript writes a ConfigMap named after the request.
const renderScript = `set -eu
name=$(grep -m1 '^  name:' /kratix/input/object.yaml | awk '{print $2}')
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\n' "$name" > /kratix/output/configmap.yaml`

// thing is a request of a workflowPromise.
func thing(group, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Thing",
		"metadata": map[string]any{"name": name, "namespace": "default"},
		"spec":     map[string]any{"color": "blue"},
	}}
}

// Deleting a Promise runs the delete workflows, deletes its requests, their Works and files,
// and last its CRD; nothing is left behind and nothing is stuck.
func TestPromiseDeletionTakesEverythingDown(t *testing.T) {
	startPlatform(t)
	f := newGitFixture(t)
	exampleStore(t, f, "updates/destinations.yaml")
	promise, group := workflowPromise(t, renderScript)
	if err := env.Client.Create(t.Context(), promise); err != nil {
		t.Fatal(err)
	}
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	checkManagerAccess(t, promise.Name, group, "things")
	// 83 characters, cut at a dash: its label value is shortened below the limit.
	long := strings.Repeat("a", 51) + "-long-name-that-is-cut-at-a-dash"
	requests := []*unstructured.Unstructured{thing(group, "first"), thing(group, long)}
	for _, r := range requests {
		if err := env.Client.Create(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range requests {
		waitForRequest(t, r, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
		path := "dev-cluster-1/resources/default/" + promise.Name + "/" + r.GetName() + "/render/5058f/configmap.yaml"
		if got := f.show(t, path); !strings.Contains(got, "name: "+r.GetName()) {
			t.Errorf("%s = %q", path, got)
		}
		outputs, _, _ := unstructured.NestedSlice(r.Object, "status", "kratix", "outputs")
		if len(outputs) != 1 || !strings.Contains(fmt.Sprint(outputs), "dev-cluster-1") {
			t.Errorf("%s: status.kratix.outputs = %v", r.GetName(), outputs)
		}
	}

	deleteAndWait(t, promise)
	for _, r := range requests {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(r), r.DeepCopy()); !apierrors.IsNotFound(err) && !isNoKind(err) {
			t.Errorf("request %s: %v", r.GetName(), err)
		}
		waitForNamespacedEvent(t, "default", "Thing", r.GetName(), corev1.EventTypeNormal, v1alpha1.ReasonPipelinesInProgress,
			func(note string) bool { return strings.Contains(note, "Resource Delete") })
	}
	waitForEvent(t, "Promise", promise.Name, corev1.EventTypeNormal, v1alpha1.ReasonPipelinesInProgress)
	if got := f.filesUnder(t, "dev-cluster-1/resources/default/"+promise.Name); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
	var works v1alpha1.WorkList
	if err := env.Client.List(t.Context(), &works, client.MatchingLabels{v1alpha1.LabelPromiseName: promise.Name}); err != nil || len(works.Items) != 0 {
		t.Errorf("Works left: %d, %v", len(works.Items), err)
	}
	err := env.Client.Get(t.Context(), client.ObjectKey{Name: "things." + group}, &apiextensionsv1.CustomResourceDefinition{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the CRD is still there: %v", err)
	}
	err = env.Client.Get(t.Context(), client.ObjectKey{Name: "kratix-promise-api-" + promise.Name}, &rbacv1.ClusterRole{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the engine's ClusterRole for the Promise's API is still there: %v", err)
	}
}

// checkManagerAccess checks the ClusterRole that the install's aggregated role gathers for the
// manager: it grants exactly the Promise API's requests, their status and finalizers.
func checkManagerAccess(t *testing.T, promise, group, plural string) {
	t.Helper()
	role := &rbacv1.ClusterRole{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: "kratix-promise-api-" + promise}, role); err != nil {
		t.Fatalf("the engine's ClusterRole for the Promise's API: %v", err)
	}
	if role.Labels[v1alpha1.LabelAggregateToManager] != "true" {
		t.Errorf("ClusterRole %s labels = %v: the install's aggregated role would not gather it", role.Name, role.Labels)
	}
	granted := map[string]bool{}
	for _, rule := range role.Rules {
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				for _, v := range rule.Verbs {
					granted[g+"/"+r+":"+v] = true
				}
			}
		}
	}
	for _, want := range []string{plural + ":watch", plural + ":update", plural + ":delete", plural + "/status:patch", plural + "/finalizers:update"} {
		if !granted[group+"/"+want] {
			t.Errorf("ClusterRole %s does not grant %s/%s: %v", role.Name, group, want, role.Rules)
		}
	}
	if len(granted) != 10 {
		t.Errorf("ClusterRole %s grants %d group/resource:verb pairs, want the 10 of the Promise's API: %v", role.Name, len(granted), role.Rules)
	}
}

// isNoKind reports whether err says the API server no longer serves the kind.
func isNoKind(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "no matches for kind") || strings.Contains(err.Error(), "the server could not find the requested resource"))
}

// A manager stopped while a workflow runs resumes it when it starts again, and converges.
func TestResourceWorkflowResumesAfterARestart(t *testing.T) {
	p := startPlatform(t)
	f := newGitFixture(t)
	exampleStore(t, f, "updates/destinations.yaml")
	promise, group := workflowPromise(t, "sleep 2\n"+renderScript)
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	r := thing(group, "restarted")
	create(t, r)
	waitForRequest(t, r, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress)

	p.restart()
	waitForRequest(t, r, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	path := "dev-cluster-1/resources/default/" + promise.Name + "/restarted/render/5058f/configmap.yaml"
	if got := f.show(t, path); !strings.Contains(got, "name: restarted") {
		t.Errorf("%s = %q", path, got)
	}
}
