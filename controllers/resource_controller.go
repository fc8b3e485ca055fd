package controllers

import (
	"context"
	"fmt"
	"time"

	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/internal/names"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// DefaultResourceResyncInterval is how often a resource request's Configure workflow runs again
// on its own, so that what it renders follows the world outside (images, external systems).
const DefaultResourceResyncInterval = 10 * time.Hour

// ResourceReconciler reconciles the resource requests of one Promise's API: it runs the Resource
// Configure workflow whenever the request's spec or the Promise's spec changed (the Jobs' hash),
// reports the workflow and its Works in the request's conditions, and on deletion runs the
// Resource Delete workflow and removes the request's Works, and so its files.
type ResourceReconciler struct {
	Client client.Client
	// Requests reads the requests: the manager's cache, which the manager's client does not use
	// for unstructured objects (it would read each from the API server).
	Requests client.Reader
	Recorder events.EventRecorder
	Driver   *workflowDriver
	// Promise is the name of the Promise whose API this controller serves.
	Promise string
	// GVK of the requests.
	GVK schema.GroupVersionKind
	// ResyncInterval is how long after a finished run the workflow runs again, unless the
	// Promise asks for another reconciliation interval.
	ResyncInterval time.Duration
	// ReconcileAfterFailure runs a failed configure workflow again after the interval.
	ReconcileAfterFailure bool
	// RerunStatusDelay is how long a re-run of a Ready request may run before its status says
	// so (see heldFor); negative: every run is written as it starts.
	RerunStatusDelay time.Duration

	specHash specHashMemo
}

// Reconcile moves one resource request forward.
func (r *ResourceReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result ctrl.Result, retErr error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.GVK)
	if err := r.Requests.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	promise := &v1alpha1.Promise{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: r.Promise}, promise); err != nil {
		// A Promise that is gone deletes its requests itself.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := obj.DeepCopy()
	f := resourceFacts{generation: obj.GetGeneration(), paused: obj.GetLabels()[v1alpha1.LabelPaused] == v1alpha1.LabelTriggerValue}
	defer func() {
		until, err := r.patchStatus(ctx, base, obj, f)
		result, retErr = afterStatusPatch(requeueWithin(result, until), retErr, err)
	}()
	if f.paused {
		return ctrl.Result{}, nil
	}
	// A request made by upstream Kratix carries finalizers the engine does not handle.
	if err := removeFinalizer(ctx, r.Client, obj, v1alpha1.LegacyResourceFinalizers...); err != nil {
		return ctrl.Result{}, err
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return r.finalize(ctx, promise, obj, &f)
	}
	finalizers := []string{v1alpha1.FinalizerWorkCleanup, v1alpha1.FinalizerBindingCleanup}
	if len(promise.Spec.Workflows.Resource.Delete) > 0 {
		finalizers = append(finalizers, v1alpha1.FinalizerDeleteWorkflows)
	}
	if err := addFinalizer(ctx, r.Client, obj, finalizers...); err != nil {
		return ctrl.Result{}, err
	}
	// The finalizers' patches moved the request's resourceVersion and left its status as base
	// has it: the status patch is guarded by the new version, or a new request's first status
	// write would conflict with the engine's own finalizer write and the reconcile run twice.
	base.SetResourceVersion(obj.GetResourceVersion())
	if ok, why := requirementsFulfilled(promise); !ok {
		// The Promise's required Promises are not all there: the workflow waits, and the
		// Promise's watch brings the request back once they are.
		f.waitingForRequirements = why
		return ctrl.Result{}, nil
	}
	binding, wait, err := r.chooseSpec(ctx, promise, obj, &f)
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case wait:
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if f.choice.missing == "" {
		if err := r.configure(ctx, f.choice.promise, obj, &f); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.observeWorks(ctx, obj, &f); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.syncBinding(ctx, obj, binding, f); err != nil {
		return ctrl.Result{}, err
	}
	return resourceResult(f, f.policy)
}

// chooseSpec keeps the request's ResourceBinding and chooses the spec of the Promise its
// Configure workflow runs (f.choice). wait says the spec it must keep is not in the cache yet:
// the request comes back shortly. A binding naming a version without a revision makes the
// workflow invalid, with a Warning Event.
func (r *ResourceReconciler) chooseSpec(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured, f *resourceFacts) (*v1alpha1.ResourceBinding, bool, error) {
	binding, err := r.bindingOf(ctx, obj)
	if err != nil {
		return nil, false, err
	}
	if binding, err = r.ensureBinding(ctx, promise, obj, binding, f); err != nil {
		return nil, false, err
	}
	if f.choice, err = r.selectRevision(ctx, promise, obj, binding); err != nil {
		return nil, false, err
	}
	if f.choice.missing != "" {
		f.invalid = fmt.Errorf("its ResourceBinding asks for version %q of Promise %s, which has no PromiseRevision of that version", f.choice.missing, promise.Name)
		r.Recorder.Eventf(obj, binding, corev1.EventTypeWarning, v1alpha1.ReasonRevisionNotFound, "Configure", "%v", f.invalid)
	}
	return binding, f.choice.unresolved != "", nil
}

// configure advances the Resource Configure workflow and records the decision in the facts.
func (r *ResourceReconciler) configure(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured, f *resourceFacts) error {
	w := pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: promise, Object: obj}
	var err error
	f.policy = workflowPolicy{resync: reconciliationInterval(promise, r.ResyncInterval), reconcileAfterFailure: r.ReconcileAfterFailure,
		quietStart: r.RerunStatusDelay > 0 && settled(obj)}
	f.decision, f.invalid, err = r.Driver.step(ctx, r.Recorder, obj, w, f.policy)
	return err
}

