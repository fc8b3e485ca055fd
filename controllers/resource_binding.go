package controllers

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/pipeline"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=resourcebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=platform.kratix.io,resources=resourcebindings/status,verbs=get;update;patch

// bindingOf finds the request's ResourceBinding in the cache, as upstream Kratix does: by the
// kratix.io/promise-name and kratix.io/resource-name labels in the request's namespace, not by
// name. It is nil when there is none; more than one is an error.
func (r *ResourceReconciler) bindingOf(ctx context.Context, obj *unstructured.Unstructured) (*v1alpha1.ResourceBinding, error) {
	var list v1alpha1.ResourceBindingList
	if err := r.Client.List(ctx, &list, client.InNamespace(r.bindingNamespace(obj)), client.MatchingLabels{
		v1alpha1.LabelPromiseName:  names.LabelValue(r.Promise),
		v1alpha1.LabelResourceName: names.LabelValue(obj.GetName()),
	}); err != nil {
		return nil, fmt.Errorf("list the request's ResourceBindings: %w", err)
	}
	var found []*v1alpha1.ResourceBinding
	for i := range list.Items {
		b := &list.Items[i]
		if b.Spec.PromiseRef.Name == r.Promise && b.Spec.ResourceRef.Name == obj.GetName() && b.Spec.ResourceRef.Namespace == obj.GetNamespace() && b.DeletionTimestamp.IsZero() {
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

// bindingNamespace is where the request's ResourceBinding lives: the request's namespace, or
// for a cluster-scoped request (a binding is namespaced) the platform namespace.
func (r *ResourceReconciler) bindingNamespace(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns
	}
	return pipeline.Workflow{}.Namespace(r.Driver.options)
}

// bindingName is the name of the ResourceBinding the engine creates for a request, as upstream
// Kratix derives it: "<request>-<promise>", shortened with a digest when too long.
func bindingName(request, promise string) string {
	return names.Shorten(request + "-" + promise)
}

// bindingLabels are the labels of a request's ResourceBinding: the request's own, except the
// trigger kratix.io/manual-reconciliation, and the labels the binding is found by.
func bindingLabels(promise string, obj *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	maps.Copy(out, obj.GetLabels())
	delete(out, v1alpha1.LabelManualReconciliation)
	out[v1alpha1.LabelPromiseName] = names.LabelValue(promise)
	out[v1alpha1.LabelResourceName] = names.LabelValue(obj.GetName())
	return out
}

// requestBindingVersion is the version the request's binding asked for when the engine last
// looked (status.resourceBindingVersion, upstream's): a binding deleted by hand comes back with it.
func requestBindingVersion(obj *unstructured.Unstructured) string {
	v, _, _ := unstructured.NestedString(obj.Object, "status", "resourceBindingVersion")
	return v
}

// ensureBinding runs before the request's revision is chosen. It creates the request's
// ResourceBinding when it has none: spec.version latest, or the version recorded in
// status.resourceBindingVersion when the binding was deleted, so that deleting a binding does not
// move its request. It keeps the binding's labels following the request's, and carries out a
// retry asked on the binding (its kratix.io/manual-reconciliation=true label moves to the
// request, which runs its workflow again). It records the binding's version in the facts.
func (r *ResourceReconciler) ensureBinding(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured, binding *v1alpha1.ResourceBinding, f *resourceFacts) (*v1alpha1.ResourceBinding, error) {
	want := bindingLabels(promise.Name, obj)
	if binding == nil {
		var err error
		if binding, err = r.createBinding(ctx, promise, obj, want); err != nil {
			return nil, err
		}
	}
	f.bindingVersion = binding.Spec.Version
	retry := binding.Labels[v1alpha1.LabelManualReconciliation] == v1alpha1.LabelTriggerValue
	if retry && obj.GetLabels()[v1alpha1.LabelManualReconciliation] != v1alpha1.LabelTriggerValue {
		if err := addLabel(ctx, r.Client, obj, v1alpha1.LabelManualReconciliation); err != nil {
			return nil, err
		}
	}
	if !retry && maps.Equal(binding.Labels, want) {
		return binding, nil
	}
	updated := binding.DeepCopy()
	updated.Labels = want
	if err := r.Client.Update(ctx, updated); err != nil {
		return nil, fmt.Errorf("update the labels of ResourceBinding %s: %w", binding.Name, err)
	}
	return updated, nil
}

// createBinding creates the request's ResourceBinding, or adopts the one of its name that binds
// the request but lost its labels.
func (r *ResourceReconciler) createBinding(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured, labels map[string]string) (*v1alpha1.ResourceBinding, error) {
	version := requestBindingVersion(obj)
	if version == "" {
		version = v1alpha1.BindingVersionLatest
	}
	binding := &v1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: bindingName(obj.GetName(), promise.Name), Namespace: r.bindingNamespace(obj), Labels: labels},
		Spec: v1alpha1.ResourceBindingSpec{
			Version:     version,
			PromiseRef:  v1alpha1.PromiseRef{Name: promise.Name},
			ResourceRef: v1alpha1.ResourceRef{Name: obj.GetName(), Namespace: obj.GetNamespace()},
		},
	}
	err := r.Client.Create(ctx, binding)
	if err == nil {
		r.Recorder.Eventf(obj, binding, corev1.EventTypeNormal, v1alpha1.ReasonBindingCreated, "Bind",
			"Binding %s created for promise %s version %s", binding.Name, promise.Name, version)
		return binding, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create ResourceBinding %s: %w", binding.Name, err)
	}
	existing := &v1alpha1.ResourceBinding{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(binding), existing); err != nil {
		// Created a moment ago and not yet in the cache: the next reconcile finds it.
		return nil, fmt.Errorf("read ResourceBinding %s: %w", binding.Name, err)
	}
	if existing.Spec.PromiseRef.Name != promise.Name || existing.Spec.ResourceRef.Name != obj.GetName() || existing.Spec.ResourceRef.Namespace != obj.GetNamespace() || !existing.DeletionTimestamp.IsZero() {
		return nil, fmt.Errorf("ResourceBinding %s exists and does not bind request %s/%s to Promise %s", binding.Name, obj.GetNamespace(), obj.GetName(), promise.Name)
	}
	return existing, nil
}

