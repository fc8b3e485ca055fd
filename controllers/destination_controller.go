package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/statestore"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=destinations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=destinations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=destinations/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.kratix.io,resources=gitstatestores;bucketstatestores,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=workplacements,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// DestinationReconciler makes a Destination ready: it waits for its state store, writes the
// canary files into the Destination's directory, and on deletion with spec.cleanup all deletes
// its WorkPlacements (which remove their files) and then removes that directory.
type DestinationReconciler struct {
	// Client reads from the cache and writes Destinations.
	Client   client.Client
	Writers  *writers.Registry
	Recorder events.EventRecorder
}

// Reconcile makes one Destination ready, or cleans it up when it is being deleted.
func (r *DestinationReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result ctrl.Result, retErr error) {
	dest := &v1alpha1.Destination{}
	if err := r.Client.Get(ctx, req.NamespacedName, dest); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !dest.DeletionTimestamp.IsZero()
	if !deleting {
		if err := addFinalizer(ctx, r.Client, dest, v1alpha1.FinalizerDestinationCleanup); err != nil {
			return ctrl.Result{}, err
		}
	}
	base := dest.DeepCopy()
	f := destinationFacts{
		store:            fmt.Sprintf("%s %q", dest.Spec.StateStoreRef.Kind, dest.Spec.StateStoreRef.Name),
		path:             dest.Spec.Path,
		deleting:         deleting,
		canariesDisabled: !canariesEnabled(dest),
		now:              metav1.Now(),
	}
	defer func() { result, retErr = afterStatusPatch(result, retErr, r.patchStatus(ctx, base, dest, f)) }()

	if deleting {
		if err := r.finalize(ctx, dest, &f); err != nil {
			return ctrl.Result{}, err
		}
		return destinationResult(f)
	}
	w, err := r.observe(ctx, dest, &f)
	if err != nil {
		return ctrl.Result{}, err
	}
	if w != nil && !f.canariesDisabled {
		if err := r.writeCanaries(ctx, dest, w, &f); err != nil {
			return ctrl.Result{}, err
		}
	}
	return destinationResult(f)
}

// observe checks that the Destination's directory is its own, then finds its store's writer
// (observeStore); a Destination whose path overlaps another's gets no writer.
func (r *DestinationReconciler) observe(ctx context.Context, dest *v1alpha1.Destination, f *destinationFacts) (statestore.Writer, error) {
	winner, err := overlappingDestination(ctx, r.Client, dest)
	if err != nil || winner != nil {
		if winner != nil {
			f.overlaps = overlapMessage(dest, winner)
		}
		return nil, err
	}
	return r.observeStore(ctx, dest, f)
}

// observeStore finds the Destination's state store and its writer. It returns the writer when
// the store can be written to, and records in the facts why not otherwise. An error means the
// API server could not be read.
func (r *DestinationReconciler) observeStore(ctx context.Context, dest *v1alpha1.Destination, f *destinationFacts) (statestore.Writer, error) {
	ref := dest.Spec.StateStoreRef
	kind, ok := storeKinds[ref.Kind]
	if !ok {
		// The CRD allows only the two kinds; an unknown one cannot be written to.
		f.storeMissing = true
		return nil, nil
	}
	store := kind.newObject()
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ref.Name}, store); err != nil {
		if apierrors.IsNotFound(err) {
			f.storeMissing = true
			return nil, nil
		}
		return nil, fmt.Errorf("get %s: %w", f.store, err)
	}
	cond := meta.FindStatusCondition(kind.view(store).status.Conditions, v1alpha1.ConditionReady)
	if why := storeNotReadyReason(cond, store.GetGeneration()); why != "" {
		f.storeNotReady = why
		return nil, nil
	}
	w, err := r.Writers.Get(ref.Kind, ref.Name)
	if err != nil {
		// The store was ready before the engine (re)started and is being validated again; the
		// registry's notification brings the Destination back.
		f.storePending = true
		return nil, nil
	}
	return w, nil
}

// storeNotReadyReason says why a store with the given Ready condition cannot be used, or "" when
// it can.
func storeNotReadyReason(cond *metav1.Condition, generation int64) string {
	switch {
	case cond == nil:
		return "it has not been validated yet"
	case cond.Status != metav1.ConditionTrue:
		return fmt.Sprintf("%s: %s", cond.Reason, cond.Message)
	case cond.ObservedGeneration != generation:
		return "its latest spec has not been validated yet"
	default:
		return ""
	}
}

