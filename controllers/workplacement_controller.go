package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	"kratix.dev/kratix/internal/keyedmutex"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/statestore"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=workplacements,verbs=get;list;watch;update;patch;write-workplacements
// +kubebuilder:rbac:groups=platform.kratix.io,resources=workplacements/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=workplacements/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.kratix.io,resources=destinations,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=gitstatestores;bucketstatestores,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// DefaultWorkPlacementResyncInterval is how often a written WorkPlacement is written again, which
// puts back files that someone changed or removed in the store.
const DefaultWorkPlacementResyncInterval = 10 * time.Minute

// DefaultWatchedStoreResyncInterval is how often a written WorkPlacement is written again when
// its store's writer watches for someone else's changes itself (statestore.DriftReporter: a Git
// store's writer asks for its branch's head when it has not heard of it for a minute, and the
// placements that someone else's change touched are written again at once). Its resync is then only a safety net: at 10,000 requests a
// 10-minute resync was 17 writes a second that changed nothing, queued for the store's slots
// behind the writes that did.
const DefaultWatchedStoreResyncInterval = 6 * time.Hour

// WorkPlacementReconciler writes a WorkPlacement's files into its Destination's directory in the
// state store in the Destination's filepath mode, leaves them alone while the placement is
// misscheduled, and removes them when the placement is deleted.
type WorkPlacementReconciler struct {
	// Client reads from the cache and writes WorkPlacements.
	Client   client.Client
	Writers  *writers.Registry
	Recorder events.EventRecorder
	// locks serializes, per Destination, the writes of placements that share a file.
	locks keyedmutex.Mutex
	// slots limits the workers that write to one store at once (store_slots.go).
	slots storeSlots
	// ResyncInterval is how long after a successful write the placement is written again;
	// WatchedStoreResyncInterval the same in a store whose writer reports drift itself. Each
	// has its default when zero (resyncs).
	ResyncInterval, WatchedStoreResyncInterval time.Duration
	// Pipeline says where workflows run, and so where their placements must be
	// (work_ownership.go).
	Pipeline pipeline.Options
	// now returns the current time; time.Now when nil.
	now func() time.Time
}

