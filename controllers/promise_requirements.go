package controllers

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
)

// checkRequirements evaluates spec.requiredPromises: each named Promise must exist, not be
// being deleted, carry the version named (its kratix.io/promise-version label; any version when
// none is named) and be Available. It does not block the other phases: the API is installed and
// the Promise's own workflows run, but the Promise stays Unavailable and its requests wait.
func (r *PromiseReconciler) checkRequirements(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	if len(promise.Spec.RequiredPromises) == 0 {
		return nil
	}
	f.requirementsChecked = true
	var missing []string
	for _, req := range promise.Spec.RequiredPromises {
		state, err := r.requirementState(ctx, req)
		if err != nil {
			return err
		}
		f.requirements = append(f.requirements, v1alpha1.RequiredPromiseStatus{Name: req.Name, Version: req.Version, State: state})
		if state != v1alpha1.RequirementStateInstalled {
			missing = append(missing, describeRequirement(req, state))
		}
	}
	if len(missing) > 0 {
		f.requirementsUnmet = "required Promises not fulfilled: " + strings.Join(missing, "; ")
	}
	return nil
}

// requirementState is the state of one required Promise.
func (r *PromiseReconciler) requirementState(ctx context.Context, req v1alpha1.RequiredPromise) (string, error) {
	required := &v1alpha1.Promise{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: req.Name}, required)
	switch {
	case apierrors.IsNotFound(err):
		return v1alpha1.RequirementStateNotInstalled, nil
	case err != nil:
		return "", fmt.Errorf("get required Promise %s: %w", req.Name, err)
	case !required.DeletionTimestamp.IsZero():
		return v1alpha1.RequirementStateNotInstalled, nil
	case req.Version != "" && required.Labels[v1alpha1.LabelPromiseVersion] != req.Version:
		return v1alpha1.RequirementStateNotInstalledAtSpecifiedVersion, nil
	case !promiseAvailable(required):
		return v1alpha1.RequirementStateNotAvailable, nil
	default:
		return v1alpha1.RequirementStateInstalled, nil
	}
}

// promiseAvailable reports whether the Promise's status says Available, for its current
// generation.
func promiseAvailable(p *v1alpha1.Promise) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionAvailable)
	return p.Status.Status == "Available" && c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
}

// describeRequirement names a required Promise that is not fulfilled, and why.
func describeRequirement(req v1alpha1.RequiredPromise, state string) string {
	name := req.Name
	if req.Version != "" {
		name += " " + req.Version
	}
	switch state {
	case v1alpha1.RequirementStateNotInstalled:
		return name + " is not installed"
	case v1alpha1.RequirementStateNotInstalledAtSpecifiedVersion:
		return name + " is installed at another version"
	default:
		return name + " is not available"
	}
}

// setRequirementsStatus writes status.requiredPromises and RequirementsFulfilled; both go when
// the Promise requires nothing.
func setRequirementsStatus(p *v1alpha1.Promise, f promiseFacts) {
	s := &p.Status
	if !f.requirementsChecked {
		s.RequiredPromises = nil
		meta.RemoveStatusCondition(&s.Conditions, v1alpha1.ConditionRequirementsFulfilled)
		return
	}
	s.RequiredPromises = f.requirements
	if f.requirementsUnmet != "" {
		conditions.Set(&s.Conditions, v1alpha1.ConditionRequirementsFulfilled, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotInstalled, f.requirementsUnmet, p.Generation)
		return
	}
	conditions.Set(&s.Conditions, v1alpha1.ConditionRequirementsFulfilled, metav1.ConditionTrue, v1alpha1.ReasonRequirementsInstalled, "every required Promise is installed and available", p.Generation)
}

// requirementsFulfilled reports whether a resource request of the Promise may run its workflows:
// the Promise requires nothing, or its controller found every requirement fulfilled for its
// current generation. The message says what the request waits for otherwise.
func requirementsFulfilled(p *v1alpha1.Promise) (bool, string) {
	if len(p.Spec.RequiredPromises) == 0 {
		return true, ""
	}
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionRequirementsFulfilled)
	switch {
	case c == nil || c.ObservedGeneration != p.Generation:
		return false, fmt.Sprintf("waiting for Promise %s to check its required Promises", p.Name)
	case c.Status != metav1.ConditionTrue:
		return false, fmt.Sprintf("Promise %s is unavailable: %s", p.Name, c.Message)
	default:
		return true, ""
	}
}

// dependentPromises maps a Promise to the Promises that require it, from the cache.
func dependentPromises(ctx context.Context, c client.Reader, log logr.Logger, name string) []reconcile.Request {
	var promises v1alpha1.PromiseList
	if err := c.List(ctx, &promises); err != nil {
		log.Error(err, "list the Promises to find those that require one; its event is dropped", "promise", name)
		return nil
	}
	var reqs []reconcile.Request
	for _, p := range promises.Items {
		for _, req := range p.Spec.RequiredPromises {
			if req.Name == name {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}})
				break
			}
		}
	}
	return reqs
}

// requirementRelevant passes what can change whether a Promise fulfils another's requirement:
// its creation and deletion, the start of its deletion, its labels (the version) and its
// availability.
func requirementRelevant() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.Promise)
			n, ok2 := e.ObjectNew.(*v1alpha1.Promise)
			if !ok1 || !ok2 {
				return true
			}
			return !maps.Equal(o.Labels, n.Labels) || o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() ||
				promiseAvailable(o) != promiseAvailable(n)
		},
	}
}

// requirementsChanged passes Promise updates that change RequirementsFulfilled, so that its
// waiting requests go on (or stop waiting) when it flips.
func requirementsChanged() predicate.Predicate {
	return promiseChanged(func(o, n *v1alpha1.Promise) bool {
		ok1, _ := requirementsFulfilled(o)
		ok2, _ := requirementsFulfilled(n)
		return ok1 != ok2
	})
}

// promiseChanged passes the updates of a Promise for which changed is true; no create, delete
// or generic event.
func promiseChanged(changed func(o, n *v1alpha1.Promise) bool) predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.Promise)
			n, ok2 := e.ObjectNew.(*v1alpha1.Promise)
			return ok1 && ok2 && changed(o, n)
		},
	}
}
