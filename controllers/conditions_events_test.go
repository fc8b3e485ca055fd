package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	"kratix.dev/kratix/api/v1alpha1"
)

// Events mark where work starts elsewhere, succeeds or fails; steps under way make none.
func TestRecordTransitionEvents(t *testing.T) {
	cond := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: status, Reason: reason, Message: "m"}}
	}
	ready := cond(metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	running := cond(metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress)
	pending := cond(metav1.ConditionFalse, v1alpha1.ReasonWorksPending)
	failed := cond(metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed)
	tests := []struct {
		name          string
		before, after []metav1.Condition
		want          string // "" for no Event, else "<type> <reason>"
	}{
		{"new object under way", nil, running, ""},
		{"ready to under way", ready, running, ""},
		{"one step under way to the next", running, pending, ""},
		{"under way to ready", pending, ready, corev1.EventTypeNormal + " " + v1alpha1.ReasonReconciled},
		{"new object ready", nil, ready, corev1.EventTypeNormal + " " + v1alpha1.ReasonReconciled},
		{"under way to failed", running, failed, corev1.EventTypeWarning + " " + v1alpha1.ReasonConfigureWorkflowFailed},
		{"failed to under way", failed, running, ""},
		{"no change", ready, ready, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(1)
			recordTransition(rec, &v1alpha1.Work{}, tc.before, tc.after, v1alpha1.ConditionReady, "Reconcile")
			var got string
			select {
			case e := <-rec.Events:
				fields := strings.Fields(e)
				got = fields[0] + " " + fields[1]
			default:
			}
			if got != tc.want {
				t.Errorf("Event %q, want %q", got, tc.want)
			}
		})
	}
}