// Reconcile writes one WorkPlacement's files, or removes them when it is being deleted.
func (r *WorkPlacementReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result ctrl.Result, retErr error) {
	// A store's slot handed to the placement and not taken goes to the next in line.
	defer r.slots.forfeit(ctx, req.NamespacedName, r.slots.Since())
	wp := &v1alpha1.WorkPlacement{}
	if err := r.Client.Get(ctx, req.NamespacedName, wp); err != nil {
		if apierrors.IsNotFound(err) {
			r.slots.Leave(req.NamespacedName) // gone: it waits for no slot
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A placement made by upstream Kratix carries a finalizer the engine does not handle.
	if err := removeFinalizer(ctx, r.Client, wp, v1alpha1.LegacyWorkPlacementFinalizers...); err != nil {
		return ctrl.Result{}, err
	}
	deleting := !wp.DeletionTimestamp.IsZero()
	if !deleting {
		if err := addFinalizer(ctx, r.Client, wp, v1alpha1.FinalizerRepoCleanup); err != nil {
			return ctrl.Result{}, err
		}
	}
	base := wp.DeepCopy()
	f := placementFacts{
		destination:  wp.Spec.TargetDestinationName,
		deleting:     deleting,
		misscheduled: wp.IsMisscheduled(),
		now:          metav1.NewTime(r.clock()),
	}
	defer func() { result, retErr = afterStatusPatch(result, retErr, r.patchStatus(ctx, base, wp, f)) }()

	refusal, err := ownershipRefusal(ctx, r.Client, placementOwner(wp), r.Pipeline)
	if err != nil {
		return ctrl.Result{}, err
	}
	if refusal != "" {
		return r.refuse(ctx, wp, refusal, &f)
	}
	if deleting {
		if err := r.finalize(ctx, wp, &f); err != nil {
			return ctrl.Result{}, err
		}
		return r.result(f)
	}
	if f.misscheduled {
		// The files stay as they are while the Destination no longer matches: never written.
		return r.result(f)
	}
	dest, w, err := r.observeTarget(ctx, wp, &f)
	if err != nil {
		return ctrl.Result{}, err
	}
	if w == nil {
		return r.result(f)
	}
	if err := r.apply(ctx, w, wp, dest, &f, statestore.ActionUpdate); err != nil {
		return ctrl.Result{}, err
	}
	return r.result(f)
}

// refuse handles a placement that may not write in its owner's name from its namespace (no
// Work of the engine's makes one): it writes nothing, and its deletion removes nothing, for
// the files in its owner's directories are the owner's.
func (r *WorkPlacementReconciler) refuse(ctx context.Context, wp *v1alpha1.WorkPlacement, refusal string, f *placementFacts) (ctrl.Result, error) {
	f.notOwned = refusal
	if f.deleting {
		r.Recorder.Eventf(wp, nil, corev1.EventTypeWarning, v1alpha1.ReasonWorkNotOwned, "Cleanup", "nothing was removed: %s", refusal)
		if err := finishCleanup(ctx, r.Client, wp, v1alpha1.FinalizerRepoCleanup, &f.finalized); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.result(*f)
}

// result is the outcome of a reconcile for the facts (placementResult), with resyncs a tenth
// longer at most, at random, so that placements written together (when the engine starts) do not
// all come back together.
func (r *WorkPlacementReconciler) result(f placementFacts) (ctrl.Result, error) {
	resync, watched := r.resyncs()
	return placementResult(f, jittered(resync), jittered(watched))
}

// resyncs are ResyncInterval and WatchedStoreResyncInterval, or their defaults when not set.
func (r *WorkPlacementReconciler) resyncs() (resync, watched time.Duration) {
	resync, watched = r.ResyncInterval, r.WatchedStoreResyncInterval
	if resync <= 0 {
		resync = DefaultWorkPlacementResyncInterval
	}
	if watched <= 0 {
		watched = DefaultWatchedStoreResyncInterval
	}
	return resync, watched
}

// jittered is d with up to a tenth more, at random.
func jittered(d time.Duration) time.Duration {
	if d < 10 {
		return d
	}
	return d + rand.N(d/10)
}

// clock is the current time.
func (r *WorkPlacementReconciler) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// observeTarget finds the placement's Destination and the writer of its state store. It returns
// the writer when the store can be written to, and records in the facts why not otherwise. An
// error means the API server could not be read.
func (r *WorkPlacementReconciler) observeTarget(ctx context.Context, wp *v1alpha1.WorkPlacement, f *placementFacts) (*v1alpha1.Destination, statestore.Writer, error) {
	dest := &v1alpha1.Destination{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: wp.Spec.TargetDestinationName}, dest); err != nil {
		if apierrors.IsNotFound(err) {
			f.destinationMissing = true
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("get Destination %s: %w", wp.Spec.TargetDestinationName, err)
	}
	winner, err := overlappingDestination(ctx, r.Client, dest)
	if err != nil {
		return nil, nil, err
	}
	if winner != nil {
		f.destinationOverlaps = overlapMessage(dest, winner)
		return dest, nil, nil
	}
	ref := dest.Spec.StateStoreRef
	w, err := r.Writers.Get(ref.Kind, ref.Name)
	if err != nil {
		// The registry's notification brings the placement back once the store is validated.
		f.storeNotReady = err.Error()
		return dest, nil, nil
	}
	f.storeWatchesDrift = statestore.ReportsDrift(w)
	return dest, w, nil
}

// apply writes the placement's files (statestore.ActionUpdate) or removes them
// (statestore.ActionDelete), with the Destination's lock held when its placements share a file,
// and records the outcome in the facts. An error means the reconcile cannot go on: it was
// cancelled or the API server could not be read.
func (r *WorkPlacementReconciler) apply(ctx context.Context, w statestore.Writer, wp *v1alpha1.WorkPlacement, dest *v1alpha1.Destination, f *placementFacts, action statestore.Action) error {
	ref := dest.Spec.StateStoreRef
	release, ok := r.slots.tryAcquire(ctx, ref.Kind+"/"+ref.Name, client.ObjectKeyFromObject(wp))
	if !ok {
		f.storeBusy = true
		return nil
	}
	defer release()
	in := statestore.PlacementInput{Action: action, Placement: wp, Destination: dest}
	if statestore.SharesFile(dest) {
		// The Destination's one file holds every placement's workloads.
		defer r.locks.Lock(dest.Name)()
	}
	if statestore.NeedsNeighbours(dest) {
		// Read only: the cache's own copies, not deep copies of every placement's workloads.
		var wps v1alpha1.WorkPlacementList
		if err := r.Client.List(ctx, &wps, client.MatchingFields{indexTargetDestination: dest.Name}, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("list the WorkPlacements of Destination %s: %w", dest.Name, err)
		}
		in.Neighbours = wps.Items
	}
	pc, err := statestore.BuildPlacementChange(ctx, w, in)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("read the placement's state: %w", ctx.Err())
	case errors.Is(err, statestore.ErrInvalidContent):
		f.invalidContent = err
		return nil
	case errors.Is(err, statestore.ErrClaimed):
		f.claimed = err
		return nil
	case err != nil:
		f.writeErr = err
		return nil
	}
	f.dir, f.files = pc.Path, pc.Workloads
	res, storeErr, err := applyChange(ctx, w, pc.Change, f.dir)
	if err != nil {
		return err
	}
	if storeErr != nil {
		f.writeErr = storeErr
		return nil
	}
	f.result = res
	log := logr.FromContextOrDiscard(ctx)
	if action == statestore.ActionDelete {
		log.Info("removed the placement's files", "path", f.dir, "changed", res.Changed, "version", res.Version)
		return nil
	}
	f.written = true
	if res.Changed {
		log.Info("wrote the placement's files", "path", f.dir, "version", res.Version)
	}
	return nil
}

// finalize removes the placement's directory from the store and then the finalizer. A
// Destination or store that no longer exists has nothing to remove, nor has a placement never
// written; a store that exists but is not ready keeps the finalizer of a written placement until
// the registry says it is ready.
func (r *WorkPlacementReconciler) finalize(ctx context.Context, wp *v1alpha1.WorkPlacement, f *placementFacts) error {
	if !controllerutil.ContainsFinalizer(wp, v1alpha1.FinalizerRepoCleanup) {
		f.finalized = true
		return nil
	}
	log := logr.FromContextOrDiscard(ctx)
	dest, w, err := r.observeTarget(ctx, wp, f)
	if err != nil {
		return err
	}
	if f.destinationMissing {
		log.Info("the Destination does not exist; leaving the placement's files, if any, in place")
		r.Recorder.Eventf(wp, nil, corev1.EventTypeWarning, v1alpha1.ReasonDestinationNotFound, "Cleanup",
			"Destination %q does not exist: nothing was removed; delete the directory %q from its store by hand if it is still there", f.destination, wp.Status.Path)
		return finishCleanup(ctx, r.Client, wp, v1alpha1.FinalizerRepoCleanup, &f.finalized)
	}
	if f.destinationOverlaps != "" {
		// Nothing was written for a Destination whose directory is another's; what is there
		// is the other's.
		r.Recorder.Eventf(wp, nil, corev1.EventTypeWarning, v1alpha1.ReasonPathOverlaps, "Cleanup",
			"nothing was removed: %s", f.destinationOverlaps)
		return finishCleanup(ctx, r.Client, wp, v1alpha1.FinalizerRepoCleanup, &f.finalized)
	}
	if w == nil {
		ref := dest.Spec.StateStoreRef
		if neverWritten(wp) {
			// Nothing of this placement's can be in the store: no reason to wait for it.
			log.Info("the state store is not ready and the placement was never written; nothing to remove", "stateStore", ref.Name)
			return finishCleanup(ctx, r.Client, wp, v1alpha1.FinalizerRepoCleanup, &f.finalized)
		}
		exists, err := r.storeExists(ctx, ref)
		if err != nil || exists {
			// A store that exists but is not ready keeps the finalizer of a placement that
			// wrote files: the registry's notification brings the placement back.
			return err
		}
		log.Info("the state store does not exist; leaving the placement's files, if any, in place", "stateStore", ref.Name)
		r.Recorder.Eventf(wp, nil, corev1.EventTypeWarning, v1alpha1.ReasonStateStoreNotFound, "Cleanup",
			"%s %q does not exist: nothing was removed; delete the directory %q from it by hand if it is still there", ref.Kind, ref.Name, wp.Status.Path)
		return finishCleanup(ctx, r.Client, wp, v1alpha1.FinalizerRepoCleanup, &f.finalized)
	}
	if err := r.apply(ctx, w, wp, dest, f, statestore.ActionDelete); err != nil || f.storeBusy {
		return err
	}
	if errors.Is(f.writeErr, statestore.ErrInvalidPath) {
		// No path that the placement could have written can be named (or its state file was
		// edited into naming one outside the Destination): removing anything could remove
		// files that are not the placement's.
		log.Info("the placement's files cannot be named; leaving them in place", "reason", f.writeErr.Error())
		r.Recorder.Eventf(wp, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidWorkloadPath, "Cleanup",
			"nothing was removed from Destination %q: %v", f.destination, f.writeErr)
		f.writeErr = nil
	}
	if f.writeErr != nil {
		return nil
	}
	return finishCleanup(ctx, r.Client, wp, v1alpha1.FinalizerRepoCleanup, &f.finalized)
}

// neverWritten reports whether the placement has no write on record, so that none of its files
// can be in the store. In aggregatedYAML mode another placement's write may have included it; the
// next write of any placement on the Destination leaves it out.
func neverWritten(wp *v1alpha1.WorkPlacement) bool {
	return wp.Status.LastWriteTime == nil && wp.Status.Path == "" && wp.Status.VersionID == ""
}

// storeExists reports whether the state store named by ref exists.
func (r *WorkPlacementReconciler) storeExists(ctx context.Context, ref v1alpha1.StateStoreReference) (bool, error) {
	kind, ok := storeKinds[ref.Kind]
	if !ok {
		return false, nil
	}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ref.Name}, kind.newObject()); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("get %s %s: %w", ref.Kind, ref.Name, err)
	}
	return true, nil
}

