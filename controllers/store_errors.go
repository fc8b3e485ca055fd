package controllers

import (
	"context"
	"errors"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/statestore"
)

// applyChange applies one change to the store. The store's answer comes back as storeErr, for the
// caller to record in its facts and turn into a result with storeErrorResult; err is set only
// when the reconcile was cancelled meanwhile, which makes whatever the store said meaningless.
func applyChange(ctx context.Context, w statestore.Writer, change statestore.Change, what string) (res statestore.Result, storeErr, err error) {
	res, storeErr = w.Apply(ctx, change)
	if ctx.Err() != nil {
		return statestore.Result{}, nil, fmt.Errorf("apply %s: %w", what, ctx.Err())
	}
	return res, storeErr, nil
}

// storeErrorResult is the one mapping of a state store's error to a reconcile's result: an error
// that may pass by itself (statestore.Retryable), a writer closed because a newer one replaced it
// (the store's Secret or spec changed), or one of the kinds in alsoRetry, is returned so the
// reconcile backs off and tries again; any other needs a person to change something, which
// brings the object back through a watch, so it is a terminal error that carries msg, the text
// the object's Ready condition shows.
func storeErrorResult(err error, msg string, alsoRetry ...error) (ctrl.Result, error) {
	if retryable(err, alsoRetry...) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, reconcile.TerminalError(errors.New(msg))
}

// retryable reports whether storeErrorResult retries the error.
func retryable(err error, alsoRetry ...error) bool {
	if statestore.Retryable(err) || errors.Is(err, statestore.ErrClosed) {
		return true
	}
	for _, kind := range alsoRetry {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}
