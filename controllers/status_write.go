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

// errStatusConflict says that the status was written since the copy it was computed from was read:
// by the pipeline's status-writer (Promises and resource requests share their status with it), or
// by an earlier reconcile whose write the cache has not caught up with yet.
var errStatusConflict = errors.New("the status changed since it was read")

// conflictRetry is how soon a reconcile whose status write met a conflict runs again.
const conflictRetry = 100 * time.Millisecond

// writeStatus patches obj's status against base when it differs from before, and reports
// whether it wrote. An object already gone is not an error: its status no longer matters.
//
// The patch carries the resourceVersion of base, so it applies only to the status it was computed
// from; a conflict is errStatusConflict. Two things depend on that. A merge patch replaces whole
// lists such as conditions, so one computed from a stale copy would drop a condition the
// status-writer added. And the caller records Events and counts metrics for the transitions
// between base and obj once its write went through: from a stale copy (the cache had not yet
// seen the previous reconcile's write) the same transition would be recorded twice.
func writeStatus(ctx context.Context, c client.Client, base, obj client.Object, before, after any) (bool, error) {
	if equality.Semantic.DeepEqual(before, after) {
		return false, nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return false, nil
		case apierrors.IsConflict(err):
			// Not a failure, but the status must be computed again from a fresh copy.
			return false, errStatusConflict
		}
		return false, fmt.Errorf("patch the status of %s: %w", describeObject(obj), err)
	}
	return true, nil
}

// afterStatusPatch is a reconcile's outcome once its deferred status patch ran: a conflict (see
// writeStatus) runs the reconcile again soon; any other failure to patch
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
