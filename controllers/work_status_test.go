package controllers

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/scheduling"
)

func TestWorkScheduling(t *testing.T) {
	cases := []struct {
		name         string
		facts        workFacts
		status       metav1.ConditionStatus
		reason       string
		msgHasAll    []string
		msgHasNoneOf []string
	}{
		{"all scheduled", workFacts{planned: true, desired: 2, created: 2},
			metav1.ConditionTrue, v1alpha1.ReasonScheduled, []string{"2 placements"}, nil},
		{"a group without a Destination",
			workFacts{planned: true, unscheduled: []unscheduledGroup{{id: "abc", selector: map[string]string{"zone": "b", "env": "prod"}}}},
			metav1.ConditionFalse, v1alpha1.ReasonNoMatchingDestination, []string{"abc (env=prod,zone=b)"}, nil},
		{"an empty selector is said so",
			workFacts{planned: true, unscheduled: []unscheduledGroup{{id: "abc"}}},
			metav1.ConditionFalse, v1alpha1.ReasonNoMatchingDestination, []string{"abc (no selector)"}, nil},
		{"misscheduled placements name their Destinations",
			workFacts{planned: true, desired: 1, created: 1, misscheduled: []misscheduledPlacement{{name: "w.dev", destination: "dev"}}},
			metav1.ConditionFalse, v1alpha1.ReasonMisscheduled, []string{"w.dev on Destination dev", v1alpha1.LabelMisscheduled}, nil},
		{"unscheduled groups come before misscheduled placements",
			workFacts{planned: true, unscheduled: []unscheduledGroup{{id: "abc"}}, misscheduled: []misscheduledPlacement{{name: "w.dev", destination: "dev"}}},
			metav1.ConditionFalse, v1alpha1.ReasonNoMatchingDestination, []string{"abc"}, []string{"w.dev"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, reason, msg := workScheduling(tc.facts)
			if status != tc.status || reason != tc.reason {
				t.Errorf("got %s %s, want %s %s (%s)", status, reason, tc.status, tc.reason, msg)
			}
			for _, s := range tc.msgHasAll {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
			for _, s := range tc.msgHasNoneOf {
				if strings.Contains(msg, s) {
					t.Errorf("message %q has %q", msg, s)
				}
			}
		})
	}
}

func TestWorkReadiness(t *testing.T) {
	cases := []struct {
		name   string
		facts  workFacts
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		{"all ready", workFacts{planned: true, desired: 3, created: 3, ready: 3},
			metav1.ConditionTrue, v1alpha1.ReasonAllPlacementsReady, "3 of 3 placements written"},
		{"nothing to place", workFacts{planned: true},
			metav1.ConditionTrue, v1alpha1.ReasonAllPlacementsReady, "0 of 0 placements written"},
		{"some not written yet", workFacts{planned: true, desired: 3, created: 3, ready: 2},
			metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending, "2 of 3 placements written"},
		{"some not created yet", workFacts{planned: true, desired: 3, created: 1},
			metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending, "0 of 3 placements written; 1 of 3 placements created"},
		{"unscheduled groups", workFacts{planned: true, unscheduled: []unscheduledGroup{{id: "a"}}},
			metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending, "0 of 0 placements written; 1 workload groups have no matching Destination"},
		{"misscheduled placements do not hold Ready back",
			workFacts{planned: true, desired: 1, created: 1, ready: 1, misscheduled: []misscheduledPlacement{{name: "w.dev", destination: "dev"}}},
			metav1.ConditionTrue, v1alpha1.ReasonAllPlacementsReady, "1 of 1 placements written"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, reason, msg := workReadiness(tc.facts)
			if status != tc.status || reason != tc.reason || msg != tc.msg {
				t.Errorf("got %s %s %q, want %s %s %q", status, reason, msg, tc.status, tc.reason, tc.msg)
			}
		})
	}
}

