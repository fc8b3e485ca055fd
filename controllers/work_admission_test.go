package controllers

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// TestOnlyAPromisesOwnWorkflowsWriteItsWorks: the admission policy kratix-work-ownership
// (config/policy), with the RBAC the engine gives each pipeline's ServiceAccount, lets a
// pipeline write Works of its own Promise only, and resource Works only for its requests'
// namespaces; whoever wrote a Work, its owner cannot change afterwards.
func TestOnlyAPromisesOwnWorkflowsWriteItsWorks(t *testing.T) {
	ctx := t.Context()
	platformNS, teamA, teamB, pipelinesNS := uniqueName("platform"), uniqueName("team-a"), uniqueName("team-b"), uniqueName("pipelines")
	for _, ns := range []string{platformNS, teamA, teamB, pipelinesNS} {
		ensureNamespace(t, ns)
	}
	opts := pipeline.Options{PlatformNamespace: platformNS}

	promise := ownedPromise(t, uniqueName("owned"), "")
	other := uniqueName("other")
	shared := ownedPromise(t, uniqueName("shared"), pipelinesNS)
	promiseSA := pipelineAccount(t, pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise, Action: v1alpha1.WorkflowActionConfigure, Promise: promise}, opts)
	resourceSA := pipelineAccount(t, resourceWorkflowOf(t, promise, teamA), opts)
	sharedSA := pipelineAccount(t, resourceWorkflowOf(t, shared, teamA), opts)

	type attempt struct {
		name      string
		as        string // the ServiceAccount, namespace/name; "" for the test's admin
		work      *v1alpha1.Work
		forbidden string // a part of the refusal; "" when admitted
	}
	for _, a := range []attempt{
		{"a Promise workflow writes its Promise's Work", promiseSA, ownedWork(platformNS, promise.Name, "", ""), ""},
		{"a Promise workflow writes another Promise's Work", promiseSA, ownedWork(platformNS, other, "", ""), "may not write Promise-level Works of Promise " + other},
		{"a Promise workflow writes a resource Work of its Promise", promiseSA, ownedWork(platformNS, promise.Name, platformNS, "cache"), "may not write resource Works"},
		{"a resource workflow writes its request's Work", resourceSA, ownedWork(teamA, promise.Name, teamA, "cache"), ""},
		{"a resource workflow writes its Promise's Promise-level Work", resourceSA, ownedWork(teamA, promise.Name, "", ""), "may not write Promise-level Works of Promise " + promise.Name},
		{"a resource workflow writes another Promise's resource Work", resourceSA, ownedWork(teamA, other, teamA, "cache"), "may not write resource Works of Promise " + other},
		{"a resource workflow writes a Work for another namespace's request", resourceSA, ownedWork(teamA, promise.Name, teamB, "cache"), "may not write Works for resource requests in namespace " + teamB},
		{"a pipelineNamespace workflow writes its request's Work", sharedSA, ownedWork(pipelinesNS, shared.Name, teamA, "cache"), ""},
		{"a pipelineNamespace workflow writes a Work for a namespace it serves no request in", sharedSA, ownedWork(pipelinesNS, shared.Name, teamB, "cache"), "may not write Works for resource requests in namespace " + teamB},
		{"the platform's admin writes any Work", "", ownedWork(teamB, other, teamB, "cache"), ""},
	} {
		t.Run(a.name, func(t *testing.T) {
			c := env.Client
			if a.as != "" {
				c = impersonating(t, a.as)
			}
			err := c.Create(ctx, a.work)
			if err == nil {
				t.Cleanup(func() { _ = env.Client.Delete(context.Background(), a.work) })
			}
			switch {
			case a.forbidden == "" && err != nil:
				t.Errorf("refused: %v", err)
			case a.forbidden != "" && err == nil:
				t.Errorf("admitted; want refused with %q", a.forbidden)
			case a.forbidden != "" && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), a.forbidden)):
				t.Errorf("refused with %v; want Forbidden with %q", err, a.forbidden)
			}
		})
	}

	// The owner of a Work the pipeline may write cannot be changed into one it may not, nor by
	// anyone: the policy checks the Work as written, and its owner is immutable.
	work := ownedWork(teamA, promise.Name, teamA, "cache")
	if err := impersonating(t, resourceSA).Create(ctx, work); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), work) })
	for _, c := range []client.Client{impersonating(t, resourceSA), env.Client} {
		moved := work.DeepCopy()
		moved.Spec.PromiseName = other
		if err := c.Update(ctx, moved); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "cannot change") {
			t.Errorf("changing a Work's Promise: %v; want it refused as invalid", err)
		}
	}
}

// ownedPromise is the workflows example's Promise under another name, with a promise workflow
// too, and a pipelineNamespace when given.
func ownedPromise(t *testing.T, name, pipelineNamespace string) *v1alpha1.Promise {
	p := examplePromise(t, "workflows/configmap-promise.yaml")
	p.Name, p.UID = name, types.UID("00000000-0000-0000-0000-000000000000")
	p.Spec.Workflows.Promise.Configure = p.Spec.Workflows.Resource.Configure
	p.Spec.Workflows.Config.PipelineNamespace = pipelineNamespace
	return p
}

// resourceWorkflowOf is the Promise's resource configure workflow for a request in namespace ns.
func resourceWorkflowOf(t *testing.T, p *v1alpha1.Promise, ns string) pipeline.Workflow {
	request := exampleRequests(t, "workflows/configmap-request.yaml")[0].DeepCopy()
	request.SetNamespace(ns)
	return pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: p, Object: request}
}

// pipelineAccount applies the ServiceAccount and RBAC of the workflow's first pipeline, as the
// engine does before its Job, and returns the ServiceAccount as namespace/name.
func pipelineAccount(t *testing.T, w pipeline.Workflow, opts pipeline.Options) string {
	t.Helper()
	access, err := pipeline.BuildAccess(w, 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := &workflowDriver{client: env.Client, reader: env.Client, options: opts}
	if err := d.applyAccess(t.Context(), w, access); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := range access.ClusterRoles {
			_ = env.Client.Delete(context.Background(), &access.ClusterRoles[i])
			_ = env.Client.Delete(context.Background(), &access.ClusterRoleBindings[i])
		}
	})
	return access.ServiceAccount.Namespace + "/" + access.ServiceAccount.Name
}

// impersonating is a client that acts as the ServiceAccount namespace/name.
func impersonating(t *testing.T, account string) client.Client {
	t.Helper()
	ns, name, _ := strings.Cut(account, "/")
	return actingAs(t, "system:serviceaccount:"+ns+":"+name, "system:serviceaccounts", "system:serviceaccounts:"+ns, "system:authenticated")
}

// ownedWork is a Work (not created) in namespace ns of the Promise, for the request
// resourceNamespace/resourceName; Promise-level when resourceName is empty.
func ownedWork(ns, promise, resourceNamespace, resourceName string) *v1alpha1.Work {
	return &v1alpha1.Work{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("work"), Namespace: ns},
		Spec:       v1alpha1.WorkSpec{PromiseName: promise, ResourceNamespace: resourceNamespace, ResourceName: resourceName},
	}
}