// observeWorks reads the request's Works and their placements into the facts.
func (r *ResourceReconciler) observeWorks(ctx context.Context, obj *unstructured.Unstructured, f *resourceFacts) error {
	works, err := ResourceWorks(ctx, r.Client, r.Promise, obj)
	if err != nil {
		return err
	}
	f.worksObserved = true
	for i := range works {
		f.works = append(f.works, workOutcome(&works[i]))
		wps, err := cachedPlacementsOf(ctx, r.Client, &works[i])
		if err != nil {
			return err
		}
		for _, wp := range wps {
			if wp.Status.VersionID != "" && !wp.IsMisscheduled() {
				f.outputs = append(f.outputs, resourceOutput{Destination: wp.Spec.TargetDestinationName, Path: wp.Status.Path, Version: wp.Status.VersionID})
			}
		}
	}
	return nil
}

// ResourceWorks lists the Works the request's workflows wrote.
func ResourceWorks(ctx context.Context, c client.Reader, promise string, obj *unstructured.Unstructured) ([]v1alpha1.Work, error) {
	// Not by kratix.io/resource-namespace: upstream Kratix sets it only on Works in a pipeline
	// namespace, and the spec says whose a Work is anyway.
	labels := client.MatchingLabels{
		v1alpha1.LabelPromiseName:  names.LabelValue(promise),
		v1alpha1.LabelWorkType:     v1alpha1.WorkTypeResource,
		v1alpha1.LabelResourceName: names.LabelValue(obj.GetName()),
	}
	var works v1alpha1.WorkList
	if err := c.List(ctx, &works, labels); err != nil {
		return nil, fmt.Errorf("list the Works of the request: %w", err)
	}
	// A shortened label value can be shared by two long names, and another Promise's pipeline
	// may write a Work that wears this request's labels: keep the request's own.
	out := works.Items[:0]
	for _, w := range works.Items {
		if w.Spec.PromiseName == promise && w.Spec.ResourceName == obj.GetName() && w.Spec.ResourceNamespace == obj.GetNamespace() {
			out = append(out, w)
		}
	}
	return out, nil
}