func TestWorkConditionsNeedAPlan(t *testing.T) {
	status := v1alpha1.WorkStatus{WorkPlacements: 4}
	setWorkScheduleCondition(&status, 1, workFacts{})
	setWorkReadyCondition(&status, 1, workFacts{})
	setWorkCounts(&status, workFacts{})
	if len(status.Conditions) != 0 || status.WorkPlacements != 4 {
		t.Errorf("a reconcile that made no plan changed the status: %+v", status)
	}
	setWorkCounts(&status, workFacts{planned: true, desired: 2, created: 1})
	if status.WorkPlacements != 2 || status.WorkPlacementsCreated != 1 {
		t.Errorf("counts = %d/%d, want 2/1", status.WorkPlacementsCreated, status.WorkPlacements)
	}
}

func TestPlacementReady(t *testing.T) {
	ready := func(status metav1.ConditionStatus, observed, generation int64) *v1alpha1.WorkPlacement {
		return &v1alpha1.WorkPlacement{
			ObjectMeta: metav1.ObjectMeta{Generation: generation},
			Status: v1alpha1.WorkPlacementStatus{Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionReady, Status: status, ObservedGeneration: observed},
			}},
		}
	}
	cases := []struct {
		name string
		wp   *v1alpha1.WorkPlacement
		want bool
	}{
		{"no condition", &v1alpha1.WorkPlacement{}, false},
		{"True for the current spec", ready(metav1.ConditionTrue, 2, 2), true},
		{"True for an older spec", ready(metav1.ConditionTrue, 1, 2), false},
		{"True without a generation", ready(metav1.ConditionTrue, 0, 2), true},
		{"False", ready(metav1.ConditionFalse, 2, 2), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := placementReady(tc.wp); got != tc.want {
				t.Errorf("placementReady = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWorkFactsOf(t *testing.T) {
	readyWP := v1alpha1.WorkPlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "w.a", Generation: 1},
		Status: v1alpha1.WorkPlacementStatus{Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: 1},
		}},
	}
	frozen := v1alpha1.WorkPlacement{ObjectMeta: metav1.ObjectMeta{Name: "w.z"}, Spec: v1alpha1.WorkPlacementSpec{TargetDestinationName: "z"}}
	marked := v1alpha1.WorkPlacement{ObjectMeta: metav1.ObjectMeta{Name: "w.m"}, Spec: v1alpha1.WorkPlacementSpec{TargetDestinationName: "m"}}
	group := v1alpha1.WorkloadGroup{ID: scheduling.GroupID("."), DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
		{MatchLabels: map[string]string{"env": "x"}, Source: v1alpha1.SelectorSourcePromise},
	}}
	work := &v1alpha1.Work{Spec: v1alpha1.WorkSpec{WorkloadGroups: []v1alpha1.WorkloadGroup{group}}}
	plan := scheduling.Plan{
		Create:      []v1alpha1.WorkPlacement{{}},
		Update:      []v1alpha1.WorkPlacement{{}},
		Misschedule: []v1alpha1.WorkPlacement{marked},
		Unchanged:   []string{"w.a"},
		Frozen:      []string{"w.z"},
		Unscheduled: []string{group.ID},
	}
	f := workFactsOf(work, plan, []v1alpha1.WorkPlacement{readyWP, frozen, marked}, 1)
	if f.desired != 3 || f.created != 3 || f.ready != 1 {
		t.Errorf("desired/created/ready = %d/%d/%d, want 3/3/1", f.desired, f.created, f.ready)
	}
	want := []misscheduledPlacement{{name: "w.m", destination: "m"}, {name: "w.z", destination: "z"}}
	if !slices.Equal(f.misscheduled, want) {
		t.Errorf("misscheduled = %v, want %v", f.misscheduled, want)
	}
	if len(f.unscheduled) != 1 || f.unscheduled[0].selector["env"] != "x" {
		t.Errorf("unscheduled = %v", f.unscheduled)
	}
}

