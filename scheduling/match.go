package scheduling

import "kratix.dev/kratix/api/v1alpha1"

// Matches reports whether destination may receive a workload group whose resolved selector is
// selector (see GroupSelector):
//
//   - a Destination being deleted never matches;
//   - an empty selector matches every Destination except one with strictMatchLabels that carries
//     labels;
//   - otherwise the Destination must carry every label of selector with the same value.
func Matches(selector map[string]string, destination *v1alpha1.Destination) bool {
	if !schedulable(destination) {
		return false
	}
	if len(selector) == 0 {
		return acceptsEmptySelector(destination)
	}
	for k, v := range selector {
		if got, ok := destination.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// schedulable reports whether destination may receive new or continued placements at all.
func schedulable(destination *v1alpha1.Destination) bool {
	return destination.DeletionTimestamp == nil
}

// acceptsEmptySelector reports whether destination receives workloads that select nothing in
// particular: strictMatchLabels keeps a labelled Destination for workloads that ask for it.
func acceptsEmptySelector(destination *v1alpha1.Destination) bool {
	return !destination.Spec.StrictMatchLabels || len(destination.Labels) == 0
}
