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

// Two Destinations whose directories overlap ("dev" and "dev", or "dev" and "dev/x") would write
// into each other's files, and a cleanup of one would remove the other's. That holds across
// state stores too: two stores may name one repository and branch (or one bucket), so a
// directory is the store's location, its root path and the Destination's path together
// (storeTarget). The Destination created first (in the same second: the name that sorts first)
// keeps its directory; the other is refused (Ready False, PathOverlaps): nothing is written for
// it, its placements wait, and its cleanup removes nothing. When the first goes, or either path
// changes, the other is reconciled again.

// placedDestination is a Destination and its directory: its store's location and its path
// from that location's top (the store's root, then the Destination's path).
type placedDestination struct {
	dest     *v1alpha1.Destination
	location string
	dir      string
}

// overlappingDestination returns the Destination that keeps a directory the Destination's path
// overlaps, or nil when its directory is its own. It reads the stores and Destinations from the
// cache.
func overlappingDestination(ctx context.Context, c client.Reader, dest *v1alpha1.Destination) (*v1alpha1.Destination, error) {
	me, others, err := neighbourDestinations(ctx, c, dest)
	if err != nil {
		return nil, err
	}
	return overlapWinner(me, others), nil
}

// neighbourDestinations places dest and the Destinations of every store at the same location
// as its store (its own store's included). Where its store cannot be read, the location is the
// store's name: only its own Destinations are neighbours.
func neighbourDestinations(ctx context.Context, c client.Reader, dest *v1alpha1.Destination) (placedDestination, []placedDestination, error) {
	ref := dest.Spec.StateStoreRef
	target, err := targetOfStore(ctx, c, ref)
	if err != nil {
		return placedDestination{}, nil, err
	}
	refs := []v1alpha1.StateStoreReference{ref}
	targets := map[v1alpha1.StateStoreReference]storeTarget{ref: target}
	sameLocation, err := storesAt(ctx, c, target.location)
	if err != nil {
		return placedDestination{}, nil, err
	}
	for r, t := range sameLocation {
		if r != ref {
			refs = append(refs, r)
			targets[r] = t
		}
	}
	var others []placedDestination
	for _, r := range refs {
		dests, err := destinationsOnStore(ctx, c, r)
		if err != nil {
			return placedDestination{}, nil, err
		}
		for i := range dests {
			others = append(others, targets[r].place(&dests[i]))
		}
	}
	return target.place(dest), others, nil
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

// overlapWinner is the rule: among the other Destinations whose directories overlap me's, the
// one created first, if it was created before me (names break ties).
func overlapWinner(me placedDestination, others []placedDestination) *v1alpha1.Destination {
	var winner *v1alpha1.Destination
	for _, o := range others {
		if o.dest.Name == me.dest.Name || !me.overlaps(o) || !createdBefore(o.dest, me.dest) {
			continue
		}
		if winner == nil || createdBefore(o.dest, winner) {
			winner = o.dest
		}
	}
	return winner
}

// overlaps reports whether two placed Destinations share a directory.
func (p placedDestination) overlaps(o placedDestination) bool {
	return p.location == o.location && statestore.PathsOverlap(p.dir, o.dir)
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
	where := "on the same state store"
	if winner.Spec.StateStoreRef != dest.Spec.StateStoreRef {
		where = fmt.Sprintf("on %s %s, which writes to the same repository and branch or bucket", winner.Spec.StateStoreRef.Kind, winner.Spec.StateStoreRef.Name)
	}
	return fmt.Sprintf("path %q overlaps path %q of Destination %s, which came first, %s: nothing is written for this Destination; give it a directory of its own",
		dest.Spec.Path, winner.Spec.Path, winner.Name, where)
}

// overlappingDestinations returns the names of the Destinations, dest among them, whose
// directories overlap dest's: those whose standing a change of dest can change.
func overlappingDestinations(ctx context.Context, c client.Reader, dest *v1alpha1.Destination) ([]string, error) {
	me, others, err := neighbourDestinations(ctx, c, dest)
	if err != nil {
		return nil, err
	}
	out := []string{dest.Name}
	for _, o := range others {
		if o.dest.Name != dest.Name && me.overlaps(o) {
			out = append(out, o.dest.Name)
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
