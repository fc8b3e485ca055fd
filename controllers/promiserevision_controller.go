package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/promiseapi"
)

// PromiseRevisionReconciler carries out upstream Kratix's kratix.io/resource-request-cleanup
// finalizer of PromiseRevisions: deleting a revision deletes the resource requests whose
// ResourceBinding names its version, unless the revision carries
// kratix.io/skip-resource-request-cleanup-on-delete=true. Revisions the engine keeps for a rollout
// (kratix.io/rollout-baseline) get no finalizer: no binding names them. The finalizer never holds
// a Promise's deletion up: the Promise deletes its requests, and with them their bindings, before
// its revisions go.
type PromiseRevisionReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// PlatformNamespace holds the bindings of cluster-scoped requests.
	PlatformNamespace string
}

// Reconcile adds or carries out the revision's finalizer.
func (r *PromiseRevisionReconciler) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	rev := &v1alpha1.PromiseRevision{}
	if err := r.Client.Get(ctx, req.NamespacedName, rev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	wanted := rev.Annotations[v1alpha1.AnnotationSkipRequestCleanup] != v1alpha1.LabelTriggerValue &&
		rev.Labels[v1alpha1.LabelRolloutBaseline] != v1alpha1.LabelTriggerValue
	has := controllerutil.ContainsFinalizer(rev, v1alpha1.FinalizerRevisionRequestCleanup)
	switch {
	case rev.DeletionTimestamp.IsZero() && wanted && !has:
		return ctrl.Result{}, addFinalizer(ctx, r.Client, rev, v1alpha1.FinalizerRevisionRequestCleanup)
	case rev.DeletionTimestamp.IsZero() && !wanted && has:
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, rev, v1alpha1.FinalizerRevisionRequestCleanup)
	case rev.DeletionTimestamp.IsZero() || !has:
		return ctrl.Result{}, nil
	}
	if wanted {
		if err := r.deleteBoundRequests(ctx, rev); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, rev, v1alpha1.FinalizerRevisionRequestCleanup)
}

// deleteBoundRequests deletes the requests whose binding names the revision's version. Without
// its Promise (or its API) there are none: the Promise deleted them.
func (r *PromiseRevisionReconciler) deleteBoundRequests(ctx context.Context, rev *v1alpha1.PromiseRevision) error {
	promise := &v1alpha1.Promise{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: rev.Spec.PromiseRef.Name}, promise); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !promiseapi.HasAPI(promise) {
		return nil
	}
	crd, err := promiseapi.CRD(promise)
	if err != nil {
		return nil // an API the engine cannot serve has no requests
	}
	gvk := promiseapi.GroupVersionKind(crd)
	var bindings v1alpha1.ResourceBindingList
	if err := r.Client.List(ctx, &bindings, client.MatchingLabels{v1alpha1.LabelPromiseName: names.LabelValue(promise.Name)}); err != nil {
		return fmt.Errorf("list the Promise's ResourceBindings: %w", err)
	}
	for _, b := range bindings.Items {
		if b.Spec.PromiseRef.Name != promise.Name || b.Spec.Version != rev.Spec.Version {
			continue
		}
		if !r.bindsWhereItLives(&b, promiseapi.Namespaced(crd)) {
			// Not the request's binding: the engine looks for it in the request's namespace (the
			// platform namespace for a cluster-scoped request) only. Whoever may write bindings in
			// one namespace must not have another namespace's requests deleted.
			continue
		}
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		obj.SetNamespace(b.Spec.ResourceRef.Namespace)
		obj.SetName(b.Spec.ResourceRef.Name)
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete request %s/%s bound to version %s: %w", obj.GetNamespace(), obj.GetName(), rev.Spec.Version, err)
		}
		r.Recorder.Eventf(rev, obj, corev1.EventTypeNormal, v1alpha1.ReasonRequestDeleted, "Delete",
			"deleted request %s/%s, bound to version %s", obj.GetNamespace(), obj.GetName(), rev.Spec.Version)
	}
	return nil
}

// bindsWhereItLives reports whether the binding lives where the engine finds the binding of the
// request it names (ResourceReconciler.bindingNamespace).
func (r *PromiseRevisionReconciler) bindsWhereItLives(b *v1alpha1.ResourceBinding, namespaced bool) bool {
	if namespaced {
		return b.Spec.ResourceRef.Namespace != "" && b.Spec.ResourceRef.Namespace == b.Namespace
	}
	return b.Spec.ResourceRef.Namespace == "" && b.Namespace == r.PlatformNamespace
}

// setupWithManager registers the controller "promiserevision".
func (r *PromiseRevisionReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("promiserevision").
		For(&v1alpha1.PromiseRevision{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}, deletionStarted()))).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}