// syncBinding records the outcome of the request's Configure workflow in its binding's status,
// as upstream Kratix does, writing only when it changes: condition UpgradeSucceeded (in progress
// while the chosen version's run starts or runs, complete once it finished, failed with the
// workflow's failure), lastAppliedVersion on completion and failedVersion on failure (cleared by
// a success or a new attempt). Upstream leaves the status of an unversioned Promise's bindings
// alone, and so does the engine.
func (r *ResourceReconciler) syncBinding(ctx context.Context, obj *unstructured.Unstructured, binding *v1alpha1.ResourceBinding, f resourceFacts) error {
	if binding == nil {
		return nil
	}
	version := f.choice.version
	if f.choice.missing != "" {
		version = f.choice.missing
	}
	if version == "" || version == v1alpha1.UnversionedPromiseVersion {
		return nil
	}
	status := *binding.Status.DeepCopy()
	gen := binding.Generation
	switch {
	case f.invalid != nil:
		conditions.Set(&status.Conditions, v1alpha1.ConditionUpgradeSucceeded, metav1.ConditionFalse, v1alpha1.ReasonUpgradeFailed, f.invalid.Error(), gen)
		status.FailedVersion = version
	case f.decision.Verdict == pipeline.Finish:
		conditions.Set(&status.Conditions, v1alpha1.ConditionUpgradeSucceeded, metav1.ConditionTrue, v1alpha1.ReasonUpgradeComplete, fmt.Sprintf("Resource is at version %s", version), gen)
		status.LastAppliedVersion, status.FailedVersion = version, ""
	case f.decision.Verdict == pipeline.Fail:
		msg := f.decision.Failure
		if msg == "" {
			msg = fmt.Sprintf("the Resource Configure workflow of version %s failed", version)
		}
		conditions.Set(&status.Conditions, v1alpha1.ConditionUpgradeSucceeded, metav1.ConditionFalse, v1alpha1.ReasonUpgradeFailed, msg, gen)
		status.FailedVersion = version
	case f.decision.Verdict == pipeline.Start || f.decision.Verdict == pipeline.Wait:
		msg := fmt.Sprintf("Upgrade to version %s is in progress", version)
		if status.LastAppliedVersion == version {
			msg = fmt.Sprintf("Reconciliation requested for version %s", version)
		}
		conditions.Set(&status.Conditions, v1alpha1.ConditionUpgradeSucceeded, metav1.ConditionUnknown, v1alpha1.ReasonUpgradeInProgress, msg, gen)
		status.FailedVersion = ""
	default:
		return nil // suspended: the binding says what it said
	}
	if equality.Semantic.DeepEqual(status, binding.Status) {
		return nil
	}
	updated := binding.DeepCopy()
	updated.Status = status
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("write the status of ResourceBinding %s: %w", binding.Name, err)
	}
	return nil
}

// deleteBinding deletes the request's ResourceBinding, for the finalizer
// kratix.io/resource-binding-cleanup.
func (r *ResourceReconciler) deleteBinding(ctx context.Context, obj *unstructured.Unstructured) error {
	binding, err := r.bindingOf(ctx, obj)
	if err != nil || binding == nil {
		return err
	}
	if err := r.Client.Delete(ctx, binding); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete ResourceBinding %s: %w", binding.Name, err)
	}
	return nil
}
