package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/pipeline"

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

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/scheduling"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=works,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=works/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=works/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.kratix.io,resources=workplacements,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=platform.kratix.io,resources=destinations,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// workCleanupRecheck is how often a Work being deleted checks again for placements that are
// still being deleted (each deletion also brings the Work back through the watch).
const workCleanupRecheck = 10 * time.Second

// WorkReconciler schedules a Work's workload groups onto Destinations: it keeps one WorkPlacement
// per (group, Destination) as the scheduling plan says, marks the placements on Destinations that
// no longer match as misscheduled, and rolls the placements' readiness up into the Work's status.
type WorkReconciler struct {
	// Client reads from the cache and writes Works and WorkPlacements.
	Client client.Client
	// APIReader lists a deleted Work's placements from the API server, so that a placement the
	// cache has not seen yet is not left behind.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Pipeline says where workflows run, and so where their Works must be (work_ownership.go).
	Pipeline pipeline.Options
}

// Reconcile schedules one Work, or cleans up its placements when it is being deleted.
func (r *WorkReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result ctrl.Result, retErr error) {
	work := &v1alpha1.Work{}
	if err := r.Client.Get(ctx, req.NamespacedName, work); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if isDryRunWork(work) {
		// A dry run's output is compared with the store by the DryRun controller, never placed.
		return ctrl.Result{}, nil
	}
	if err := removeFinalizer(ctx, r.Client, work, v1alpha1.LegacyWorkFinalizers...); err != nil {
		return ctrl.Result{}, err
	}
	if !work.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, work)
	}
	if err := addFinalizer(ctx, r.Client, work, v1alpha1.FinalizerWorkCleanup); err != nil {
		return ctrl.Result{}, err
	}
	base := work.DeepCopy()
	var f workFacts
	defer func() {
		result, retErr = afterStatusPatch(result, retErr, r.patchStatus(ctx, base, work, f, retErr == nil))
	}()

	refusal, err := ownershipRefusal(ctx, r.Client, workOwner(work), r.Pipeline)
	if err != nil {
		return ctrl.Result{}, err
	}
	if refusal != "" {
		f = workFacts{planned: true, refusal: refusal}
		return ctrl.Result{}, reconcile.TerminalError(errors.New(refusal))
	}
	plan, existing, err := r.plan(ctx, work)
	if err != nil {
		return ctrl.Result{}, err
	}
	created, err := r.apply(ctx, work, plan)
	if err != nil {
		return ctrl.Result{}, err
	}
	f = workFactsOf(work, plan, existing, created)
	return ctrl.Result{}, nil
}

// plan reads every Destination and the Work's placements from the cache and plans the placements.
func (r *WorkReconciler) plan(ctx context.Context, work *v1alpha1.Work) (scheduling.Plan, []v1alpha1.WorkPlacement, error) {
	var dests v1alpha1.DestinationList
	if err := r.Client.List(ctx, &dests); err != nil {
		return scheduling.Plan{}, nil, fmt.Errorf("list Destinations: %w", err)
	}
	existing, err := cachedPlacementsOf(ctx, r.Client, work)
	if err != nil {
		return scheduling.Plan{}, nil, err
	}
	return scheduling.NewDestinationSet(dests.Items).Place(work, existing), existing, nil
}

// PlacementsOf lists the Work's placements from the API server: its namespace, its
// kratix.io/work label.
func PlacementsOf(ctx context.Context, c client.Reader, work *v1alpha1.Work) ([]v1alpha1.WorkPlacement, error) {
	return listWorkPlacements(ctx, c, work, client.MatchingLabels{v1alpha1.LabelWork: names.LabelValue(work.Name)})
}

// cachedPlacementsOf lists the Work's placements from the manager's cache through the
// indexPlacementWork index, which spares scanning every placement of the namespace.
func cachedPlacementsOf(ctx context.Context, c client.Reader, work *v1alpha1.Work) ([]v1alpha1.WorkPlacement, error) {
	return listWorkPlacements(ctx, c, work, client.MatchingFields{indexPlacementWork: names.LabelValue(work.Name)})
}

// listWorkPlacements lists the Work's placements in its namespace that match.
func listWorkPlacements(ctx context.Context, c client.Reader, work *v1alpha1.Work, match client.ListOption) ([]v1alpha1.WorkPlacement, error) {
	var list v1alpha1.WorkPlacementList
	if err := c.List(ctx, &list, client.InNamespace(work.Namespace), match); err != nil {
		return nil, fmt.Errorf("list the WorkPlacements of Work %s: %w", quoteRef(work.Namespace, work.Name), err)
	}
	return list.Items, nil
}

