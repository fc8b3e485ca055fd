package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/statestore"
)

// An invalid spec ends the reconcile with a terminal error that says why (controller-runtime
// counts it and does not retry it); waiting and success do not.
func TestSpecResults(t *testing.T) {
	bad := errors.New("pipeline \"render\" has no containers")
	for _, tc := range []struct {
		name         string
		result       func() (ctrl.Result, error)
		wantTerminal string
		wantRequeue  time.Duration
	}{
		{"Promise with an API the API server refuses", func() (ctrl.Result, error) {
			return promiseResult(promiseFacts{invalidAPI: errors.New("spec.versions: Required value")})
		}, "spec.versions: Required value", 0},
		{"Promise with dependencies that cannot be packaged", func() (ctrl.Result, error) {
			return promiseResult(promiseFacts{invalidDependencies: errors.New("dependency 2 has no kind")})
		}, "dependency 2 has no kind", 0},
		{"Promise whose configure workflow cannot be built", func() (ctrl.Result, error) {
			return promiseResult(promiseFacts{invalidWorkflow: bad})
		}, "has no containers", 0},
		{"Promise waiting for its CRD", func() (ctrl.Result, error) {
			return promiseResult(promiseFacts{crdPending: "things.example.com"})
		}, "", 0},
		{"request whose workflow cannot be built", func() (ctrl.Result, error) {
			return resourceResult(resourceFacts{invalid: bad}, workflowPolicy{resync: time.Hour})
		}, "has no containers", 0},
		{"request whose delete workflow cannot be built", func() (ctrl.Result, error) {
			return resourceResult(resourceFacts{invalid: bad, deleting: true}, workflowPolicy{resync: time.Hour})
		}, "Resource Delete", 0},
		{"request whose workflow finished", func() (ctrl.Result, error) {
			return resourceResult(resourceFacts{decision: pipeline.Decision{Verdict: pipeline.Finish}}, workflowPolicy{resync: time.Hour})
		}, "", time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.result()
			if tc.wantTerminal == "" {
				if err != nil || res.RequeueAfter != tc.wantRequeue {
					t.Errorf("result = %+v, %v; want requeue after %s and no error", res, err, tc.wantRequeue)
				}
				return
			}
			if !errors.Is(err, reconcile.TerminalError(nil)) || !strings.Contains(err.Error(), tc.wantTerminal) {
				t.Errorf("error = %v, want a terminal error that says %q", err, tc.wantTerminal)
			}
		})
	}
}

// storeErrorResult retries what may pass by itself, and the kinds its caller names; any other
// store error is terminal with the condition's message, never the store's raw error.
func TestStoreErrorResult(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		alsoRetry []error
		wantRetry bool
	}{
		{"transient", statestore.NewError(statestore.ErrTransient, "push", errors.New("connection reset")), nil, true},
		{"writer replaced by a newer one", statestore.NewError(statestore.ErrClosed, "apply", nil), nil, true},
		{"authentication", statestore.NewError(statestore.ErrAuthentication, "push", nil), nil, false},
		{"missing repository, not retried by default", statestore.NewError(statestore.ErrNotFound, "clone", nil), nil, false},
		{"missing repository, retried when asked", statestore.NewError(statestore.ErrNotFound, "clone", nil), []error{statestore.ErrNotFound}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := storeErrorResult(tc.err, "the condition's message", tc.alsoRetry...)
			terminal := errors.Is(err, reconcile.TerminalError(nil))
			if terminal == tc.wantRetry {
				t.Errorf("terminal = %v, want retry %v (%v)", terminal, tc.wantRetry, err)
			}
			if terminal && err.Error() != "terminal error: the condition's message" {
				t.Errorf("terminal error = %q, want the condition's message", err)
			}
		})
	}
}
