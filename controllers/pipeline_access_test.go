package controllers

import (
	"context"
	"fmt"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// A resource request's pipeline runs as the request's own ServiceAccount. The API server's own
// authorization lets it read the request, write its status and write its Works (past the
// admission policy kratix-work-ownership), and refuses it another request of the same Promise
// in the same namespace. When the request is deleted, after its delete workflow ran, nothing
// that the engine made for its pipelines is left: not in its namespace, nor in the
// pipelineNamespace, nor cluster-wide (envtest runs no garbage collector, so owner references
// take nothing away here). The other request keeps its own.
func TestPipelinesActOnTheirOwnRequestOnly(t *testing.T) {
	startPlatform(t)
	for _, pipelineNamespace := range []string{"", uniqueName("pipelines")} {
		t.Run("pipelineNamespace="+pipelineNamespace, func(t *testing.T) {
			ctx := t.Context()
			ns := uniqueName("team")
			ensureNamespace(t, ns)
			promise, group := workflowPromise(t, renderScript)
			promise.Spec.Workflows.Config.PipelineNamespace = pipelineNamespace
			// A permission cluster-wide: a ClusterRoleBinding of each request's own.
			promise.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = []v1alpha1.Permission{{
				ResourceNamespace: "*",
				PolicyRule:        rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
			}}
			if pipelineNamespace != "" {
				ensureNamespace(t, pipelineNamespace)
			}
			create(t, promise)
			waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

			a, b := thing(group, "a"), thing(group, "b")
			for _, r := range []*unstructured.Unstructured{a, b} {
				r.SetNamespace(ns)
				create(t, r)
			}
			for _, r := range []*unstructured.Unstructured{a, b} {
				waitForRequest(t, r, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
			}
			jobNS := pipeline.ResourceWorkflowNamespace(promise, ns, pipeline.Options{})
			saA, saB := jobServiceAccount(t, promise, a), jobServiceAccount(t, promise, b)
			if saA == saB {
				t.Fatalf("the Jobs of a and b both run as %s", saA)
			}
			asA, asB := impersonating(t, jobNS+"/"+saA), impersonating(t, jobNS+"/"+saB)

			// Its own request: read it, write its status, write its Works.
			if err := asA.Get(ctx, client.ObjectKeyFromObject(a), a.DeepCopy()); err != nil {
				t.Errorf("a's pipeline reads a: %v", err)
			}
			if err := patchMessage(ctx, asA, a, "written by a's pipeline"); err != nil {
				t.Errorf("a's pipeline writes a's status: %v", err)
			}
			work := ownedWork(jobNS, promise.Name, ns, a.GetName())
			if err := asA.Create(ctx, work); err != nil {
				t.Errorf("a's pipeline writes a Work of a: %v", err)
			} else if err := env.Client.Delete(ctx, work); err != nil {
				t.Error(err)
			}
			// Another request of the same Promise in the same namespace: refused.
			if err := patchMessage(ctx, asA, b, "written by a's pipeline"); !apierrors.IsForbidden(err) {
				t.Errorf("a's pipeline writes b's status: %v, want Forbidden", err)
			}
			if err := asA.Get(ctx, client.ObjectKeyFromObject(b), b.DeepCopy()); !apierrors.IsForbidden(err) {
				t.Errorf("a's pipeline reads b: %v, want Forbidden", err)
			}
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(a.GroupVersionKind())
			if err := asA.List(ctx, list, client.InNamespace(ns)); !apierrors.IsForbidden(err) {
				t.Errorf("a's pipeline lists the requests: %v, want Forbidden", err)
			}

			if len(requestAccess(t, promise.Name, a)) == 0 {
				t.Fatal("a has no ServiceAccount or RBAC of its own")
			}
			deleteAndWait(t, a)
			if left := requestAccess(t, promise.Name, a); len(left) != 0 {
				t.Errorf("left behind by a: %v", left)
			}
			if left := requestAccess(t, promise.Name, b); len(left) == 0 {
				t.Error("b's own ServiceAccount and RBAC went with a")
			}
			if err := patchMessage(ctx, asB, b, "written by b's pipeline"); err != nil {
				t.Errorf("b's pipeline writes b's status after a went: %v", err)
			}
		})
	}
}

// jobServiceAccount is the ServiceAccount that the request's Resource Configure Job ran as.
func jobServiceAccount(t *testing.T, promise *v1alpha1.Promise, request *unstructured.Unstructured) string {
	t.Helper()
	w := pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: promise, Object: request}
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.InNamespace(w.Namespace(pipeline.Options{})), client.MatchingLabels(w.Selector())); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) == 0 {
		t.Fatalf("no Job of %s", request.GetName())
	}
	return jobs.Items[0].Spec.Template.Spec.ServiceAccountName
}

