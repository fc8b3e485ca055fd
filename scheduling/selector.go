package scheduling

import "kratix.dev/kratix/api/v1alpha1"

// Precedence of selector sources, weakest first: on a key conflict the stronger source's value
// wins. Unknown or empty sources are weakest of all.
const (
	precedenceUnknown = iota
	precedenceResourceWorkflow
	precedencePromiseWorkflow
	precedencePromise
)

// sourcePrecedence is the precedence of a selector source.
func sourcePrecedence(source string) int {
	switch source {
	case v1alpha1.SelectorSourceResourceWorkflow:
		return precedenceResourceWorkflow
	case v1alpha1.SelectorSourcePromiseWorkflow:
		return precedencePromiseWorkflow
	case v1alpha1.SelectorSourcePromise:
		return precedencePromise
	default:
		return precedenceUnknown
	}
}

// GroupSelector resolves a workload group's destination selectors into one label map that a
// Destination must match in full (the entries are AND-ed).
//
// For the root group the sources are merged; on a key conflict the Promise's value wins over the
// Promise workflow's, which wins over the resource workflow's; within one source, later entries win.
// A directory group is scheduled by its own destination-selectors.yaml entry alone, so entries
// from source "promise" are ignored for it.
//
// The result is a new map, never nil.
func GroupSelector(group *v1alpha1.WorkloadGroup) map[string]string {
	selector := map[string]string{}
	for precedence := precedenceUnknown; precedence <= precedencePromise; precedence++ {
		for _, s := range group.DestinationSelectors {
			if sourcePrecedence(s.Source) != precedence || !appliesTo(group, s) {
				continue
			}
			for k, v := range s.MatchLabels {
				selector[k] = v
			}
		}
	}
	return selector
}

// appliesTo reports whether a selector entry takes part in scheduling group: a directory group
// ignores the Promise's selectors.
func appliesTo(group *v1alpha1.WorkloadGroup, s v1alpha1.WorkloadGroupScheduling) bool {
	return IsRootGroup(group.ID) || s.Source != v1alpha1.SelectorSourcePromise
}