// apply carries out the plan and returns how many of the placements to create exist. Updated and
// un-misscheduled placements are written back as the plan holds them, with the Work as their
// controller; misscheduled ones only gain the label. Nothing else touches a misscheduled
// placement.
func (r *WorkReconciler) apply(ctx context.Context, work *v1alpha1.Work, plan scheduling.Plan) (int, error) {
	log := logr.FromContextOrDiscard(ctx)
	var created atomic.Int32
	err := forEachConcurrently(ctx, plan.Create, func(ctx context.Context, wp *v1alpha1.WorkPlacement) error {
		if err := controllerutil.SetControllerReference(work, wp, r.Client.Scheme()); err != nil {
			return fmt.Errorf("own WorkPlacement %s: %w", wp.Name, err)
		}
		// Born with the WorkPlacement controller's finalizer, which saves it a write.
		controllerutil.AddFinalizer(wp, v1alpha1.FinalizerRepoCleanup)
		isNew, err := r.createPlacement(ctx, work, wp)
		if err != nil {
			return err
		}
		created.Add(1)
		if isNew {
			metrics.ObserveScheduling(metrics.OutcomePlaced, 1)
			log.Info("created a WorkPlacement", "workplacement", wp.Name, "destination", wp.Spec.TargetDestinationName)
		}
		return nil
	})
	if err != nil {
		return int(created.Load()), err
	}
	return r.applyChanges(ctx, work, plan, int(created.Load()))
}

// createPlacement creates a planned placement and reports whether it is new; false with no
// error means it existed already (the cache had not seen the engine's own earlier create, and
// its event brings the Work back with the placement in view). When another object holds its
// name, it is created under scheduling.AlternatePlacementName instead.
func (r *WorkReconciler) createPlacement(ctx context.Context, work *v1alpha1.Work, wp *v1alpha1.WorkPlacement) (bool, error) {
	for _, name := range []string{wp.Name, scheduling.AlternatePlacementName(work.Name, wp.Spec.TargetDestinationName, wp.Spec.ID)} {
		wp.Name = name
		err := r.Client.Create(ctx, wp)
		if err == nil {
			return true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("create WorkPlacement %s: %w", name, err)
		}
		existing := &v1alpha1.WorkPlacement{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(wp), existing); err != nil {
			return false, fmt.Errorf("read WorkPlacement %s, whose name is taken: %w", name, err)
		}
		if scheduling.IsPlacementOf(existing, work, wp.Spec.ID, wp.Spec.TargetDestinationName) {
			return false, nil
		}
	}
	return false, fmt.Errorf("the names of the placement of workload group %s on Destination %s are taken by other WorkPlacements",
		wp.Spec.ID, wp.Spec.TargetDestinationName)
}

// applyChanges carries out the plan's updates, misschedules and deletes; created is how many
// placements the plan's creates brought into existence.
func (r *WorkReconciler) applyChanges(ctx context.Context, work *v1alpha1.Work, plan scheduling.Plan, created int) (int, error) {
	log := logr.FromContextOrDiscard(ctx)
	for _, list := range [][]v1alpha1.WorkPlacement{plan.Update, plan.Unmisschedule} {
		for i := range list {
			wp := &list[i]
			if err := controllerutil.SetControllerReference(work, wp, r.Client.Scheme()); err != nil {
				return created, fmt.Errorf("own WorkPlacement %s: %w", wp.Name, err)
			}
			if err := r.Client.Update(ctx, wp); err != nil {
				return created, fmt.Errorf("update WorkPlacement %s: %w", wp.Name, err)
			}
		}
	}
	for i := range plan.Unmisschedule {
		wp := &plan.Unmisschedule[i]
		log.Info("a misscheduled WorkPlacement is scheduled again", "workplacement", wp.Name, "destination", wp.Spec.TargetDestinationName)
		r.Recorder.Eventf(work, wp, corev1.EventTypeNormal, v1alpha1.ReasonScheduled, "Schedule",
			"WorkPlacement %s is scheduled again: Destination %s matches its workload group", wp.Name, wp.Spec.TargetDestinationName)
	}
	for i := range plan.Misschedule {
		wp := &plan.Misschedule[i]
		if err := r.Client.Update(ctx, wp); err != nil {
			return created, fmt.Errorf("mark WorkPlacement %s misscheduled: %w", wp.Name, err)
		}
		metrics.ObserveScheduling(metrics.OutcomeMisscheduled, 1)
		log.Info("marked a WorkPlacement misscheduled", "workplacement", wp.Name, "destination", wp.Spec.TargetDestinationName)
		r.Recorder.Eventf(work, wp, corev1.EventTypeWarning, v1alpha1.ReasonMisscheduled, "Misschedule",
			"WorkPlacement %s is misscheduled: Destination %s no longer matches its workload group; its files stay there, frozen, until the WorkPlacement is deleted",
			wp.Name, wp.Spec.TargetDestinationName)
	}
	for i := range plan.Delete {
		wp := &plan.Delete[i]
		if err := r.Client.Delete(ctx, wp, client.Preconditions{UID: &wp.UID}); client.IgnoreNotFound(err) != nil {
			return created, fmt.Errorf("delete WorkPlacement %s: %w", wp.Name, err)
		}
		log.Info("deleted a WorkPlacement whose workload group is gone", "workplacement", wp.Name)
	}
	return created, nil
}

