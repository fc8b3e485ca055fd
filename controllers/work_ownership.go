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

// ownershipRefusal says why the Work may not be scheduled from its namespace, or "" when it
// may; it reads the Work's Promise from the cache.
func (r *WorkReconciler) ownershipRefusal(ctx context.Context, work *v1alpha1.Work) (string, error) {
	promise := &v1alpha1.Promise{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: work.Spec.PromiseName}, promise); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("get Promise %s: %w", work.Spec.PromiseName, err)
		}
		promise = nil
	}
	return workOwnershipRefusal(work, promise, r.Pipeline), nil
}

// workOwnershipRefusal is the rule: a Promise-level Work lives in the platform namespace, where
// the Promise's workflows run; a resource Work lives where its request's resource workflows run
// (pipeline.ResourceWorkflowNamespace). promise is nil when the Promise does not exist.
func workOwnershipRefusal(work *v1alpha1.Work, promise *v1alpha1.Promise, opts pipeline.Options) string {
	if work.IsPromiseLevel() {
		want := pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise}.Namespace(opts)
		if work.Namespace == want {
			return ""
		}
		return fmt.Sprintf("a Promise-level Work of Promise %q must be in namespace %q, where the Promise's workflows run, not in %q; nothing of it is scheduled",
			work.Spec.PromiseName, want, work.Namespace)
	}
	want := pipeline.ResourceWorkflowNamespace(promise, work.Spec.ResourceNamespace, opts)
	if work.Namespace == want {
		return ""
	}
	request := fmt.Sprintf("%q (cluster-scoped)", work.Spec.ResourceName)
	if work.Spec.ResourceNamespace != "" {
		request = quoteRef(work.Spec.ResourceNamespace, work.Spec.ResourceName)
	}
	return fmt.Sprintf("a Work of Promise %q for resource request %s must be in namespace %q, where that request's workflows run, not in %q; nothing of it is scheduled",
		work.Spec.PromiseName, request, want, work.Namespace)
}