// writeCanaries writes the canary files into the Destination's directory. The writer leaves the
// store alone when they are already there.
func (r *DestinationReconciler) writeCanaries(ctx context.Context, dest *v1alpha1.Destination, w statestore.Writer, f *destinationFacts) error {
	files, err := statestore.CanaryFiles(dest.Spec.Path)
	if err != nil {
		f.writeErr = err
		return nil
	}
	res, storeErr, err := applyChange(ctx, w, statestore.Change{
		Files:  files,
		Origin: statestore.Origin{Action: statestore.ActionUpdate, Destination: dest.Name},
	}, "the canary files")
	if err != nil {
		return err
	}
	f.writeErr = storeErr
	if storeErr != nil {
		return nil
	}
	f.canariesWritten, f.canariesChanged = true, res.Changed
	if res.Changed {
		logr.FromContextOrDiscard(ctx).Info("wrote the canary files", "version", res.Version)
	}
	return nil
}

// finalize runs the cleanup of a Destination being deleted and removes the finalizer when done:
// with spec.cleanup all it deletes the Destination's WorkPlacements, waits for them to be gone,
// and removes the Destination's directory from the store; a store that no longer exists has
// nothing to remove, nor has a Destination that never wrote to its store.
func (r *DestinationReconciler) finalize(ctx context.Context, dest *v1alpha1.Destination, f *destinationFacts) error {
	if !controllerutil.ContainsFinalizer(dest, v1alpha1.FinalizerDestinationCleanup) {
		f.finalized = true
		return nil
	}
	if dest.Spec.Cleanup != v1alpha1.DestinationCleanupAll {
		return finishCleanup(ctx, r.Client, dest, v1alpha1.FinalizerDestinationCleanup, &f.finalized)
	}
	if err := r.deletePlacements(ctx, dest, f); err != nil || f.placementsLeft > 0 {
		// Each placement removes its own files in its own delete commit; the watch on
		// WorkPlacements brings the Destination back as they go.
		return err
	}
	w, err := r.observe(ctx, dest, f)
	if err != nil {
		return err
	}
	if f.overlaps != "" {
		// The directory is another Destination's: nothing of this one's is in it.
		r.Recorder.Eventf(dest, nil, corev1.EventTypeWarning, v1alpha1.ReasonPathOverlaps, "Cleanup",
			"nothing was removed: %s", f.overlaps)
		return finishCleanup(ctx, r.Client, dest, v1alpha1.FinalizerDestinationCleanup, &f.finalized)
	}
	if f.storeMissing {
		logr.FromContextOrDiscard(ctx).Info("the state store does not exist; leaving the Destination's files, if any, in place", "stateStore", f.store)
		r.Recorder.Eventf(dest, nil, corev1.EventTypeWarning, v1alpha1.ReasonStateStoreNotFound, "Cleanup",
			"%s does not exist: nothing was removed; delete the directory %q from the store by hand if it is still there", f.store, dest.Spec.Path)
		return finishCleanup(ctx, r.Client, dest, v1alpha1.FinalizerDestinationCleanup, &f.finalized)
	}
	if w == nil && dest.Status.LastWriteTime == nil {
		// The Destination never wrote to the store, and its placements are gone: whatever
		// its directory holds is not the engine's, so there is no reason to wait for the store.
		logr.FromContextOrDiscard(ctx).Info("the state store is not ready and the Destination never wrote to it; nothing to remove", "stateStore", f.store)
		return finishCleanup(ctx, r.Client, dest, v1alpha1.FinalizerDestinationCleanup, &f.finalized)
	}
	if w == nil {
		return nil
	}
	// A Destination at the store's root removes its dependencies/ and resources/ directories,
	// never the root itself, which holds whatever else the store's path holds.
	dirs := []string{dest.Spec.Path}
	if statestore.IsRoot(dest.Spec.Path) {
		dirs = []string{statestore.DependenciesDir, statestore.ResourcesDir}
	}
	var res statestore.Result
	var storeErr error
	for _, dir := range dirs {
		var err error
		res, storeErr, err = applyChange(ctx, w, statestore.Change{
			Dir:    dir,
			Origin: statestore.Origin{Action: statestore.ActionDelete, Destination: dest.Name},
		}, fmt.Sprintf("the removal of the directory %q", dir))
		if err != nil {
			return err
		}
		if storeErr != nil {
			break
		}
	}
	if errors.Is(storeErr, statestore.ErrInvalidPath) {
		// The check that refuses this removal refused every write under the path, the
		// canary files included: nothing of the Destination's can be in the store.
		r.Recorder.Eventf(dest, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidDestinationPath, "Cleanup",
			"nothing was removed: %v; the engine never wrote under this path", storeErr)
		return finishCleanup(ctx, r.Client, dest, v1alpha1.FinalizerDestinationCleanup, &f.finalized)
	}
	if storeErr != nil {
		f.writeErr = storeErr
		return nil
	}
	logr.FromContextOrDiscard(ctx).Info("removed the Destination's directory", "path", dest.Spec.Path, "changed", res.Changed, "version", res.Version)
	return finishCleanup(ctx, r.Client, dest, v1alpha1.FinalizerDestinationCleanup, &f.finalized)
}

