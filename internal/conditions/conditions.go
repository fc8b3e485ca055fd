// Package conditions is the one place where the engine sets status conditions, typed
// (metav1.Condition, in the controllers) and untyped (the maps of an unstructured status, in the
// pipeline's status-writer), so that both follow the same rules:
//
//   - A condition is replaced by type; there is at most one of each type.
//   - lastTransitionTime changes only when the status changes.
//   - observedGeneration is the .metadata.generation the condition was computed from, whatever
//     its status: metav1.Condition's documented meaning. A reader that wants to know whether the
//     current spec succeeded checks both (see Current); a failure of the current spec reads as
//     a failure, not as an old success.
package conditions

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Set puts the condition of type condType into conds, computed from the object's generation.
func Set(conds *[]metav1.Condition, condType string, status metav1.ConditionStatus, reason, message string, generation int64) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

// Current reports whether the condition of type condType is True for the given generation. A
// condition without an observed generation (written by a pipeline, which does not know it) is
// taken at its word.
func Current(conds []metav1.Condition, condType string, generation int64) bool {
	c := meta.FindStatusCondition(conds, condType)
	if c == nil || c.Status != metav1.ConditionTrue {
		return false
	}
	return c.ObservedGeneration == 0 || c.ObservedGeneration >= generation
}

// SetInStatus puts cond, a condition as a map, into status["conditions"] in place of the one of
// the same type, or at the end; anything there that is not a list is replaced. A condition
// without lastTransitionTime keeps the one it replaces when its status did not change, and gets
// now otherwise. Fields the engine does not know are kept: the pipeline's conditions are its own.
func SetInStatus(status map[string]any, cond map[string]any, now time.Time) {
	list, _ := status["conditions"].([]any)
	at := -1
	for i, c := range list {
		if existing, ok := c.(map[string]any); ok && existing["type"] == cond["type"] {
			at = i
			break
		}
	}
	if _, set := cond["lastTransitionTime"]; !set {
		cond["lastTransitionTime"] = now.UTC().Format(time.RFC3339)
		if at >= 0 {
			if existing := list[at].(map[string]any); existing["status"] == cond["status"] && existing["lastTransitionTime"] != nil {
				cond["lastTransitionTime"] = existing["lastTransitionTime"]
			}
		}
	}
	if at >= 0 {
		list[at] = cond
	} else {
		list = append(list, cond)
	}
	status["conditions"] = list
}

// ToMap is a condition as SetInStatus takes it.
func ToMap(c metav1.Condition) map[string]any {
	m := map[string]any{"type": c.Type, "status": string(c.Status), "reason": c.Reason, "message": c.Message}
	if c.ObservedGeneration != 0 {
		m["observedGeneration"] = c.ObservedGeneration
	}
	if !c.LastTransitionTime.IsZero() {
		m["lastTransitionTime"] = c.LastTransitionTime.UTC().Format(time.RFC3339)
	}
	return m
}

// FromUnstructured reads status.conditions of an unstructured object.
func FromUnstructured(obj *unstructured.Unstructured) ([]metav1.Condition, error) {
	raw, found, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil || !found {
		return nil, err
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var conds []metav1.Condition
	if err := json.Unmarshal(data, &conds); err != nil {
		return nil, fmt.Errorf("read status.conditions: %w", err)
	}
	return conds, nil
}

// ToUnstructured writes status.conditions of an unstructured object.
func ToUnstructured(obj *unstructured.Unstructured, conds []metav1.Condition) error {
	data, err := json.Marshal(conds)
	if err != nil {
		return err
	}
	var list []any
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	return unstructured.SetNestedSlice(obj.Object, list, "status", "conditions")
}
