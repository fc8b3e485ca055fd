package controllers

import (
	"context"
	"fmt"
	"time"

	"kratix.dev/kratix/internal/names"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/promiseapi"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=promises,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promises/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promises/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.kratix.io,resources=works,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promises,verbs=write-promise-works;write-resource-works
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// requestsDeletionPoll is how often a Promise being deleted checks whether its requests are
// gone.
const requestsDeletionPoll = time.Second

// PromiseReconciler makes a Promise available: it installs the CRD of its API and keeps it up to
// date, starts the controller of its resource requests, keeps one Work of its static
// dependencies, runs its Promise Configure workflow, and on deletion takes everything down in
// order: the Promise Delete workflow, the requests (their delete workflows run), the Works, and
// last the CRD.
type PromiseReconciler struct {
	Client    client.Client
	APIReader client.Reader
	// Requests reads the Promise's resource requests: the manager's cache.
	Requests  client.Reader
	Recorder  events.EventRecorder
	Driver    *workflowDriver
	Resources *resourceControllers
	// ResyncInterval is how long after a finished run the Promise Configure workflow runs
	// again, unless the Promise asks for another reconciliation interval; never when zero.
	ResyncInterval time.Duration
	// ReconcileAfterFailure runs a failed Promise Configure workflow again after the interval.
	ReconcileAfterFailure bool
}

// Reconcile moves one Promise forward.
func (r *PromiseReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result ctrl.Result, retErr error) {
	promise := &v1alpha1.Promise{}
	if err := r.Client.Get(ctx, req.NamespacedName, promise); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	f := promiseFacts{paused: promise.Labels[v1alpha1.LabelPaused] == v1alpha1.LabelTriggerValue}
	if !f.paused {
		if err := removeFinalizer(ctx, r.Client, promise, v1alpha1.LegacyPromiseFinalizers...); err != nil {
			return ctrl.Result{}, err
		}
	}
	base := promise.DeepCopy()
	defer func() { result, retErr = afterStatusPatch(result, retErr, r.patchStatus(ctx, base, promise, f)) }()
	switch {
	case f.paused:
		return ctrl.Result{}, nil
	case !promise.DeletionTimestamp.IsZero():
		if err := r.finalize(ctx, promise, &f); err != nil {
			return ctrl.Result{}, err
		}
		if f.waitingForRequests {
			// Nothing watches the requests of every Promise: look again shortly.
			return ctrl.Result{RequeueAfter: requestsDeletionPoll}, nil
		}
		return promiseResult(f)
	}
	if err := addFinalizer(ctx, r.Client, promise, promiseFinalizers(promise)...); err != nil {
		return ctrl.Result{}, err
	}
	// As a request's (ResourceReconciler.Reconcile): the status patch is guarded by the version
	// the finalizers' patch made, which left the status as base has it.
	base.SetResourceVersion(promise.GetResourceVersion())
	phases := []func(context.Context, *v1alpha1.Promise, *promiseFacts) error{
		r.ensureAPI, r.ensureRevision, r.ensureDependencies, r.configure, r.reconcileResources, r.rollOut, r.observeWorks,
	}
	// Unmet requirements block nothing here: the API is served and the Promise's own workflows
	// run; the Promise is Unavailable and its requests wait.
	if err := r.checkRequirements(ctx, promise, &f); err != nil {
		return ctrl.Result{}, err
	}
	for _, phase := range phases {
		if err := phase(ctx, promise, &f); err != nil {
			return ctrl.Result{}, err
		}
		if f.blocked() {
			break
		}
	}
	return promiseResult(f)
}

// promiseFinalizers are the finalizers a Promise needs, one per part of its cleanup.
func promiseFinalizers(p *v1alpha1.Promise) []string {
	out := []string{v1alpha1.FinalizerWorkCleanup}
	if len(p.Spec.Workflows.Promise.Delete) > 0 {
		out = append(out, v1alpha1.FinalizerDeleteWorkflows)
	}
	if promiseapi.HasAPI(p) {
		out = append(out, v1alpha1.FinalizerResourceRequests, v1alpha1.FinalizerAPICRDCleanup)
	}
	return out
}

// ensureAPI installs or updates the CRD of the Promise's API and starts its resource controller
// once the CRD is established.
func (r *PromiseReconciler) ensureAPI(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	if !promiseapi.HasAPI(promise) {
		f.apiReady = true
		return nil
	}
	desired, err := promiseapi.CRD(promise)
	if err != nil {
		f.invalidAPI = err
		return nil
	}
	installed, err := r.installedCRD(ctx, promise)
	if err != nil {
		return err
	}
	if installed != nil {
		if err := promiseapi.CheckUpdate(installed, desired); err != nil {
			f.invalidAPI = err
			return nil
		}
	} else {
		taken, err := r.nameTaken(ctx, promise, desired.Name)
		if err != nil {
			return err
		}
		if taken != nil {
			f.invalidAPI = taken
			return nil
		}
	}
	if installed == nil || promise.Status.ObservedGeneration != promise.Generation {
		desired.TypeMeta = metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"}
		if err := r.Client.Patch(ctx, desired, client.Apply, fieldOwner, client.ForceOwnership); err != nil {
			if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
				f.invalidAPI = fmt.Errorf("the API server refused the CRD: %w", err)
				return nil
			}
			return fmt.Errorf("apply CRD %s: %w", desired.Name, err)
		}
		if err := r.applyManagerAccess(ctx, promise, desired); err != nil {
			return err
		}
		installed = desired
	}
	gvk := promiseapi.GroupVersionKind(installed)
	f.gvk = gvk
	if gvk.Version == "" || !crdEstablished(installed) {
		f.crdPending = desired.Name
		return nil // the CRD watch brings the Promise back once it is established
	}
	f.apiReady = true
	return r.Resources.ensure(ctx, promise.Name, gvk)
}

