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
	"kratix.dev/kratix/statestore"
)

func TestSetDestinationReadyCondition(t *testing.T) {
	base := destinationFacts{store: `GitStateStore "default"`, path: "dev-1"}
	with := func(change func(*destinationFacts)) destinationFacts {
		f := base
		change(&f)
		return f
	}
	cases := []struct {
		name       string
		facts      destinationFacts
		wantStatus metav1.ConditionStatus
		wantReason string
		wantInMsg  []string
	}{
		{"canary files written", base, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten, []string{`"dev-1"`, `GitStateStore "default"`}},
		{"canary files disabled", with(func(f *destinationFacts) { f.canariesDisabled = true }),
			metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady, []string{"initWorkloads.enabled is false"}},
		{"store missing", with(func(f *destinationFacts) { f.storeMissing = true }),
			metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady, []string{"does not exist", "spec.stateStoreRef"}},
		{"store not ready", with(func(f *destinationFacts) { f.storeNotReady = "SecretNotFound: Secret \"default/x\" not found" }),
			metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady, []string{"is not ready", "SecretNotFound"}},
		{"store not ready while deleting", with(func(f *destinationFacts) { f.storeNotReady = "x"; f.deleting = true }),
			metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady, []string{"spec.cleanup to none"}},
		{"write failed", with(func(f *destinationFacts) { f.writeErr = errors.New("push refused") }),
			metav1.ConditionFalse, v1alpha1.ReasonStateStoreWriteFailed, []string{"canary files", "push refused"}},
		{"removal failed", with(func(f *destinationFacts) { f.writeErr = errors.New("push refused"); f.deleting = true }),
			metav1.ConditionFalse, v1alpha1.ReasonStateStoreWriteFailed, []string{"cannot remove the directory", "spec.cleanup to none"}},
		{"store pending, no condition yet", with(func(f *destinationFacts) { f.storePending = true }),
			metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady, []string{"waiting for the engine"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var status v1alpha1.DestinationStatus
			setDestinationReadyCondition(&status, 2, tc.facts)
			c := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
			if c == nil {
				t.Fatal("no Ready condition")
			}
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason {
				t.Errorf("got Ready=%s %s (%s), want Ready=%s %s", c.Status, c.Reason, c.Message, tc.wantStatus, tc.wantReason)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(c.Message, s) {
					t.Errorf("message %q lacks %q", c.Message, s)
				}
			}
		})
	}
}

// After a restart the engine validates each store again; meanwhile a Ready Destination stays Ready.
func TestSetDestinationReadyConditionKeepsConditionWhileStorePending(t *testing.T) {
	var status v1alpha1.DestinationStatus
	setDestinationReadyCondition(&status, 1, destinationFacts{store: "s", path: "p"})
	before := *meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
	setDestinationReadyCondition(&status, 1, destinationFacts{store: "s", path: "p", storePending: true})
	after := *meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
	if before != after {
		t.Errorf("condition changed while the store was pending: %+v -> %+v", before, after)
	}
}

func TestStoreNotReadyReason(t *testing.T) {
	cases := []struct {
		name string
		cond *metav1.Condition
		gen  int64
		want string
	}{
		{"never validated", nil, 1, "not been validated"},
		{"not ready", &metav1.Condition{Status: metav1.ConditionFalse, Reason: "SecretNotFound", Message: "create it"}, 1, "SecretNotFound: create it"},
		{"ready for an older spec", &metav1.Condition{Status: metav1.ConditionTrue, ObservedGeneration: 1}, 2, "latest spec"},
		{"ready", &metav1.Condition{Status: metav1.ConditionTrue, ObservedGeneration: 2}, 2, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := storeNotReadyReason(tc.cond, tc.gen)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want something with %q", got, tc.want)
			}
		})
	}
}

func TestDestinationResult(t *testing.T) {
	cases := []struct {
		name         string
		facts        destinationFacts
		wantErr      bool
		wantTerminal bool
	}{
		{"written", destinationFacts{}, false, false},
		{"store not ready: the watches bring it back", destinationFacts{storeNotReady: "x"}, false, false},
		{"store missing: the store watch brings it back", destinationFacts{storeMissing: true}, false, false},
		{"transient write failure: backoff", destinationFacts{writeErr: statestore.NewError(statestore.ErrTransient, "push", nil)}, true, false},
		{"writer replaced meanwhile: backoff", destinationFacts{writeErr: statestore.NewError(statestore.ErrClosed, "apply", nil)}, true, false},
		{"invalid path: terminal", destinationFacts{writeErr: statestore.NewError(statestore.ErrInvalidPath, "path", nil)}, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := destinationResult(tc.facts)
			if res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %s; Destinations never poll", res.RequeueAfter)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := errors.Is(err, reconcile.TerminalError(nil)); got != tc.wantTerminal {
				t.Errorf("terminal = %v, want %v", got, tc.wantTerminal)
			}
		})
	}
}

// The status records when the canary files were written, keeps that time while they stay as
// they are, and never records a write that did not happen.
func TestDestinationLastWriteTime(t *testing.T) {
	t1 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t2 := metav1.NewTime(t1.Add(time.Hour))
	var status v1alpha1.DestinationStatus
	setDestinationStatus(&status, 1, destinationFacts{store: "s", now: t1, storeNotReady: "x"})
	if status.LastWriteTime != nil {
		t.Fatalf("a Destination whose store is not ready has a last write: %v", status.LastWriteTime)
	}
	setDestinationStatus(&status, 1, destinationFacts{store: "s", now: t1, canariesWritten: true})
	if status.LastWriteTime == nil || !status.LastWriteTime.Equal(&t1) {
		t.Fatalf("canary files found in the store: lastWriteTime = %v, want %v", status.LastWriteTime, t1)
	}
	setDestinationStatus(&status, 1, destinationFacts{store: "s", now: t2, canariesWritten: true})
	if !status.LastWriteTime.Equal(&t1) {
		t.Errorf("nothing changed in the store, yet lastWriteTime moved to %v", status.LastWriteTime)
	}
	setDestinationStatus(&status, 1, destinationFacts{store: "s", now: t2, canariesWritten: true, canariesChanged: true})
	if !status.LastWriteTime.Equal(&t2) {
		t.Errorf("canary files written again: lastWriteTime = %v, want %v", status.LastWriteTime, t2)
	}
}