// patchMessage writes status.message of the request as c.
func patchMessage(ctx context.Context, c client.Client, request *unstructured.Unstructured, message string) error {
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"status":{"message":%q}}`, message))
	return c.Status().Patch(ctx, request.DeepCopy(), patch)
}

// requestAccess lists, as kind namespace/name, the ServiceAccounts and RBAC objects in every
// namespace that carry the request's labels (pipeline.RequestSelector).
func requestAccess(t *testing.T, promise string, request client.Object) []string {
	t.Helper()
	var out []string
	for _, gvk := range accessKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := env.Client.List(t.Context(), list, client.MatchingLabels(pipeline.RequestSelector(promise, request.GetNamespace(), request.GetName()))); err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			out = append(out, gvk.Kind+" "+item.Namespace+"/"+item.Name)
		}
	}
	return out
}

// The engine's memo of applied access objects holds a request's own only while it lives:
// removing what a request leaves behind forgets them, and a new request of the same name gets
// its own again (its delete workflow's have no owner whose UID would tell them apart).
func TestRequestAccessIsForgottenWithItsRequest(t *testing.T) {
	ctx := t.Context()
	teamA, pipelinesNS := uniqueName("team-a"), uniqueName("pipelines")
	ensureNamespace(t, teamA)
	ensureNamespace(t, pipelinesNS)
	promise := ownedPromise(t, uniqueName("memo"), pipelinesNS)
	promise.Spec.Workflows.Resource.Delete = []v1alpha1.Pipeline{shPipeline("teardown", "true")}
	d := &workflowDriver{client: env.Client, reader: env.Client}
	configure := resourceWorkflowOf(t, promise, teamA)
	request := configure.Object
	deleteWorkflow := configure
	deleteWorkflow.Action = v1alpha1.WorkflowActionDelete
	apply := func() {
		t.Helper()
		for _, w := range []pipeline.Workflow{configure, deleteWorkflow} {
			access, err := pipeline.BuildAccess(w, 0, d.options)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.applyAccess(ctx, w, access); err != nil {
				t.Fatal(err)
			}
		}
	}
	own := accessGroup{promise: promise.Name, namespace: teamA, name: request.GetName()}
	shared := accessGroup{promise: promise.Name}

	apply()
	if len(d.applied.groups[own]) == 0 || len(d.applied.groups[shared]) == 0 {
		t.Fatalf("remembered %v, want the request's own and shared objects", d.applied.groups)
	}
	if err := d.removeRequestAccess(ctx, promise.Name, request); err != nil {
		t.Fatal(err)
	}
	if left := requestAccess(t, promise.Name, request); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, ok := d.applied.groups[own]; ok {
		t.Errorf("the request's own objects are still remembered: %v", d.applied.groups[own])
	}
	if len(d.applied.groups[shared]) == 0 {
		t.Error("the shared objects were forgotten with the request")
	}

	apply()
	if got := len(requestAccess(t, promise.Name, request)); got != len(d.applied.groups[own]) || got == 0 {
		t.Errorf("a request of the same name has %d objects of its own, want the %d remembered", got, len(d.applied.groups[own]))
	}
	if err := d.removeRequestAccess(ctx, promise.Name, request); err != nil {
		t.Fatal(err)
	}
	d.applied.forgetPromise(promise.Name)
	if len(d.applied.groups) != 0 {
		t.Errorf("remembered after the Promise went: %v", d.applied.groups)
	}
}
