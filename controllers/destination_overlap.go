package controllers

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// Two Destinations of one state store whose directories overlap ("dev" and "dev", or "dev" and
// "dev/x") would write into each other's files, and a cleanup of one would remove the other's.
// The Destination created first (in the same second: the name that sorts first) keeps its
// directory; the other is refused (Ready False,
// PathOverlaps): nothing is written for it, its placements wait, and its cleanup removes
// nothing. When the first goes, or either path changes, the other is reconciled again.

// overlappingDestination returns the Destination that keeps a directory the Destination's path
// overlaps, or nil when its directory is its own. It lists the store's Destinations from the
// cache.
func overlappingDestination(ctx context.Context, c client.Reader, dest *v1alpha1.Destination) (*v1alpha1.Destination, error) {
	others, err := destinationsOnStore(ctx, c, dest.Spec.StateStoreRef)
	if err != nil {
		return nil, err
	}
	return overlapWinner(dest, others), nil
}

// destinationsOnStore lists the Destinations of a state store through the field index. It runs
// on every placement's write: the list holds the cache's own objects, not copies, and callers
// only read them.
func destinationsOnStore(ctx context.Context, c client.Reader, ref v1alpha1.StateStoreReference) ([]v1alpha1.Destination, error) {
	var dests v1alpha1.DestinationList
	if err := c.List(ctx, &dests, client.MatchingFields{indexStateStoreRef: stateStoreRefValue(ref.Kind, ref.Name)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list the Destinations of %s %s: %w", ref.Kind, ref.Name, err)
	}
	return dests.Items, nil
}

// overlapWinner is the rule: among the other Destinations of dest's store whose paths overlap
// its path, the one created first, if it was created before dest (names break ties).
func overlapWinner(dest *v1alpha1.Destination, others []v1alpha1.Destination) *v1alpha1.Destination {
	var winner *v1alpha1.Destination
	for i := range others {
		o := &others[i]
		if o.Name == dest.Name || o.Spec.StateStoreRef != dest.Spec.StateStoreRef ||
			!statestore.PathsOverlap(o.Spec.Path, dest.Spec.Path) || !createdBefore(o, dest) {
			continue
		}
		if winner == nil || createdBefore(o, winner) {
			winner = o
		}
	}
	return winner
}

// createdBefore orders Destinations by creation, then by name.
func createdBefore(a, b *v1alpha1.Destination) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// overlapMessage says why dest writes nothing.
func overlapMessage(dest, winner *v1alpha1.Destination) string {
	return fmt.Sprintf("path %q overlaps path %q of Destination %s, which came first, on the same state store: nothing is written for this Destination; give it a directory of its own",
		dest.Spec.Path, winner.Spec.Path, winner.Name)
}

// overlappingDestinations returns the names of the Destinations of dest's store, dest among them,
// whose paths overlap dest's: those whose standing a change of dest can change.
func overlappingDestinations(ctx context.Context, c client.Reader, dest *v1alpha1.Destination) ([]string, error) {
	others, err := destinationsOnStore(ctx, c, dest.Spec.StateStoreRef)
	if err != nil {
		return nil, err
	}
	out := []string{dest.Name}
	for _, o := range others {
		if o.Name != dest.Name && statestore.PathsOverlap(o.Spec.Path, dest.Spec.Path) {
			out = append(out, o.Name)
		}
	}
	return out, nil
}

// overlapAwareHandler maps an event of a Destination to what each Destination whose standing it
// can change maps to (through requestsOf): the Destination itself and those of its store whose
// paths overlap its old or its new path.
func overlapAwareHandler(c client.Reader, log logr.Logger, requestsOf func(context.Context, string) []reconcile.Request) handler.EventHandler {
	return oldAndNewHandler(func(ctx context.Context, objs []client.Object) []reconcile.Request {
		var reqs []reconcile.Request
		seen := map[string]bool{}
		for _, obj := range objs {
			dest, ok := obj.(*v1alpha1.Destination)
			if !ok {
				continue
			}
			names, err := overlappingDestinations(ctx, c, dest)
			if err != nil {
				log.Error(err, "list the Destinations that overlap a Destination", "destination", dest.Name)
				names = []string{dest.Name}
			}
			for _, name := range names {
				if !seen[name] {
					seen[name] = true
					reqs = append(reqs, requestsOf(ctx, name)...)
				}
			}
		}
		return reqs
	})
}

// oldAndNewHandler maps every event of an object to requests through requestsOf, which gets
// the object, and for an update both its old and new versions: a watch whose mapping depends on
// what changed (a path, a file list) must release what the old version held as well.
func oldAndNewHandler(requestsOf func(ctx context.Context, objs []client.Object) []reconcile.Request) handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		for _, req := range requestsOf(ctx, objs) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, e.Object)
		},
	}
}