// finalize runs the Resource Delete workflow, then deletes the request's Works and waits for
// them to be gone (their placements remove the files), removing each finalizer when its part is
// done. Last, before the request goes, it removes the ServiceAccounts and RBAC of the request's
// own pipelines (removeRequestAccess), which have no owner to take them away where they are
// outside the request's namespace or of its delete workflow.
func (r *ResourceReconciler) finalize(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured, f *resourceFacts) (ctrl.Result, error) {
	f.deleting = true
	if controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerDeleteWorkflows) {
		applied, err := r.appliedPromise(ctx, promise, obj)
		if err != nil {
			return ctrl.Result{}, err
		}
		w := pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionDelete, Promise: applied, Object: obj}
		done, decision, invalid, err := r.Driver.runDelete(ctx, r.Recorder, obj, w)
		f.decision, f.invalid = decision, invalid
		if err != nil {
			return ctrl.Result{}, err
		}
		if !done {
			// Running, failed (an Event says so) or invalid: the Job watch, a manual
			// reconciliation or a change of the Promise brings the request back.
			return resourceResult(*f, workflowPolicy{})
		}
		if err := removeFinalizer(ctx, r.Client, obj, v1alpha1.FinalizerDeleteWorkflows); err != nil {
			return ctrl.Result{}, err
		}
	}
	works, err := ResourceWorks(ctx, r.Client, r.Promise, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	if f.worksLeft, err = deleteAll(ctx, r.Client, works); err != nil {
		return ctrl.Result{}, err
	}
	if f.worksLeft > 0 {
		return ctrl.Result{}, nil // the Work watch brings the request back as they go
	}
	if err := r.Driver.removeRequestAccess(ctx, r.Promise, obj); err != nil {
		return ctrl.Result{}, err
	}
	if controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerBindingCleanup) {
		if err := r.deleteBinding(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
		if err := removeFinalizer(ctx, r.Client, obj, v1alpha1.FinalizerBindingCleanup); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := removeFinalizer(ctx, r.Client, obj, v1alpha1.FinalizerWorkCleanup); err != nil {
		return ctrl.Result{}, err
	}
	f.finalized = len(obj.GetFinalizers()) == 0
	return ctrl.Result{}, nil
}

// patchStatus writes the conditions, message and outputs computed from the facts into the
// request's status, with an optimistic lock: the pipeline's status-writer writes the same status.
// A re-run's progress may be held back (heldFor): until, when positive, is when the reconcile
// must come back to write it.
func (r *ResourceReconciler) patchStatus(ctx context.Context, base, obj *unstructured.Unstructured, f resourceFacts) (until time.Duration, err error) {
	if f.finalized || f.choice.unresolved != "" {
		return 0, nil
	}
	before, err := conditions.FromUnstructured(base)
	if err != nil {
		return 0, err
	}
	after := append([]metav1.Condition(nil), before...)
	setResourceConditions(&after, f)
	if !f.deleting && !f.paused && f.choice.specHash != "" {
		setUpdatePending(&after, f.choice, r.Promise, f.generation)
	}
	if held, until := heldFor(before, after, f, r.RerunStatusDelay, time.Now()); held {
		return until, nil
	}
	if f.policy.quietStart && f.decision.Verdict == pipeline.Start {
		announceStart(r.Recorder, obj, pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure}, f.decision)
	}
	if err := conditions.ToUnstructured(obj, after); err != nil {
		return 0, err
	}
	setResourceMessage(obj, f)
	if !f.deleting {
		if err := setRevisionStatus(obj, f.choice); err != nil {
			return 0, err
		}
		if f.bindingVersion != "" {
			if err := unstructured.SetNestedField(obj.Object, f.bindingVersion, "status", "resourceBindingVersion"); err != nil {
				return 0, err
			}
		}
	}
	if f.worksObserved {
		if err := setResourceOutputs(obj, f.outputs); err != nil {
			return 0, err
		}
	}
	if wrote, err := writeStatus(ctx, r.Client, base, obj, base.Object["status"], obj.Object["status"]); !wrote {
		return 0, err
	}
	recordTransition(r.Recorder, obj, before, after, v1alpha1.ConditionReady, "Reconcile")
	if f.policy.quietStart && f.decision.Verdict != pipeline.Start {
		announceLongRerun(r.Recorder, obj, before, after)
	}
	return 0, nil
}