// nameTaken says why the CRD name is not the Promise's to take: a CRD exists under it that is
// not the Promise's. It is nil when the name is free; the error is the API server's.
func (r *PromiseReconciler) nameTaken(ctx context.Context, promise *v1alpha1.Promise, name string) (taken, err error) {
	existing := &apiextensionsv1.CustomResourceDefinition{}
	err = r.Client.Get(ctx, client.ObjectKey{Name: name}, existing)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get CRD %s: %w", name, err)
	default:
		return fmt.Errorf("CRD %s exists and is not Promise %s's (its %s label is %q)", name, promise.Name, v1alpha1.LabelPromiseName, existing.Labels[v1alpha1.LabelPromiseName]), nil
	}
}

// crdEstablished reports whether the API server serves the CRD.
func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// configure advances the Promise Configure workflow.
func (r *PromiseReconciler) configure(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	w := pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise, Action: v1alpha1.WorkflowActionConfigure, Promise: promise}
	var err error
	f.policy = workflowPolicy{resync: reconciliationInterval(promise, r.ResyncInterval), reconcileAfterFailure: r.ReconcileAfterFailure}
	f.decision, f.invalidWorkflow, err = r.Driver.step(ctx, r.Recorder, promise, w, f.policy)
	return err
}

// reconcileResources carries out kratix.io/reconcile-resources: every request of the Promise is
// labelled for a manual reconciliation, and the Promise's label is removed.
func (r *PromiseReconciler) reconcileResources(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	if promise.Labels[v1alpha1.LabelReconcileResources] != v1alpha1.LabelTriggerValue || f.gvk.Empty() {
		return nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(f.gvk.GroupVersion().WithKind(f.gvk.Kind + "List"))
	if err := r.Client.List(ctx, list); err != nil {
		return fmt.Errorf("list the Promise's requests: %w", err)
	}
	patch := client.RawPatch("application/merge-patch+json",
		[]byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, v1alpha1.LabelManualReconciliation, v1alpha1.LabelTriggerValue)))
	for i := range list.Items {
		if err := r.Client.Patch(ctx, &list.Items[i], patch); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("label %s for a reconciliation: %w", list.Items[i].GetName(), err)
		}
	}
	logr.FromContextOrDiscard(ctx).Info("asked every request to run its workflow again", "requests", len(list.Items))
	return removeLabel(ctx, r.Client, promise, v1alpha1.LabelReconcileResources)
}

// observeWorks reads the Ready condition of the Promise's own Works.
func (r *PromiseReconciler) observeWorks(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	works, err := promiseWorks(ctx, r.Client, promise.Name)
	if err != nil {
		return err
	}
	f.worksObserved = true
	for i := range works {
		f.works = append(f.works, workOutcome(&works[i]))
	}
	return nil
}

// promiseWorks lists the Works of the Promise itself: its static dependencies and the output of
// its Promise workflows.
func promiseWorks(ctx context.Context, c client.Reader, promise string) ([]v1alpha1.Work, error) {
	var works v1alpha1.WorkList
	if err := c.List(ctx, &works, client.MatchingLabels{v1alpha1.LabelPromiseName: names.LabelValue(promise)}); err != nil {
		return nil, fmt.Errorf("list the Promise's Works: %w", err)
	}
	out := works.Items[:0]
	for _, w := range works.Items {
		if w.Spec.PromiseName == promise && w.Spec.ResourceName == "" {
			out = append(out, w)
		}
	}
	return out, nil
}