// workFactsOf records what the plan says about the Work, after it was carried out: created
// placements exist but are not ready yet, and an updated placement's Ready condition speaks of
// its previous spec.
func workFactsOf(work *v1alpha1.Work, plan scheduling.Plan, existing []v1alpha1.WorkPlacement, created int) workFacts {
	byName := make(map[string]*v1alpha1.WorkPlacement, len(existing))
	for i := range existing {
		byName[existing[i].Name] = &existing[i]
	}
	f := workFacts{
		planned:     true,
		unscheduled: unscheduledGroups(work, plan.Unscheduled),
		desired:     plan.Desired(),
		created:     created + len(plan.Update) + len(plan.Unmisschedule) + len(plan.Unchanged),
	}
	for _, name := range plan.Unchanged {
		if wp := byName[name]; wp != nil && placementReady(wp) {
			f.ready++
		}
	}
	for _, wp := range plan.Misschedule {
		f.misscheduled = append(f.misscheduled, misscheduledPlacement{name: wp.Name, destination: wp.Spec.TargetDestinationName})
	}
	for _, name := range plan.Frozen {
		if wp := byName[name]; wp != nil {
			f.misscheduled = append(f.misscheduled, misscheduledPlacement{name: name, destination: wp.Spec.TargetDestinationName})
		}
	}
	sort.Slice(f.misscheduled, func(i, j int) bool { return f.misscheduled[i].name < f.misscheduled[j].name })
	return f
}

// unscheduledGroups pairs the ids of the plan's unscheduled groups with their selectors.
func unscheduledGroups(work *v1alpha1.Work, ids []string) []unscheduledGroup {
	out := make([]unscheduledGroup, 0, len(ids))
	for _, id := range ids {
		for i := range work.Spec.WorkloadGroups {
			if g := &work.Spec.WorkloadGroups[i]; g.ID == id {
				out = append(out, unscheduledGroup{id: id, selector: scheduling.GroupSelector(g)})
				break
			}
		}
	}
	return out
}

// finalize handles the placements of a Work being deleted and removes the finalizer once they
// are dealt with. Active placements are deleted (their files go with them). Misscheduled ones stay,
// as CONTRACT.md §5 says, until the platform team deletes them: they only lose their owner
// reference to the Work, so that the garbage collector does not delete them either.
func (r *WorkReconciler) finalize(ctx context.Context, work *v1alpha1.Work) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(work, v1alpha1.FinalizerWorkCleanup) {
		return ctrl.Result{}, nil
	}
	placements, err := cachedPlacementsOf(ctx, r.Client, work)
	if err != nil {
		return ctrl.Result{}, err
	}
	pending, err := r.release(ctx, work, placements)
	if err == nil && pending == 0 {
		// The cache may not have seen a placement created just before the Work was deleted:
		// the API server has the last word before the finalizer goes.
		if placements, err = PlacementsOf(ctx, r.APIReader, work); err != nil {
			return ctrl.Result{}, err
		}
		pending, err = r.release(ctx, work, placements)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if pending > 0 {
		// Their deletion events bring the Work back; the recheck is a safety net.
		logr.FromContextOrDiscard(ctx).Info("waiting for the Work's WorkPlacements to be deleted", "pending", pending)
		return ctrl.Result{RequeueAfter: workCleanupRecheck}, nil
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, work, v1alpha1.FinalizerWorkCleanup)
}

