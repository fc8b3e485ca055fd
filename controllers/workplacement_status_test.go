package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/statestore"
)

// wantCondition is a condition's expected status and reason, and a part of its message.
type wantCondition struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

func checkCondition(t *testing.T, conds []metav1.Condition, condType string, want wantCondition) {
	t.Helper()
	c := meta.FindStatusCondition(conds, condType)
	if c == nil {
		t.Fatalf("no %s condition in %+v", condType, conds)
	}
	if c.Status != want.status || c.Reason != want.reason || !strings.Contains(c.Message, want.message) {
		t.Errorf("%s = %s %s %q, want %s %s containing %q", condType, c.Status, c.Reason, c.Message, want.status, want.reason, want.message)
	}
}

func TestSetPlacementStatus(t *testing.T) {
	earlier := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	written := func(gen int64) v1alpha1.WorkPlacementStatus {
		s := v1alpha1.WorkPlacementStatus{VersionID: "old", Path: "dev/dir", LastWriteTime: &earlier, ObservedGeneration: gen}
		for _, ct := range []string{v1alpha1.ConditionScheduleSucceeded, v1alpha1.ConditionWriteSucceeded, v1alpha1.ConditionReady} {
			conditions.Set(&s.Conditions, ct, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, "written", gen)
		}
		return s
	}
	success := placementFacts{destination: "dev", written: true, dir: "dev/dir", files: 2, now: now,
		result: statestore.Result{Version: "abc", Changed: true}}
	unchanged := success
	unchanged.result.Changed = false

	tests := []struct {
		name       string
		before     v1alpha1.WorkPlacementStatus
		facts      placementFacts
		schedule   wantCondition
		write      *wantCondition // nil: WriteSucceeded as before
		ready      wantCondition
		version    string
		lastWrite  *metav1.Time
		observedGn int64
	}{
		{
			name:     "first write",
			facts:    success,
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, `"dev"`},
			write:    &wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, `2 files written to "dev/dir" at version abc`},
			ready:    wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, "abc"},
			version:  "abc", lastWrite: &now, observedGn: 3,
		},
		{
			name:     "a write that changed nothing keeps lastWriteTime",
			before:   written(2),
			facts:    unchanged,
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, ""},
			write:    &wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, ""},
			ready:    wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, ""},
			version:  "abc", lastWrite: &earlier, observedGn: 3,
		},
		{
			name:     "a resync that changed nothing keeps the version its files were written at",
			before:   written(3),
			facts:    unchanged,
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, ""},
			write:    &wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, `2 files written to "dev/dir" at version old`},
			ready:    wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, "at version old"},
			version:  "old", lastWrite: &earlier, observedGn: 3,
		},
		{
			name:     "misscheduled keeps the version and the last write",
			before:   written(2),
			facts:    placementFacts{destination: "dev", misscheduled: true, now: now},
			schedule: wantCondition{metav1.ConditionFalse, v1alpha1.ReasonMisscheduled, `"dev" no longer matches`},
			ready:    wantCondition{metav1.ConditionFalse, v1alpha1.ReasonMisscheduled, "files are kept on dev and no longer updated"},
			version:  "old", lastWrite: &earlier, observedGn: 2,
		},
		{
			name:     "destination missing",
			facts:    placementFacts{destination: "dev", destinationMissing: true, now: now},
			schedule: wantCondition{metav1.ConditionFalse, v1alpha1.ReasonDestinationNotFound, `"dev" does not exist`},
			write:    &wantCondition{metav1.ConditionFalse, v1alpha1.ReasonDestinationNotFound, `"dev" does not exist`},
			ready:    wantCondition{metav1.ConditionFalse, v1alpha1.ReasonDestinationNotFound, ""},
		},
		{
			name:     "store not ready before the current spec was written",
			before:   written(2),
			facts:    placementFacts{destination: "dev", storeNotReady: "GitStateStore \"s\" is not ready", now: now},
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, ""},
			write:    &wantCondition{metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady, `GitStateStore "s" is not ready`},
			ready:    wantCondition{metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady, ""},
			version:  "old", lastWrite: &earlier, observedGn: 2,
		},
		{
			name:     "store not ready after the current spec was written does not flap",
			before:   written(3),
			facts:    placementFacts{destination: "dev", storeNotReady: "revalidating", now: now},
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, ""},
			write:    &wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, "written"},
			ready:    wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, "written"},
			version:  "old", lastWrite: &earlier, observedGn: 3,
		},
		{
			name:     "invalid path",
			facts:    placementFacts{destination: "dev", writeErr: statestore.NewError(statestore.ErrInvalidPath, `path "../x"`, errors.New("escapes")), now: now},
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, ""},
			write:    &wantCondition{metav1.ConditionFalse, v1alpha1.ReasonInvalidWorkloadPath, "escapes"},
			ready:    wantCondition{metav1.ConditionFalse, v1alpha1.ReasonInvalidWorkloadPath, ""},
		},
		{
			name:     "a path claimed by another placement keeps the last write",
			before:   written(2),
			facts:    placementFacts{destination: "dev", claimed: statestore.NewError(statestore.ErrClaimed, `path "dev/foo"`, errors.New("WorkPlacement ns/first writes")), now: now},
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, ""},
			write:    &wantCondition{metav1.ConditionFalse, v1alpha1.ReasonFileClaimed, `nothing is written to Destination "dev": path "dev/foo"`},
			ready:    wantCondition{metav1.ConditionFalse, v1alpha1.ReasonFileClaimed, "WorkPlacement ns/first writes"},
			version:  "old", lastWrite: &earlier, observedGn: 2,
		},
		{
			name:     "store failure",
			before:   written(2),
			facts:    placementFacts{destination: "dev", writeErr: statestore.NewError(statestore.ErrTransient, "push", nil), now: now},
			schedule: wantCondition{metav1.ConditionTrue, v1alpha1.ReasonScheduled, ""},
			write:    &wantCondition{metav1.ConditionFalse, v1alpha1.ReasonWriteFailed, "push: store unavailable"},
			ready:    wantCondition{metav1.ConditionFalse, v1alpha1.ReasonWriteFailed, ""},
			version:  "old", lastWrite: &earlier, observedGn: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := *tt.before.DeepCopy()
			before := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionWriteSucceeded)
			setPlacementStatus(&status, 3, tt.facts)
			checkCondition(t, status.Conditions, v1alpha1.ConditionScheduleSucceeded, tt.schedule)
			checkCondition(t, status.Conditions, v1alpha1.ConditionReady, tt.ready)
			if tt.write != nil {
				checkCondition(t, status.Conditions, v1alpha1.ConditionWriteSucceeded, *tt.write)
			} else if after := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionWriteSucceeded); (before == nil) != (after == nil) || (after != nil && *after != *before) {
				t.Errorf("WriteSucceeded changed from %+v to %+v", before, after)
			}
			if status.VersionID != tt.version {
				t.Errorf("versionID %q, want %q", status.VersionID, tt.version)
			}
			if !status.LastWriteTime.Equal(tt.lastWrite) {
				t.Errorf("lastWriteTime %v, want %v", status.LastWriteTime, tt.lastWrite)
			}
			if status.ObservedGeneration != tt.observedGn {
				t.Errorf("observedGeneration %d, want %d", status.ObservedGeneration, tt.observedGn)
			}
		})
	}
}

