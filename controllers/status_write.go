package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
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
//
// The patch is computed from the two statuses alone, and the API server answers with the object's
// metadata only, which is all that is read back (obj's resourceVersion): a Work's status write
// neither encodes nor decodes the Work's files, and no status write decodes a whole object.
func writeStatus(ctx context.Context, c client.Client, base, obj client.Object, before, after any) (bool, error) {
	if equality.Semantic.DeepEqual(before, after) {
		return false, nil
	}
	patch, err := statusPatch(base.GetResourceVersion(), before, after)
	if err != nil || patch == nil {
		return false, err
	}
	written, err := metadataOf(c, obj)
	if err == nil {
		err = c.Status().Patch(ctx, written, client.RawPatch(types.MergePatchType, patch))
	}
	if err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return false, nil
		case apierrors.IsConflict(err):
			// Not a failure, but the status must be computed again from a fresh copy.
			return false, errStatusConflict
		}
		return false, fmt.Errorf("patch the status of %s: %w", describeObject(obj), err)
	}
	obj.SetResourceVersion(written.GetResourceVersion())
	return true, nil
}

// statusPatch is the JSON merge patch that turns status before into after, guarded by
// resourceVersion; nil when the two encode alike (a nil list and an empty one, for example).
func statusPatch(resourceVersion string, before, after any) ([]byte, error) {
	encode := func(status any) ([]byte, error) {
		if status == nil {
			return []byte("{}"), nil
		}
		return json.Marshal(status)
	}
	from, err := encode(before)
	if err != nil {
		return nil, fmt.Errorf("encode the status: %w", err)
	}
	to, err := encode(after)
	if err != nil {
		return nil, fmt.Errorf("encode the status: %w", err)
	}
	diff, err := jsonpatch.CreateMergePatch(from, to)
	if err != nil {
		return nil, fmt.Errorf("compute the status patch: %w", err)
	}
	if after == nil {
		diff = []byte("null")
	} else if bytes.Equal(diff, []byte("{}")) {
		return nil, nil
	}
	return json.Marshal(map[string]any{
		"metadata": map[string]string{"resourceVersion": resourceVersion},
		"status":   json.RawMessage(diff),
	})
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
