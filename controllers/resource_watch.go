package controllers

import (
	"context"
	"maps"

	"kratix.dev/kratix/internal/names"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kratix.dev/kratix/api/v1alpha1"
)

// newController builds the (not yet started) controller "resource-<promise>": the Promise's
// requests (spec, label and deletion changes), the Jobs of their workflows, their Works and
// WorkPlacements, their ResourceBindings, and the Promise itself, whose spec changes re-plan every
// request in one pass.
func (r *ResourceReconciler) newController(mgr ctrl.Manager, concurrency int) (controller.Controller, error) {
	name := "resource-" + r.Promise
	log := mgr.GetLogger().WithValues("controller", name)
	c, err := controller.NewUnmanaged(name, controller.Options{
		Reconciler:              r,
		MaxConcurrentReconciles: concurrency,
		// A Promise deleted and created again gets a controller of the same name.
		SkipNameValidation: ptr.To(true),
		LogConstructor: func(req *reconcile.Request) logr.Logger {
			if req != nil {
				return log.WithValues("kind", r.GVK.Kind, "name", req.Name, "namespace", req.Namespace)
			}
			return log
		},
	})
	if err != nil {
		return nil, err
	}
	cache := mgr.GetCache()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.GVK)
	sources := []source.Source{
		source.Kind[client.Object](cache, obj, &handler.EnqueueRequestForObject{},
			predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, deletionStarted(), rolloutAdmission())),
		source.Kind[client.Object](cache, &batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.requestsOfLabels(ctx, log, o.GetLabels())
		}), r.ownLabels(v1alpha1.LabelWorkflowType, v1alpha1.WorkflowTypeResource)),
		source.Kind[client.Object](cache, &v1alpha1.Work{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			w := o.(*v1alpha1.Work)
			return requestOf(w.Spec.ResourceNamespace, w.Spec.ResourceName)
		}), r.ownLabels(v1alpha1.LabelWorkType, v1alpha1.WorkTypeResource)),
		source.Kind[client.Object](cache, &v1alpha1.WorkPlacement{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			wp := o.(*v1alpha1.WorkPlacement)
			if wp.Spec.PromiseName != r.Promise {
				return nil
			}
			return requestOf(wp.Spec.ResourceNamespace, wp.Spec.ResourceName)
		})),
		// A binding that comes, goes or names another version changes the spec its request runs.
		source.Kind[client.Object](cache, &v1alpha1.ResourceBinding{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			b := o.(*v1alpha1.ResourceBinding)
			if b.Spec.PromiseRef.Name != r.Promise {
				return nil
			}
			return requestOf(b.Namespace, b.Spec.ResourceRef.Name)
		}), predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{})),
		source.Kind[client.Object](cache, &v1alpha1.Promise{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return r.allRequests(ctx, log)
		}), predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == r.Promise }),
			predicate.Or[client.Object](promiseSpecChanged(), requirementsChanged(), rolloutPhaseChanged())),
	}
	for _, s := range sources {
		if err := c.Watch(s); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ownLabels passes the objects of this Promise's resource workflows: label key=value and the
// Promise's name.
func (r *ResourceReconciler) ownLabels(key, value string) predicate.Predicate {
	promise := names.LabelValue(r.Promise)
	return predicate.NewPredicateFuncs(func(o client.Object) bool {
		l := o.GetLabels()
		return l[v1alpha1.LabelPromiseName] == promise && l[key] == value
	})
}

// promiseSpecChanged passes Promise updates that change its spec, and nothing else: creation is
// the requests' own events.
func promiseSpecChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				!maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
		},
	}
}

// rolloutAdmission passes a request whose kratix.io/rollout-spec changed: a rollout admitted it
// to a new spec, or sent it back.
func rolloutAdmission() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetAnnotations()[v1alpha1.AnnotationRolloutSpec] != e.ObjectNew.GetAnnotations()[v1alpha1.AnnotationRolloutSpec]
		},
	}
}

// requestOf is the reconcile request of a resource request, none for an empty name.
func requestOf(namespace, name string) []reconcile.Request {
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}}}
}

// requestsOfLabels maps a workflow Job's labels to its request. A name too long for a label
// value was shortened: the requests of the namespace whose shortened name matches are found in
// the cache.
func (r *ResourceReconciler) requestsOfLabels(ctx context.Context, log logr.Logger, labels map[string]string) []reconcile.Request {
	name, namespace := labels[v1alpha1.LabelResourceName], labels[v1alpha1.LabelResourceNamespace]
	if !names.MayBeShortened(name) {
		return requestOf(namespace, name)
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(r.GVK.GroupVersion().WithKind(r.GVK.Kind + "List"))
	if err := r.Requests.List(ctx, list, client.InNamespace(namespace)); err != nil {
		log.Error(err, "list the requests to find the one of a shortened label; its event is dropped", "label", v1alpha1.LabelResourceName, "value", name, "namespace", namespace)
		return nil
	}
	var reqs []reconcile.Request
	for _, item := range list.Items {
		if names.LabelValue(item.GetName()) == name {
			reqs = append(reqs, requestOf(namespace, item.GetName())...)
		}
	}
	return reqs
}

// allRequests lists every request of the Promise's API from the cache.
func (r *ResourceReconciler) allRequests(ctx context.Context, log logr.Logger) []reconcile.Request {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(r.GVK.GroupVersion().WithKind(r.GVK.Kind + "List"))
	if err := r.Requests.List(ctx, list); err != nil {
		log.Error(err, "list the Promise's requests")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, item := range list.Items {
		reqs = append(reqs, requestOf(item.GetNamespace(), item.GetName())...)
	}
	return reqs
}
