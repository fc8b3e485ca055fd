package conditions

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSet(t *testing.T) {
	var conds []metav1.Condition
	Set(&conds, "Ready", metav1.ConditionTrue, "Done", "ok", 1)
	first := *meta.FindStatusCondition(conds, "Ready")
	Set(&conds, "Ready", metav1.ConditionTrue, "Done", "still ok", 2)
	same := *meta.FindStatusCondition(conds, "Ready")
	if !same.LastTransitionTime.Equal(&first.LastTransitionTime) || same.ObservedGeneration != 2 || same.Message != "still ok" {
		t.Errorf("same status again: %+v, want the transition time kept and generation 2", same)
	}
	Set(&conds, "Ready", metav1.ConditionFalse, "Failed", "broken", 3)
	if len(conds) != 1 {
		t.Fatalf("%d conditions, want one per type", len(conds))
	}
	if c := conds[0]; c.ObservedGeneration != 3 || c.Status != metav1.ConditionFalse {
		t.Errorf("a failure: %+v, want False at generation 3", c)
	}
	if Current(conds, "Ready", 3) {
		t.Error("a False condition reads as current success")
	}
}

func TestCurrent(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cond       *metav1.Condition
		generation int64
		want       bool
	}{
		{"missing", nil, 1, false},
		{"true for this generation", &metav1.Condition{Status: metav1.ConditionTrue, ObservedGeneration: 2}, 2, true},
		{"true for an older generation", &metav1.Condition{Status: metav1.ConditionTrue, ObservedGeneration: 1}, 2, false},
		{"false for this generation", &metav1.Condition{Status: metav1.ConditionFalse, ObservedGeneration: 2}, 2, false},
		{"true, written without a generation", &metav1.Condition{Status: metav1.ConditionTrue}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conds []metav1.Condition
			if tc.cond != nil {
				c := *tc.cond
				c.Type = "Ready"
				conds = append(conds, c)
			}
			if got := Current(conds, "Ready", tc.generation); got != tc.want {
				t.Errorf("Current = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSetInStatus(t *testing.T) {
	earlier := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := earlier.Add(time.Hour)
	status := map[string]any{"conditions": []any{
		map[string]any{"type": "Ready", "status": "True", "lastTransitionTime": earlier.Format(time.RFC3339)},
		map[string]any{"type": "Custom", "status": "False", "lastTransitionTime": earlier.Format(time.RFC3339), "extra": "kept"},
	}}
	SetInStatus(status, map[string]any{"type": "Ready", "status": "True", "message": "again"}, now)
	SetInStatus(status, map[string]any{"type": "Custom", "status": "True"}, now)
	SetInStatus(status, ToMap(metav1.Condition{Type: "New", Status: metav1.ConditionTrue, Reason: "R"}), now)
	list := status["conditions"].([]any)
	if len(list) != 3 {
		t.Fatalf("conditions = %v, want 3", list)
	}
	ready, custom, added := list[0].(map[string]any), list[1].(map[string]any), list[2].(map[string]any)
	if ready["lastTransitionTime"] != earlier.Format(time.RFC3339) || ready["message"] != "again" {
		t.Errorf("same status: %v, want the transition time kept", ready)
	}
	if custom["lastTransitionTime"] != now.Format(time.RFC3339) {
		t.Errorf("changed status: %v, want the transition time now", custom)
	}
	if added["type"] != "New" || added["reason"] != "R" || added["lastTransitionTime"] != now.Format(time.RFC3339) {
		t.Errorf("added: %v", added)
	}
	if _, ok := added["observedGeneration"]; ok {
		t.Errorf("a condition without a generation carries one: %v", added)
	}
}
