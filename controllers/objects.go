package controllers

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// addFinalizer adds the finalizers to obj that it lacks, in one patch. The patch carries an
// optimistic lock: a merge patch replaces the whole list, and the lock keeps other controllers'
// finalizers.
func addFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizers ...string) error {
	base := obj.DeepCopyObject().(client.Object)
	added := false
	for _, f := range finalizers {
		added = controllerutil.AddFinalizer(obj, f) || added
	}
	if !added {
		return nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add the finalizers %v: %w", finalizers, err)
	}
	return nil
}

// removeFinalizer removes the finalizer from obj, which lets the API server delete it once no
// other finalizer is left. An object already gone is not an error.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	base := obj.DeepCopyObject().(client.Object)
	if !controllerutil.RemoveFinalizer(obj, finalizer) {
		return nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("remove the finalizer %s: %w", finalizer, err)
	}
	return nil
}

// removeLabel removes a trigger label once the engine acted on it.
func removeLabel(ctx context.Context, c client.Client, obj client.Object, label string) error {
	patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, label)))
	if err := c.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("remove the label %s: %w", label, err)
	}
	return nil
}

// objectWrites is how many writes to the API server one reconcile makes at once when it has
// several objects to create or delete.
const objectWrites = 8

// forEachConcurrently calls fn for every item, objectWrites at a time, and returns the first
// error; the others stop early through the context.
func forEachConcurrently[T any](ctx context.Context, items []T, fn func(context.Context, *T) error) error {
	if len(items) == 1 {
		return fn(ctx, &items[0])
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(objectWrites)
	for i := range items {
		g.Go(func() error { return fn(gctx, &items[i]) })
	}
	return g.Wait()
}
