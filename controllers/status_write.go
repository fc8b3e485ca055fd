package controllers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// statusGuard says who else writes an object's status, and so how a patch of it is guarded.
type statusGuard int

const (
	// soleWriter: the controller is the only writer of the status (WorkPlacements, Works,
	// Destinations, state stores): a merge patch of what changed.
	soleWriter statusGuard = iota
	// sharedWithPipeline: the pipeline's status-writer writes the status too (Promises, resource
	// requests). A merge patch replaces whole lists such as conditions, so one computed from a
	// stale copy would drop what the status-writer added: the patch carries the resourceVersion
	// it was computed from, and a conflict is errStatusConflict.
	sharedWithPipeline
)

// errStatusConflict says that the status was written by someone else since it was read.
var errStatusConflict = errors.New("the status changed since it was read")

// conflictRetry is how soon a reconcile whose status write met a conflict runs again.
const conflictRetry = 100 * time.Millisecond

// writeStatus patches obj's status against base when it differs from before, and reports
// whether it wrote. An object already gone is not an error: its status no longer matters.
func writeStatus(ctx context.Context, c client.Client, base, obj client.Object, before, after any, guard statusGuard) (bool, error) {
	if equality.Semantic.DeepEqual(before, after) {
		return false, nil
	}
	patch := client.MergeFrom(base)
	if guard == sharedWithPipeline {
		patch = client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	}
	if err := c.Status().Patch(ctx, obj, patch); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return false, nil
		case guard == sharedWithPipeline && apierrors.IsConflict(err):
			// The pipeline's status-writer (or an earlier reconcile) wrote the status since
			// the cache's copy: not a failure, but the status must be computed again.
			return false, errStatusConflict
		}
		return false, fmt.Errorf("patch the status of %s: %w", describeObject(obj), err)
	}
	return true, nil
}

// afterStatusPatch is a reconcile's outcome once its deferred status patch ran: a conflict with
// the other writer of the status runs the reconcile again soon; any other failure to patch
// joins the reconcile's error.
func afterStatusPatch(result ctrl.Result, reconcileErr, patchErr error) (ctrl.Result, error) {
	switch {
	case patchErr == nil:
		return result, reconcileErr
	case errors.Is(patchErr, errStatusConflict) && reconcileErr == nil:
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	default:
		return ctrl.Result{}, withPatchError(reconcileErr, patchErr)
	}
}

// withPatchError combines a reconcile's error with the failure to write its status. The result is
// never terminal, even when the reconcile's error was: the status still has to be written, so the
// reconcile must run again.
func withPatchError(reconcileErr, patchErr error) error {
	if reconcileErr == nil {
		return patchErr
	}
	return fmt.Errorf("%w (the reconcile had failed with: %s)", patchErr, reconcileErr.Error())
}

// describeObject names an object for messages: its kind and its namespace/name.
func describeObject(obj client.Object) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		kind = reflect.TypeOf(obj).Elem().Name()
	}
	return fmt.Sprintf("%s %s", kind, name)
}