// patchStatus writes the status computed from the facts, once, and emits an Event when Ready
// changed.
func (r *WorkPlacementReconciler) patchStatus(ctx context.Context, base, wp *v1alpha1.WorkPlacement, f placementFacts) error {
	if f.finalized || waitsForItsWrite(&base.Status, f) {
		return nil
	}
	setPlacementStatus(&wp.Status, wp.Generation, f)
	if wrote, err := writeStatus(ctx, r.Client, base, wp, base.Status, wp.Status); !wrote {
		return err
	}
	action := "Write"
	if f.deleting {
		action = "Cleanup"
	}
	recordTransition(r.Recorder, wp, base.Status.Conditions, wp.Status.Conditions, v1alpha1.ConditionReady, action)
	return nil
}

// setupWithManager registers the controller "workplacement": WorkPlacements (spec, label and
// deletion changes), the placements whose paths a placement's change or deletion frees
// (claimantsOf), their Destinations through the field index, and the writer registry's
// readiness changes, mapped to the placements of the store's Destinations. A store's drift has
// the placementRestorer write all its placements again at once.
func (r *WorkPlacementReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	// Half the workers per store: a stalled store leaves the other half to the others.
	r.slots = newStoreSlots(concurrency / 2)
	log := mgr.GetLogger().WithName("workplacement")
	c := mgr.GetClient()
	b := ctrl.NewControllerManagedBy(mgr).
		Named("workplacement").
		For(&v1alpha1.WorkPlacement{}, builder.WithPredicates(placementSpecChanged())).
		Watches(&v1alpha1.Destination{}, overlapAwareHandler(c, log, func(ctx context.Context, dest string) []reconcile.Request {
			return placementsOn(ctx, c, log, dest)
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.WorkPlacement{}, claimantsOf(c, log), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		WithLogConstructor(func(req *reconcile.Request) logr.Logger {
			log := mgr.GetLogger().WithValues("controller", "workplacement")
			if req != nil {
				log = log.WithValues("workplacement", req.Name, "namespace", req.Namespace)
			}
			return log
		})
	b = b.WatchesRawSource(source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		r.slots.SetWake(func(wp types.NamespacedName) { q.Add(reconcile.Request{NamespacedName: wp}) })
		restorer := &placementRestorer{r: r, c: c, log: log, q: q, running: map[writers.Key]bool{}, again: map[writers.Key]statestore.Drift{}}
		cancel := r.Writers.Subscribe(func(n writers.Notice) {
			if n.Drift != nil {
				restorer.drifted(ctx, n.Key, *n.Drift)
				return
			}
			for _, d := range destinationsOf(ctx, c, log, n.Key) {
				for _, req := range placementsOn(ctx, c, log, d.Name) {
					q.Add(req)
				}
			}
		})
		context.AfterFunc(ctx, cancel)
		return nil
	}))
	return b.Complete(r)
}

// placementSpecChanged passes the WorkPlacement events that can change what is written: creation,
// deletion, and updates of the spec, the labels or the deletion timestamp; not status updates.
func placementSpecChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldWP, ok1 := e.ObjectOld.(*v1alpha1.WorkPlacement)
			newWP, ok2 := e.ObjectNew.(*v1alpha1.WorkPlacement)
			if !ok1 || !ok2 {
				return true
			}
			return oldWP.Generation != newWP.Generation || !maps.Equal(oldWP.Labels, newWP.Labels) ||
				oldWP.DeletionTimestamp.IsZero() != newWP.DeletionTimestamp.IsZero()
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// placementsOn lists the WorkPlacements that target the Destination, through the field index.
func placementsOn(ctx context.Context, c client.Reader, log logr.Logger, destination string) []reconcile.Request {
	var wps v1alpha1.WorkPlacementList
	if err := c.List(ctx, &wps, client.MatchingFields{indexTargetDestination: destination}); err != nil {
		log.Error(err, "list the WorkPlacements of a Destination", "destination", destination)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(wps.Items))
	for _, wp := range wps.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: wp.Namespace, Name: wp.Name}})
	}
	return reqs
}

