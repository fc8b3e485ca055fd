package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/statestore"
)

// placementRestorer writes every placement of a state store again when the store's writer
// reports that someone else changed the store (writers.Notice.Drift): files removed by hand, the
// branch deleted or rewritten.
//
// It does not go through the controller's work queue, whose few workers would hand the writer a
// few placements at a time: the writer gathers the writes that arrive after a drift into one
// restore commit, and a deleted branch must come back holding every placement, not the first
// few (Flux would prune the others meanwhile). So it first marks every Ready placement of the
// store not Ready (ReasonRestoring: the version it names may be gone), then runs the
// placements' reconciles all at once, and hands the queue those that must run again.
type placementRestorer struct {
	r   *WorkPlacementReconciler
	c   client.Client
	log logr.Logger
	q   workqueue.TypedRateLimitingInterface[reconcile.Request]

	mu sync.Mutex
	// running are the stores being restored; again, the drifts of those that drifted again
	// meanwhile, merged.
	running map[writers.Key]bool
	again   map[writers.Key]statestore.Drift
}

// drifted starts the restore of the store, or, when one runs, has it run once more afterwards.
// It returns at once.
func (p *placementRestorer) drifted(ctx context.Context, key writers.Key, d statestore.Drift) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running[key] {
		p.again[key] = mergeDrifts(p.again[key], d)
		return
	}
	p.running[key] = true
	go func() {
		for {
			p.restore(ctx, key, d)
			p.mu.Lock()
			next, ok := p.again[key]
			delete(p.again, key)
			if !ok || ctx.Err() != nil {
				delete(p.running, key)
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
			d = next
		}
	}()
}

// mergeDrifts is a drift that touches what either touches.
func mergeDrifts(a, b statestore.Drift) statestore.Drift {
	if a.Why == "" {
		return b
	}
	return statestore.Drift{Why: a.Why + "; then " + b.Why, All: a.All || b.All, Paths: append(slices.Clip(a.Paths), b.Paths...)}
}

// restore marks the store's Ready placements that the drift touched Restoring, then reconciles
// them all at once, and reports on the store.
func (p *placementRestorer) restore(ctx context.Context, key writers.Key, d statestore.Drift) {
	log := p.log.WithValues("stateStore", key.String())
	reqs := p.touched(ctx, key, d)
	log.Info("the state store was changed by someone else's hand; writing the files it touched again", "why", d.Why, "placements", len(reqs))
	if len(reqs) == 0 {
		// Someone else's files changed, not the placements'.
		return
	}
	store := p.storeObject(ctx, key)
	if store != nil {
		p.r.Recorder.Eventf(store, nil, corev1.EventTypeWarning, v1alpha1.ReasonStoreDrifted, "Restore",
			"%s: writing the files of %d WorkPlacements again", d.Why, len(reqs))
	}

	// Every Ready placement says Restoring before any is written again, so that none still
	// says Ready while its version is gone.
	var mu sync.Mutex
	marked := map[types.NamespacedName]string{}
	forEach(reqs, markWorkers, func(req reconcile.Request) {
		before, err := p.markRestoring(ctx, req, key, d.Why)
		if err != nil {
			log.Error(err, "mark a WorkPlacement as restoring", "workplacement", req.String())
		}
		if before != "" {
			mu.Lock()
			marked[req.NamespacedName] = before
			mu.Unlock()
		}
	})
	p.awaitCache(ctx, log, marked)

	var failed atomic.Int32
	forEach(reqs, len(reqs), func(req reconcile.Request) {
		if !p.reconcile(ctx, req) {
			failed.Add(1)
		}
	})
	switch {
	case store == nil:
	case failed.Load() == 0:
		p.r.Recorder.Eventf(store, nil, corev1.EventTypeNormal, v1alpha1.ReasonRestored, "Restore",
			"the files of %d WorkPlacements were written again", len(reqs))
	default:
		p.r.Recorder.Eventf(store, nil, corev1.EventTypeWarning, v1alpha1.ReasonRestoreFailed, "Restore",
			"the files of %d of %d WorkPlacements could not be written again yet; their conditions say why, and they retry", failed.Load(), len(reqs))
	}
}

// touched lists the placements on the store's Destinations whose files the drift may have
// changed: those whose path it touches, and those never written.
func (p *placementRestorer) touched(ctx context.Context, key writers.Key, d statestore.Drift) []reconcile.Request {
	var reqs []reconcile.Request
	for _, dest := range destinationsOf(ctx, p.c, p.log, key) {
		var wps v1alpha1.WorkPlacementList
		if err := p.c.List(ctx, &wps, client.MatchingFields{indexTargetDestination: dest.Name}, client.UnsafeDisableDeepCopy); err != nil {
			p.log.Error(err, "list the WorkPlacements of a Destination", "destination", dest.Name)
			continue
		}
		for _, wp := range wps.Items {
			if d.Touches(wp.Status.Path) {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: wp.Namespace, Name: wp.Name}})
			}
		}
	}
	return reqs
}

