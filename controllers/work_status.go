package controllers

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
)

// workFacts is what one reconcile of a Work observed and did. Its conditions are pure functions
// of it.
type workFacts struct {
	// planned: the Destinations and placements were read and a plan made; without it the
	// conditions are left as they are.
	planned bool
	// refusal, when set, is why the Work may not be scheduled from its namespace
	// (work_ownership.go); nothing else was observed.
	refusal string
	// unscheduled are the workload groups that no Destination matches, sorted by id.
	unscheduled []unscheduledGroup
	// misscheduled are the placements kept on Destinations that no longer take their group,
	// sorted by name.
	misscheduled []misscheduledPlacement
	// desired is the number of placements the Work should have.
	desired int
	// created is the number of desired placements that exist.
	created int
	// ready is the number of desired placements whose Ready condition is True for their current
	// spec.
	ready int
}

// unscheduledGroup is a workload group without a Destination.
type unscheduledGroup struct {
	id       string
	selector map[string]string
}

// misscheduledPlacement is a frozen placement and the Destination it is on.
type misscheduledPlacement struct {
	name        string
	destination string
}

// setWorkScheduleCondition turns the facts into the ScheduleSucceeded condition.
func setWorkScheduleCondition(status *v1alpha1.WorkStatus, generation int64, f workFacts) {
	if !f.planned {
		return
	}
	cond, reason, msg := workScheduling(f)
	conditions.Set(&status.Conditions, v1alpha1.ConditionScheduleSucceeded, cond, reason, msg, generation)
}

// setWorkReadyCondition turns the facts into the Ready condition.
func setWorkReadyCondition(status *v1alpha1.WorkStatus, generation int64, f workFacts) {
	if !f.planned {
		return
	}
	cond, reason, msg := workReadiness(f)
	conditions.Set(&status.Conditions, v1alpha1.ConditionReady, cond, reason, msg, generation)
}

// setWorkCounts records how many placements the Work should have and how many exist.
func setWorkCounts(status *v1alpha1.WorkStatus, f workFacts) {
	if !f.planned {
		return
	}
	status.WorkPlacements = f.desired
	status.WorkPlacementsCreated = f.created
}

// workScheduling is the ScheduleSucceeded condition for the facts: groups without a Destination
// come first, as they are missing output; misscheduled placements second.
func workScheduling(f workFacts) (metav1.ConditionStatus, string, string) {
	switch {
	case f.refusal != "":
		return metav1.ConditionFalse, v1alpha1.ReasonWorkNotOwned, f.refusal
	case len(f.unscheduled) > 0:
		parts := make([]string, 0, len(f.unscheduled))
		for _, g := range f.unscheduled {
			parts = append(parts, fmt.Sprintf("%s (%s)", g.id, describeSelector(g.selector)))
		}
		return metav1.ConditionFalse, v1alpha1.ReasonNoMatchingDestination,
			"no Destination matches the workload groups " + strings.Join(parts, ", ") +
				"; they are scheduled when a matching Destination appears"
	case len(f.misscheduled) > 0:
		parts := make([]string, 0, len(f.misscheduled))
		for _, p := range f.misscheduled {
			parts = append(parts, fmt.Sprintf("%s on Destination %s", p.name, p.destination))
		}
		return metav1.ConditionFalse, v1alpha1.ReasonMisscheduled,
			"placements kept on Destinations that no longer match, their files frozen: " + strings.Join(parts, ", ") +
				"; delete them (label " + v1alpha1.LabelMisscheduled + "=true) to remove their files"
	default:
		return metav1.ConditionTrue, v1alpha1.ReasonScheduled,
			fmt.Sprintf("every workload group is scheduled (%d placements)", f.desired)
	}
}

// workReadiness is the Ready condition for the facts: True when every workload group is scheduled
// and every desired placement is Ready. Misscheduled placements are reported by ScheduleSucceeded
// and do not hold Ready back: the Work's current output is fully delivered.
func workReadiness(f workFacts) (metav1.ConditionStatus, string, string) {
	written := fmt.Sprintf("%d of %d placements written", f.ready, f.desired)
	switch {
	case f.refusal != "":
		return metav1.ConditionFalse, v1alpha1.ReasonWorkNotOwned, f.refusal
	case len(f.unscheduled) > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending,
			fmt.Sprintf("%s; %d workload groups have no matching Destination", written, len(f.unscheduled))
	case f.created < f.desired:
		return metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending,
			fmt.Sprintf("%s; %d of %d placements created", written, f.created, f.desired)
	case f.ready < f.desired:
		return metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending, written
	default:
		return metav1.ConditionTrue, v1alpha1.ReasonAllPlacementsReady, fmt.Sprintf("%d of %d placements written", f.desired, f.desired)
	}
}

// describeSelector renders a resolved selector for messages, keys sorted.
func describeSelector(selector map[string]string) string {
	if len(selector) == 0 {
		return "no selector"
	}
	keys := make([]string, 0, len(selector))
	for k := range selector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+selector[k])
	}
	return strings.Join(parts, ",")
}

// placementReady reports whether a WorkPlacement's Ready condition is True for its current spec.
func placementReady(wp *v1alpha1.WorkPlacement) bool {
	return conditions.Current(wp.Status.Conditions, v1alpha1.ConditionReady, wp.Generation)
}

// placingNewSpec reports whether the Work's status may stay as it is while the placements of its
// new spec are written: it showed a settled outcome, Ready for an older generation, and the only
// news is that placements are pending. Its conditions' observedGeneration, older than the Work's
// generation, says that they are not yet the new spec's (the request reads them so, see
// workOutcome); the outcome is written when it is known. At every Promise update that spares
// each request's Work a status write and the Events of a Ready that would flip False and back.
func placingNewSpec(before, after *v1alpha1.WorkStatus, generation int64) bool {
	old, cur := meta.FindStatusCondition(before.Conditions, v1alpha1.ConditionReady), meta.FindStatusCondition(after.Conditions, v1alpha1.ConditionReady)
	if old == nil || cur == nil || old.Status != metav1.ConditionTrue || old.ObservedGeneration >= generation ||
		cur.Status == metav1.ConditionTrue || cur.Reason != v1alpha1.ReasonPlacementsPending {
		return false
	}
	// Anything else that changed (scheduling, counts) is news, and is written.
	return sameWorkStatusButReady(before, after)
}

// sameWorkStatusButReady compares two statuses without their Ready conditions, the conditions'
// observedGeneration and status.observedGeneration.
func sameWorkStatusButReady(a, b *v1alpha1.WorkStatus) bool {
	strip := func(s *v1alpha1.WorkStatus) v1alpha1.WorkStatus {
		c := *s.DeepCopy()
		c.ObservedGeneration = 0
		c.Conditions = slices.DeleteFunc(c.Conditions, func(x metav1.Condition) bool { return x.Type == v1alpha1.ConditionReady })
		for i := range c.Conditions {
			c.Conditions[i].ObservedGeneration = 0
		}
		return c
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}