// finalize takes the Promise down in order, one finalizer per step: the Promise Delete workflow,
// every resource request (whose own finalizers run their delete workflows), the Promise's Works,
// and last the CRD. Once it is done, the engine forgets the access objects it applied for the
// Promise's workflows.
func (r *PromiseReconciler) finalize(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	f.deleting = true
	steps := []struct {
		finalizer string
		run       func(context.Context, *v1alpha1.Promise, *promiseFacts) (bool, error)
	}{
		{v1alpha1.FinalizerDeleteWorkflows, r.runDeleteWorkflow},
		{v1alpha1.FinalizerResourceRequests, r.deleteRequests},
		{v1alpha1.FinalizerWorkCleanup, r.deleteWorks},
		{v1alpha1.FinalizerAPICRDCleanup, r.deleteCRD},
	}
	for _, s := range steps {
		if !controllerutil.ContainsFinalizer(promise, s.finalizer) {
			continue
		}
		done, err := s.run(ctx, promise, f)
		if err != nil || !done {
			return err
		}
		if err := removeFinalizer(ctx, r.Client, promise, s.finalizer); err != nil {
			return err
		}
	}
	f.finalized = len(promise.Finalizers) == 0
	if f.finalized {
		r.Driver.applied.forgetPromise(promise.Name)
	}
	return nil
}

// setupWithManager registers the controller "promise": Promises (spec, label and deletion
// changes), their CRDs, the Jobs of their Promise workflows, their revisions, their own Works and
// the ResourceBindings of their requests.
func (r *PromiseReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	c := mgr.GetClient()
	log := mgr.GetLogger().WithName("promise")
	byLabel := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return promisesOfLabel(ctx, c, log, o.GetLabels()[v1alpha1.LabelPromiseName])
	})
	hasPromiseLabel := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[v1alpha1.LabelPromiseName] != ""
	})
	promiseWorkflowJob := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[v1alpha1.LabelWorkflowType] == v1alpha1.WorkflowTypePromise
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("promise").
		For(&v1alpha1.Promise{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted()))).
		Watches(&apiextensionsv1.CustomResourceDefinition{}, byLabel, builder.WithPredicates(hasPromiseLabel)).
		Watches(&batchv1.Job{}, byLabel, builder.WithPredicates(hasPromiseLabel, promiseWorkflowJob)).
		// A revision deleted or changed by hand is written again; one that goes lets a Promise
		// being deleted go on.
		Watches(&v1alpha1.PromiseRevision{}, byLabel, builder.WithPredicates(hasPromiseLabel)).
		// A request pinned or unpinned by its ResourceBinding leaves or joins the rollout.
		Watches(&v1alpha1.ResourceBinding{}, byLabel, builder.WithPredicates(hasPromiseLabel, pinChanged())).
		Watches(&v1alpha1.Work{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			w := o.(*v1alpha1.Work)
			if w.Spec.ResourceName != "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: w.Spec.PromiseName}}}
		})).
		// A Promise that comes, goes, changes version or availability re-evaluates the Promises
		// that require it.
		Watches(&v1alpha1.Promise{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return dependentPromises(ctx, c, log, o.GetName())
		}), builder.WithPredicates(requirementRelevant())).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

// pinChanged passes the ResourceBinding events that move a request into or out of a rollout: a
// binding created pinned (the engine's own are created following latest, one per request), one
// deleted, and a change of version.
func pinChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			b, ok := e.Object.(*v1alpha1.ResourceBinding)
			return ok && b.Spec.Version != v1alpha1.BindingVersionLatest
		},
		UpdateFunc: func(e event.UpdateEvent) bool { return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() },
	}
}

// deletionStarted passes the update that sets an object's deletion timestamp.
func deletionStarted() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
}

// promisesOfLabel maps a kratix.io/promise-name label value to its Promise. A name too long for
// a label value was shortened: the Promises whose shortened name matches are found in the cache.
func promisesOfLabel(ctx context.Context, c client.Reader, log logr.Logger, value string) []reconcile.Request {
	if value == "" {
		return nil
	}
	if !names.MayBeShortened(value) {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: value}}}
	}
	var promises v1alpha1.PromiseList
	if err := c.List(ctx, &promises); err != nil {
		log.Error(err, "list the Promises to find the one of a shortened label; its event is dropped", "label", v1alpha1.LabelPromiseName, "value", value)
		return nil
	}
	var reqs []reconcile.Request
	for _, p := range promises.Items {
		if names.LabelValue(p.Name) == value {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}})
		}
	}
	return reqs
}