// markWorkers is how many placements are marked Restoring at once.
const markWorkers = 16

// markRestoring sets a Ready placement's Ready condition False with ReasonRestoring. A placement
// that is not Ready, is being deleted or is misscheduled keeps its status. When it marked the
// placement, it returns the resourceVersion that the placement had before.
func (p *placementRestorer) markRestoring(ctx context.Context, req reconcile.Request, key writers.Key, why string) (string, error) {
	wp := &v1alpha1.WorkPlacement{}
	if err := p.c.Get(ctx, req.NamespacedName, wp); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	ready := meta.FindStatusCondition(wp.Status.Conditions, v1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || !wp.DeletionTimestamp.IsZero() || wp.IsMisscheduled() {
		return "", nil
	}
	base := wp.DeepCopy()
	conditions.Set(&wp.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRestoring,
		fmt.Sprintf("%s %q was changed by someone else's hand (%s): the files are being written again, and version %s may no longer be in it",
			key.Kind, key.Name, why, wp.Status.VersionID), ready.ObservedGeneration)
	wrote, err := writeStatus(ctx, p.c, base, wp, base.Status, wp.Status)
	switch {
	case errors.Is(err, errStatusConflict):
		// The placement's own reconcile wrote its status meanwhile: the reconcile that follows
		// writes it again.
		return "", nil
	case err != nil || !wrote:
		return "", err
	}
	return base.ResourceVersion, nil
}

// cacheWait bounds how long a restore waits for the cache to see the placements it marked.
const cacheWait = 10 * time.Second

// awaitCache waits until the cache holds a newer copy of each marked placement than the one the
// mark was computed from (by name, the resourceVersion before the mark), or cacheWait passed.
//
// The reconciles that follow read the cache. One that read the copy from before the mark, still
// Ready at its version, and found the files as they were (the version unchanged: nothing was
// committed since the placement's last write) would compute that same status and write nothing,
// leaving the placement Restoring, and nothing would bring it back before its resync: the
// controller's watch passes no status change.
func (p *placementRestorer) awaitCache(ctx context.Context, log logr.Logger, marked map[types.NamespacedName]string) {
	deadline := time.Now().Add(cacheWait)
	for len(marked) > 0 {
		for name, before := range marked {
			wp := &v1alpha1.WorkPlacement{}
			err := p.c.Get(ctx, name, wp)
			if apierrors.IsNotFound(err) || (err == nil && wp.ResourceVersion != before) {
				delete(marked, name)
			}
		}
		if len(marked) == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log.Info("the cache has not seen every placement marked Restoring; writing them again all the same", "behind", len(marked))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(cachePoll):
		}
	}
}

// cachePoll is how often awaitCache looks at the cache.
const cachePoll = 10 * time.Millisecond

// reconcile runs the reconcile of a placement that is to be written and hands the queue what it
// asks for: a retry after an error or a status conflict. The resync the queue has scheduled
// already stands. It reports whether the reconcile succeeded.
func (p *placementRestorer) reconcile(ctx context.Context, req reconcile.Request) bool {
	wp := &v1alpha1.WorkPlacement{}
	if err := p.c.Get(ctx, req.NamespacedName, wp); err != nil || !wp.DeletionTimestamp.IsZero() || wp.IsMisscheduled() {
		// Gone, or nothing to restore: a placement being deleted has its files removed by
		// the queue's reconcile, and a misscheduled one's files are frozen.
		p.q.Add(req)
		return true
	}
	log := p.log.WithValues("workplacement", req.Name, "namespace", req.Namespace)
	res, err := p.r.Reconcile(withoutStoreSlots(logr.NewContext(ctx, log)), req)
	switch {
	case err != nil:
		log.Error(err, "write the placement's files again")
		p.q.AddRateLimited(req)
		return false
	case res.RequeueAfter > 0 && res.RequeueAfter < min(p.r.resyncs()):
		p.q.AddAfter(req, res.RequeueAfter)
	}
	return true
}

// storeObject returns the state store, for its Events; nil when it cannot be read.
func (p *placementRestorer) storeObject(ctx context.Context, key writers.Key) client.Object {
	kind, ok := storeKinds[key.Kind]
	if !ok {
		return nil
	}
	obj := kind.newObject()
	if err := p.c.Get(ctx, client.ObjectKey{Name: key.Name}, obj); err != nil {
		p.log.Error(err, "get the state store for its Events", "stateStore", key.String())
		return nil
	}
	return obj
}

// forEach calls fn for every request, with at most workers calls at a time, and returns when
// all have returned.
func forEach(reqs []reconcile.Request, workers int, fn func(reconcile.Request)) {
	var g errgroup.Group
	g.SetLimit(max(workers, 1))
	for _, req := range reqs {
		g.Go(func() error { fn(req); return nil })
	}
	_ = g.Wait() // fn reports nothing: every call logs or counts its own failure
}
