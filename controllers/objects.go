package controllers

import (
	"context"
	"fmt"
	"reflect"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

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

// writeStatus patches obj's status against base when it differs from before, and reports
// whether it wrote. An object already gone is not an error: its status no longer matters.
func writeStatus(ctx context.Context, c client.Client, base, obj client.Object, before, after any) (bool, error) {
	if equality.Semantic.DeepEqual(before, after) {
		return false, nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("patch the status of %s: %w", describeObject(obj), err)
	}
	return true, nil
}

// describeObject names an object for messages: its Go type's name and its namespace/name.
func describeObject(obj client.Object) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s", reflect.TypeOf(obj).Elem().Name(), name)
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