func TestWorkSelectorValues(t *testing.T) {
	work := &v1alpha1.Work{Spec: v1alpha1.WorkSpec{WorkloadGroups: []v1alpha1.WorkloadGroup{
		{ID: "a", DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{{MatchLabels: map[string]string{"env": "dev", "zone": "1"}}}},
		{ID: "b", DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{{MatchLabels: map[string]string{"env": "dev"}}}},
		{ID: "c"},
	}}}
	if got, want := workSelectorValues(work), []string{anySelector, "env=dev", "zone=1"}; !slices.Equal(got, want) {
		t.Errorf("workSelectorValues = %v, want %v", got, want)
	}
}

func TestSchedulingChanged(t *testing.T) {
	base := &v1alpha1.Destination{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"env": "dev"}}}
	relabelled := base.DeepCopy()
	relabelled.Labels["env"] = "prod"
	strict := base.DeepCopy()
	strict.Spec.StrictMatchLabels = true
	deleting := base.DeepCopy()
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	statusOnly := base.DeepCopy()
	statusOnly.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady}}
	cases := []struct {
		name string
		new  *v1alpha1.Destination
		want bool
	}{
		{"labels", relabelled, true},
		{"strictMatchLabels", strict, true},
		{"deletion", deleting, true},
		{"status only", statusOnly, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := schedulingChanged(base, tc.new); got != tc.want {
				t.Errorf("schedulingChanged = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlacingNewSpec: a Work whose status showed a settled outcome keeps it while its new spec's
// placements are written, unless something else is news.
func TestPlacingNewSpec(t *testing.T) {
	settled := func(gen int64) *v1alpha1.WorkStatus {
		s := &v1alpha1.WorkStatus{}
		setWorkScheduleCondition(s, gen, workFacts{planned: true, desired: 1, created: 1, ready: 1})
		setWorkReadyCondition(s, gen, workFacts{planned: true, desired: 1, created: 1, ready: 1})
		setWorkCounts(s, workFacts{planned: true, desired: 1, created: 1, ready: 1})
		s.ObservedGeneration = gen
		return s
	}
	next := func(before *v1alpha1.WorkStatus, gen int64, f workFacts) *v1alpha1.WorkStatus {
		s := before.DeepCopy()
		setWorkScheduleCondition(s, gen, f)
		setWorkReadyCondition(s, gen, f)
		setWorkCounts(s, f)
		s.ObservedGeneration = gen
		return s
	}
	pending := workFacts{planned: true, desired: 1, created: 1, ready: 0}
	failing := &v1alpha1.WorkStatus{}
	setWorkReadyCondition(failing, 1, workFacts{planned: true, desired: 1, created: 0})
	one, two, empty := settled(1), settled(2), &v1alpha1.WorkStatus{}
	for _, c := range []struct {
		name   string
		before *v1alpha1.WorkStatus
		after  *v1alpha1.WorkStatus
		gen    int64
		keep   bool
	}{
		{"new spec, placements pending: keep the settled outcome", one, next(one, 2, pending), 2, true},
		{"new spec, placements written at once", one, next(one, 2, workFacts{planned: true, desired: 1, created: 1, ready: 1}), 2, false},
		{"same spec, a placement pending again (a Destination's write)", two, next(two, 2, pending), 2, false},
		{"new spec with another Destination: counts are news", one, next(one, 2, workFacts{planned: true, desired: 2, created: 1, ready: 1}), 2, false},
		{"new spec, a group without a Destination: scheduling is news", one,
			next(one, 2, workFacts{planned: true, desired: 1, created: 1, unscheduled: []unscheduledGroup{{id: "g"}}}), 2, false},
		{"a first status", empty, next(empty, 1, pending), 1, false},
		{"an unsettled outcome before", failing, next(failing, 2, pending), 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := placingNewSpec(c.before, c.after, c.gen); got != c.keep {
				t.Errorf("placingNewSpec = %v, want %v", got, c.keep)
			}
		})
	}
}