// claimantsOf maps a WorkPlacement's spec change or deletion to the other placements on its
// Destination, in filepath mode none, whose files overlap its files before or after: one that
// was refused a path it claims (ReasonFileClaimed) may write it now. The watch passes only
// spec changes, creations and deletions (predicate.GenerationChangedPredicate).
func claimantsOf(c client.Reader, log logr.Logger) handler.EventHandler {
	return oldAndNewHandler(func(ctx context.Context, objs []client.Object) []reconcile.Request {
		changed := make([]*v1alpha1.WorkPlacement, 0, len(objs))
		for _, obj := range objs {
			if wp, ok := obj.(*v1alpha1.WorkPlacement); ok {
				changed = append(changed, wp)
			}
		}
		if len(changed) == 0 {
			return nil
		}
		return overlappingPlacements(ctx, c, log, changed)
	})
}

// overlappingPlacements lists the placements whose files in filepath mode none overlap those of
// the changed placement (its versions, all on one Destination); none when its Destination is
// in another mode, where placements cannot claim one path.
func overlappingPlacements(ctx context.Context, c client.Reader, log logr.Logger, changed []*v1alpha1.WorkPlacement) []reconcile.Request {
	name := changed[0].Spec.TargetDestinationName
	dest := &v1alpha1.Destination{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, dest); err != nil {
		if !apierrors.IsNotFound(err) {
			log.Error(err, "get the Destination of a changed WorkPlacement", "destination", name)
		}
		return nil
	}
	if dest.Spec.Filepath.Mode != v1alpha1.FilepathModeNone {
		return nil
	}
	var wps v1alpha1.WorkPlacementList
	if err := c.List(ctx, &wps, client.MatchingFields{indexTargetDestination: name}, client.UnsafeDisableDeepCopy); err != nil {
		log.Error(err, "list the WorkPlacements of a Destination", "destination", name)
		return nil
	}
	var reqs []reconcile.Request
	for _, wp := range statestore.Overlapping(changed, wps.Items) {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: wp.Namespace, Name: wp.Name}})
	}
	return reqs
}