// release disowns the misscheduled placements of a Work being deleted and deletes the others,
// and returns how many of those are still there.
func (r *WorkReconciler) release(ctx context.Context, work *v1alpha1.Work, placements []v1alpha1.WorkPlacement) (int, error) {
	var pending []v1alpha1.WorkPlacement
	for i := range placements {
		wp := &placements[i]
		if wp.IsMisscheduled() {
			if err := r.disown(ctx, work, wp); err != nil {
				return 0, err
			}
			continue
		}
		pending = append(pending, *wp)
	}
	return deleteAll(ctx, r.Client, pending)
}

// disown removes the Work's owner reference from a misscheduled placement, which then outlives
// the Work.
func (r *WorkReconciler) disown(ctx context.Context, work *v1alpha1.Work, wp *v1alpha1.WorkPlacement) error {
	refs := slices.DeleteFunc(slices.Clone(wp.OwnerReferences), func(ref metav1.OwnerReference) bool {
		return ref.UID == work.UID
	})
	if len(refs) == len(wp.OwnerReferences) {
		return nil
	}
	base := wp.DeepCopy()
	wp.OwnerReferences = refs
	if err := r.Client.Patch(ctx, wp, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("release misscheduled WorkPlacement %s from its Work: %w", wp.Name, err)
	}
	logr.FromContextOrDiscard(ctx).Info("kept a misscheduled WorkPlacement of a deleted Work", "workplacement", wp.Name)
	return nil
}

// patchStatus writes the conditions and counts computed from the facts, once, and emits Events
// on transitions. status.observedGeneration (the Work's, not its conditions') advances only when
// the reconcile planned the current spec successfully.
func (r *WorkReconciler) patchStatus(ctx context.Context, base, work *v1alpha1.Work, f workFacts, succeeded bool) error {
	setWorkScheduleCondition(&work.Status, work.Generation, f)
	setWorkReadyCondition(&work.Status, work.Generation, f)
	setWorkCounts(&work.Status, f)
	if succeeded && f.planned {
		work.Status.ObservedGeneration = work.Generation
	}
	if placingNewSpec(&base.Status, &work.Status, work.Generation) {
		return nil
	}
	if wrote, err := writeStatus(ctx, r.Client, base, work, base.Status, work.Status); !wrote {
		return err
	}
	recordTransition(r.Recorder, work, base.Status.Conditions, work.Status.Conditions, v1alpha1.ConditionScheduleSucceeded, "Schedule")
	recordTransition(r.Recorder, work, base.Status.Conditions, work.Status.Conditions, v1alpha1.ConditionReady, "Schedule")
	before := meta.FindStatusCondition(base.Status.Conditions, v1alpha1.ConditionScheduleSucceeded)
	if len(f.unscheduled) > 0 && (before == nil || before.Reason != v1alpha1.ReasonNoMatchingDestination) {
		// Counted when the Work starts waiting for a Destination, not at every pass while it waits.
		metrics.ObserveScheduling(metrics.OutcomeUnscheduled, len(f.unscheduled))
	}
	return nil
}

// setupWithManager registers the controller "work". It watches:
//   - Works, on spec changes and deletion;
//   - the WorkPlacements a Work controls, on creation, deletion, spec or label changes and changes
//     of their Ready condition (which rolls up into the Work's Ready);
//   - Destinations, on creation, deletion and changes of labels, strictMatchLabels or deletion
//     state, mapped to the Works the change can affect (see worksAffectedBy).
func (r *WorkReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	log := mgr.GetLogger().WithName("work")
	return ctrl.NewControllerManagedBy(mgr).
		Named("work").
		For(&v1alpha1.Work{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&v1alpha1.WorkPlacement{}, builder.WithPredicates(placementChanged())).
		Watches(&v1alpha1.Destination{}, destinationHandler(mgr.GetClient(), log)).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		WithLogConstructor(func(req *reconcile.Request) logr.Logger {
			log := mgr.GetLogger().WithValues("controller", "work")
			if req != nil {
				log = log.WithValues("work", req.Name, "namespace", req.Namespace)
			}
			return log
		}).
		Complete(r)
}

// placementChanged passes the WorkPlacement events that can change the Work's plan or status:
// creation, deletion, and updates of the spec, the labels or the Ready condition.
func placementChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldWP, ok1 := e.ObjectOld.(*v1alpha1.WorkPlacement)
			newWP, ok2 := e.ObjectNew.(*v1alpha1.WorkPlacement)
			if !ok1 || !ok2 {
				return true
			}
			if oldWP.Generation != newWP.Generation || !maps.Equal(oldWP.Labels, newWP.Labels) ||
				oldWP.DeletionTimestamp.IsZero() != newWP.DeletionTimestamp.IsZero() {
				return true
			}
			return placementReady(oldWP) != placementReady(newWP)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// destinationHandler maps Destination events to the Works they can affect.
func destinationHandler(c client.Reader, log logr.Logger) handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], dests ...*v1alpha1.Destination) {
		for _, req := range worksAffectedBy(ctx, c, log, dests...) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if d, ok := e.Object.(*v1alpha1.Destination); ok {
				enqueue(ctx, q, d)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			oldD, ok1 := e.ObjectOld.(*v1alpha1.Destination)
			newD, ok2 := e.ObjectNew.(*v1alpha1.Destination)
			if !ok1 || !ok2 || !schedulingChanged(oldD, newD) {
				return
			}
			enqueue(ctx, q, oldD, newD)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if d, ok := e.Object.(*v1alpha1.Destination); ok {
				enqueue(ctx, q, d)
			}
		},
	}
}