// deletePlacements deletes the WorkPlacements on the Destination and records in the facts how
// many are still there.
func (r *DestinationReconciler) deletePlacements(ctx context.Context, dest *v1alpha1.Destination, f *destinationFacts) error {
	var wps v1alpha1.WorkPlacementList
	if err := r.Client.List(ctx, &wps, client.MatchingFields{indexTargetDestination: dest.Name}); err != nil {
		return fmt.Errorf("list the WorkPlacements of the Destination: %w", err)
	}
	var err error
	f.placementsLeft, err = deleteAll(ctx, r.Client, wps.Items)
	return err
}

// patchStatus writes the Ready condition computed from the facts, once, and emits an Event when
// it changed.
func (r *DestinationReconciler) patchStatus(ctx context.Context, base, dest *v1alpha1.Destination, f destinationFacts) error {
	if f.finalized {
		return nil
	}
	setDestinationStatus(&dest.Status, dest.Generation, f)
	if wrote, err := writeStatus(ctx, r.Client, base, dest, base.Status, dest.Status); !wrote {
		return err
	}
	action := "WriteCanaries"
	if f.deleting {
		action = "Cleanup"
	}
	recordTransition(r.Recorder, dest, base.Status.Conditions, dest.Status.Conditions, v1alpha1.ConditionReady, action)
	return nil
}

// canariesEnabled reports whether the Destination wants its canary files (the default).
func canariesEnabled(dest *v1alpha1.Destination) bool {
	return dest.Spec.InitWorkloads.Enabled == nil || *dest.Spec.InitWorkloads.Enabled
}

// setupWithManager registers the controller "destination": Destinations (spec changes and
// deletion), their state stores of both kinds, and the writer registry's readiness changes,
// mapped through the field index to exactly the Destinations of the store.
func (r *DestinationReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	log := mgr.GetLogger().WithName("destination")
	b := ctrl.NewControllerManagedBy(mgr).
		Named("destination").
		For(&v1alpha1.Destination{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		WithLogConstructor(func(req *reconcile.Request) logr.Logger {
			log := mgr.GetLogger().WithValues("controller", "destination")
			if req != nil {
				log = log.WithValues("destination", req.Name)
			}
			return log
		})
	for _, kind := range []storeKind{gitStoreKind{}, bucketStoreKind{}} {
		b = b.Watches(kind.newObject(), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, store client.Object) []reconcile.Request {
			return destinationsOf(ctx, mgr.GetClient(), log, writers.Key{Kind: kind.kind(), Name: store.GetName()})
		}))
	}
	// Whether a Destination's directory is its own depends on the others of its store.
	b = b.Watches(&v1alpha1.Destination{}, overlapAwareHandler(mgr.GetClient(), log, func(_ context.Context, dest string) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: dest}}}
	}), builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	// A Destination being deleted with cleanup all waits for its placements to be gone.
	b = b.Watches(&v1alpha1.WorkPlacement{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: obj.(*v1alpha1.WorkPlacement).Spec.TargetDestinationName}}}
	}), builder.WithPredicates(predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}))
	b = b.WatchesRawSource(source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		cancel := r.Writers.Subscribe(func(n writers.Notice) {
			for _, req := range destinationsOf(ctx, mgr.GetClient(), log, n.Key) {
				q.Add(req)
			}
		})
		context.AfterFunc(ctx, cancel)
		return nil
	}))
	return b.Complete(r)
}

// destinationsOf lists the Destinations of a state store through the field index.
func destinationsOf(ctx context.Context, c client.Reader, log logr.Logger, store writers.Key) []reconcile.Request {
	var dests v1alpha1.DestinationList
	if err := c.List(ctx, &dests, client.MatchingFields{indexStateStoreRef: stateStoreRefValue(store.Kind, store.Name)}); err != nil {
		log.Error(err, "list the Destinations of a state store", "stateStore", store.String())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(dests.Items))
	for _, d := range dests.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: d.Name}})
	}
	return reqs
}
