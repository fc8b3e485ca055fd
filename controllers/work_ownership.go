package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// A Work's spec says whose files it holds (promiseName, resourceNamespace, resourceName), and
// its placements write into that owner's directories. Whoever may create Works in a namespace,
// every pipeline ServiceAccount there among them, could otherwise write Works in another
// Promise's or another namespace's name. The ValidatingAdmissionPolicy kratix-work-ownership
// (config/policy) checks the writer's identity in the API server. The engine cannot see who
// wrote a Work, but it checks what follows from the spec alone, for clusters without the policy:
// a Work lives in the namespace where its owner's workflows run.

// owner is whose files a Work or WorkPlacement says it holds, and where it lives.
type owner struct {
	// kind is "Work" or "WorkPlacement", for messages.
	kind                                 string
	namespace                            string
	promise, resourceNamespace, resource string
}

func workOwner(w *v1alpha1.Work) owner {
	return owner{kind: "Work", namespace: w.Namespace, promise: w.Spec.PromiseName, resourceNamespace: w.Spec.ResourceNamespace, resource: w.Spec.ResourceName}
}

func placementOwner(wp *v1alpha1.WorkPlacement) owner {
	return owner{kind: "WorkPlacement", namespace: wp.Namespace, promise: wp.Spec.PromiseName, resourceNamespace: wp.Spec.ResourceNamespace, resource: wp.Spec.ResourceName}
}

// ownershipRefusal says why the Work or WorkPlacement may not write in its owner's name from
// its namespace, or "" when it may; it reads the owner's Promise through c.
func ownershipRefusal(ctx context.Context, c client.Reader, o owner, opts pipeline.Options) (string, error) {
	promise := &v1alpha1.Promise{}
	if err := c.Get(ctx, client.ObjectKey{Name: o.promise}, promise); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("get Promise %s: %w", o.promise, err)
		}
		promise = nil
	}
	return ownerRefusal(o, promise, opts), nil
}

// ownerRefusal is the rule: Promise-level output lives in the platform namespace, where the
// Promise's workflows run; a resource request's lives where its resource workflows run
// (pipeline.ResourceWorkflowNamespace). promise is nil when the Promise does not exist.
func ownerRefusal(o owner, promise *v1alpha1.Promise, opts pipeline.Options) string {
	if o.resource == "" {
		want := pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise}.Namespace(opts)
		if o.namespace == want {
			return ""
		}
		return fmt.Sprintf("a Promise-level %s of Promise %q must be in namespace %q, where the Promise's workflows run, not in %q; nothing of it is scheduled",
			o.kind, o.promise, want, o.namespace)
	}
	want := pipeline.ResourceWorkflowNamespace(promise, o.resourceNamespace, opts)
	if o.namespace == want {
		return ""
	}
	request := fmt.Sprintf("%q (cluster-scoped)", o.resource)
	if o.resourceNamespace != "" {
		request = quoteRef(o.resourceNamespace, o.resource)
	}
	return fmt.Sprintf("a %s of Promise %q for resource request %s must be in namespace %q, where that request's workflows run, not in %q; nothing of it is scheduled",
		o.kind, o.promise, request, want, o.namespace)
}