// schedulingChanged reports whether a Destination update can change where workloads go.
func schedulingChanged(oldD, newD *v1alpha1.Destination) bool {
	return !maps.Equal(oldD.Labels, newD.Labels) ||
		oldD.Spec.StrictMatchLabels != newD.Spec.StrictMatchLabels ||
		oldD.DeletionTimestamp.IsZero() != newD.DeletionTimestamp.IsZero()
}

// worksAffectedBy lists the Works whose plan a change of the Destinations can change, in the
// states given (old and new for an update):
//   - the Works that have a placement on the Destination (it may stop matching): the
//     WorkPlacement index by Destination, mapped to the controlling Work, or the kratix.io/work
//     label for a placement without one;
//   - the Works with a workload group the Destination may match (it may start matching, which
//     also schedules groups that had no Destination): a non-empty selector matches only a
//     Destination that carries every one of its pairs, so at least one, found through the Work
//     index by "key=value"; an empty selector matches almost any Destination, so those Works are
//     always included.
//
// This is a superset of the Works affected, never a subset; a Work that the change does not
// affect plans nothing new.
func worksAffectedBy(ctx context.Context, c client.Reader, log logr.Logger, dests ...*v1alpha1.Destination) []reconcile.Request {
	set := map[types.NamespacedName]struct{}{}
	values := map[string]struct{}{anySelector: {}}
	for _, d := range dests {
		for k, v := range d.Labels {
			values[k+"="+v] = struct{}{}
		}
	}
	for value := range values {
		var works v1alpha1.WorkList
		if err := c.List(ctx, &works, client.MatchingFields{indexWorkSelectorLabels: value}); err != nil {
			log.Error(err, "list the Works that select on a Destination label", "label", value)
			continue
		}
		for _, w := range works.Items {
			set[types.NamespacedName{Namespace: w.Namespace, Name: w.Name}] = struct{}{}
		}
	}
	names := map[string]struct{}{}
	for _, d := range dests {
		names[d.Name] = struct{}{}
	}
	for name := range names {
		var wps v1alpha1.WorkPlacementList
		if err := c.List(ctx, &wps, client.MatchingFields{indexTargetDestination: name}); err != nil {
			log.Error(err, "list the WorkPlacements of a Destination", "destination", name)
			continue
		}
		for i := range wps.Items {
			if key, ok := workOf(&wps.Items[i]); ok {
				set[key] = struct{}{}
			}
		}
	}
	reqs := make([]reconcile.Request, 0, len(set))
	for key := range set {
		reqs = append(reqs, reconcile.Request{NamespacedName: key})
	}
	return reqs
}

// workOf names the Work of a placement: its controller, else its kratix.io/work label.
func workOf(wp *v1alpha1.WorkPlacement) (types.NamespacedName, bool) {
	if ref := metav1.GetControllerOf(wp); ref != nil && ref.Kind == "Work" {
		return types.NamespacedName{Namespace: wp.Namespace, Name: ref.Name}, true
	}
	if name := wp.Labels[v1alpha1.LabelWork]; name != "" {
		return types.NamespacedName{Namespace: wp.Namespace, Name: name}, true
	}
	return types.NamespacedName{}, false
}
