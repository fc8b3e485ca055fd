package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// addFinalizer adds the finalizers to obj that it lacks, in one patch.
func addFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizers ...string) error {
	return patchFinalizers(ctx, c, obj, "add", controllerutil.AddFinalizer, finalizers)
}

// removeFinalizer removes finalizers from obj, which lets the API server delete it once no
// other finalizer is left. An object already gone is not an error. It also retires upstream
// Kratix's finalizers that the engine does not handle (v1alpha1.LegacyFinalizer*), whether or
// not obj is being deleted.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizers ...string) error {
	return client.IgnoreNotFound(patchFinalizers(ctx, c, obj, "remove", controllerutil.RemoveFinalizer, finalizers))
}

// finishCleanup removes the cleanup finalizer of a controller whose cleanup is done, which lets
// the API server delete obj, and records that obj is finalized: its status is not written again.
func finishCleanup(ctx context.Context, c client.Client, obj client.Object, finalizer string, finalized *bool) error {
	if err := removeFinalizer(ctx, c, obj, finalizer); err != nil {
		return err
	}
	*finalized = true
	return nil
}

// patchFinalizers applies change to each finalizer and patches obj once when any changed it.
// The patch carries an optimistic lock: a merge patch replaces the whole list, and the lock keeps
// other controllers' finalizers. It sends the finalizers alone and reads back the metadata alone
// (obj's new resourceVersion): a Work's finalizer patch neither encodes nor decodes its files.
func patchFinalizers(ctx context.Context, c client.Client, obj client.Object, verb string, change func(client.Object, string) bool, finalizers []string) error {
	changed := false
	for _, f := range finalizers {
		changed = change(obj, f) || changed
	}
	if !changed {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": obj.GetResourceVersion(), "finalizers": obj.GetFinalizers(),
	}})
	if err != nil {
		return fmt.Errorf("%s the finalizers %v: %w", verb, finalizers, err)
	}
	written, err := metadataOf(c, obj)
	if err == nil {
		err = c.Patch(ctx, written, client.RawPatch(types.MergePatchType, patch))
	}
	if err != nil {
		return fmt.Errorf("%s the finalizers %v: %w", verb, finalizers, err)
	}
	obj.SetResourceVersion(written.GetResourceVersion())
	return nil
}

// metadataOf is obj's name and kind as an object whose writes read back its metadata only: a
// write through it does not decode the whole object the API server answers with.
func metadataOf(c client.Client, obj client.Object) (*metav1.PartialObjectMetadata, error) {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return nil, err
	}
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: obj.GetName()}}
	m.SetGroupVersionKind(gvk)
	return m, nil
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

// deleteAll deletes the objects that are not being deleted yet, objectWrites at a time, and
// returns how many are left: all of them, since those deleted now are gone only once their
// finalizers ran, and the watch on them brings the caller back as they go. Each delete is for
// the very object listed (a UID precondition), never for a newer one of the same name.
func deleteAll[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, c client.Client, items []T) (int, error) {
	err := forEachConcurrently(ctx, items, func(ctx context.Context, item *T) error {
		obj := PT(item)
		if !obj.GetDeletionTimestamp().IsZero() {
			return nil
		}
		uid := obj.GetUID()
		if err := c.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			if apierrors.IsConflict(err) {
				return nil // another object of that name replaced it meanwhile: not ours to delete
			}
			return fmt.Errorf("delete %s: %w", describeObject(obj), err)
		}
		logr.FromContextOrDiscard(ctx).Info("deleted", "object", describeObject(obj))
		return nil
	})
	return len(items), err
}