func TestPlacementResult(t *testing.T) {
	resync, watchedResync := 7*time.Minute, 5*time.Hour
	transient := statestore.NewError(statestore.ErrTransient, "push", nil)
	tests := []struct {
		name         string
		facts        placementFacts
		requeueAfter time.Duration
		err          error // the error returned, not terminal
		terminal     bool  // a terminal error
	}{
		{name: "written", facts: placementFacts{written: true}, requeueAfter: resync},
		{name: "written to a store whose writer reports drift itself", facts: placementFacts{written: true, storeWatchesDrift: true}, requeueAfter: watchedResync},
		{name: "misscheduled", facts: placementFacts{misscheduled: true}},
		{name: "destination missing", facts: placementFacts{destinationMissing: true}},
		{name: "store not ready", facts: placementFacts{storeNotReady: "x"}},
		{name: "finalized", facts: placementFacts{deleting: true, finalized: true}},
		{name: "store unavailable", facts: placementFacts{writeErr: transient}, err: transient},
		{name: "closed writer", facts: placementFacts{writeErr: statestore.ErrClosed}, err: statestore.ErrClosed},
		{name: "authentication", facts: placementFacts{writeErr: statestore.NewError(statestore.ErrAuthentication, "push", nil)}, terminal: true},
		{name: "invalid content", facts: placementFacts{invalidContent: errors.New("not gzip")}, terminal: true},
		{name: "a claimed path waits for its claimant's change, resync as a safety net",
			facts: placementFacts{claimed: statestore.NewError(statestore.ErrClaimed, "path", nil)}, requeueAfter: resync},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := placementResult(tt.facts, resync, watchedResync)
			if res.RequeueAfter != tt.requeueAfter {
				t.Errorf("requeueAfter %v, want %v", res.RequeueAfter, tt.requeueAfter)
			}
			switch {
			case tt.terminal:
				if !errors.Is(err, reconcile.TerminalError(nil)) {
					t.Errorf("error %v, want a terminal error", err)
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) || errors.Is(err, reconcile.TerminalError(nil)) {
					t.Errorf("error %v, want %v (not terminal)", err, tt.err)
				}
			case err != nil:
				t.Errorf("error %v, want none", err)
			}
		})
	}
}

// A placement waiting for a slot of its busy store keeps its status until its write, but a new
// one says it is scheduled.
func TestWaitsForItsWrite(t *testing.T) {
	written := &v1alpha1.WorkPlacementStatus{Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue}}}
	for _, tt := range []struct {
		name   string
		status *v1alpha1.WorkPlacementStatus
		facts  placementFacts
		want   bool
	}{
		{"busy store, a placement written before", written, placementFacts{storeBusy: true}, true},
		{"busy store, a new placement", &v1alpha1.WorkPlacementStatus{}, placementFacts{storeBusy: true}, false},
		{"written", written, placementFacts{written: true}, false},
		{"the write failed", written, placementFacts{writeErr: errors.New("refused")}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := waitsForItsWrite(tt.status, tt.facts); got != tt.want {
				t.Errorf("waitsForItsWrite = %t, want %t", got, tt.want)
			}
		})
	}
}
