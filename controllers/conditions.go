package controllers

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	"kratix.dev/kratix/api/v1alpha1"
)

// maxEventNote is the longest note an events.k8s.io/v1 Event accepts (1 kB), less room for the
// ellipsis.
const maxEventNote = 1000

// inProgress are the reasons of a False condition that say work is under way, not that
// something is wrong: their Events are Normal.
var inProgress = map[string]bool{
	v1alpha1.ReasonPipelinesInProgress: true,
	v1alpha1.ReasonWorksPending:        true,
	v1alpha1.ReasonReconciling:         true,
	v1alpha1.ReasonPlacementsPending:   true,
	v1alpha1.ReasonWritePending:        true,
	v1alpha1.ReasonCRDNotEstablished:   true,
	v1alpha1.ReasonRemovingPlacements:  true,
	v1alpha1.ReasonDryRunRunning:       true,
	// One Event on the state store says that its placements are being restored.
	v1alpha1.ReasonRestoring: true,
}

// transitioned reports whether a condition changed status or reason between before and after.
func transitioned(before, after *metav1.Condition) bool {
	switch {
	case after == nil:
		return false
	case before == nil:
		return true
	default:
		return before.Status != after.Status || before.Reason != after.Reason
	}
}

// recordTransition emits an Event on obj when its condition of type condType changed status or
// reason: Normal when it became True, Warning when it failed, with the condition's reason and
// message; none when it is merely under way.
// action says what the controller was doing, e.g. "Validate".
func recordTransition(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition, condType, action string) {
	prev, cur := meta.FindStatusCondition(before, condType), meta.FindStatusCondition(after, condType)
	if !transitioned(prev, cur) || (cur.Status != metav1.ConditionTrue && inProgress[cur.Reason]) {
		// Work under way is reported where it starts (a pipeline's start, a write) and where it
		// ends; its steps in between would cost the API server a write each and say little.
		return
	}
	eventType := corev1.EventTypeWarning
	if cur.Status == metav1.ConditionTrue {
		eventType = corev1.EventTypeNormal
	}
	rec.Eventf(obj, nil, eventType, cur.Reason, action, "%s", eventNote(cur.Message))
}

// announceLongRerun records the Event of a re-run of a Ready request whose progress is written
// only now that it has lasted (heldFor): the Ready condition's transition to work under way,
// which recordTransition leaves out.
func announceLongRerun(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	prev, cur := meta.FindStatusCondition(before, v1alpha1.ConditionReady), meta.FindStatusCondition(after, v1alpha1.ConditionReady)
	if prev != nil && prev.Status == metav1.ConditionTrue && cur != nil && cur.Status != metav1.ConditionTrue && inProgress[cur.Reason] {
		rec.Eventf(obj, nil, corev1.EventTypeNormal, cur.Reason, "Reconcile", "%s", eventNote(cur.Message))
	}
}

// eventNote shortens a message to what an Event holds.
func eventNote(msg string) string {
	if len(msg) <= maxEventNote {
		return msg
	}
	return strings.ToValidUTF8(msg[:maxEventNote], "") + "…"
}

// redact replaces every value of a Secret that appears in msg. Writers never put credentials in
// their errors; this is the second line of defence for what reaches status and Events.
func redact(msg string, secret map[string][]byte) string {
	for _, v := range secret {
		// Short values (a username like "git") would redact ordinary words and say nothing
		// secret; real passwords and keys are longer.
		if s := strings.TrimSpace(string(v)); len(s) >= 6 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// quoteRef names a namespaced object for messages: "namespace/name".
func quoteRef(namespace, name string) string { return fmt.Sprintf("%q", namespace+"/"+name) }
