package scheduling

import (
	"fmt"

	"kratix.dev/kratix/api/v1alpha1"
)

// BuildWorkloadGroups turns the entries of a workflow's destination-selectors.yaml and the
// Promise's spec.destinationSelectors into the workload groups of the workflow's Work, with ids,
// directories and selectors but no workloads (the work-writer files /kratix/output into them:
// a file goes to the group of its top-level directory, or else to the root group).
//
// The root group comes first. Its selectors are the entries without a directory, with source
// resource-workflow or promise-workflow after workflowType (v1alpha1.WorkflowTypeResource or
// v1alpha1.WorkflowTypePromise), followed by the Promise's non-empty selectors with source
// promise. Each entry with a directory becomes a group of its own, in file order, scheduled by
// that entry alone. For a Promise's static dependencies pass no entries.
//
// entries must pass ValidateDestinationSelectors (ParseDestinationSelectors' output does); the
// returned groups share no maps with the arguments.
func BuildWorkloadGroups(entries []DestinationSelector, promiseSelectors []v1alpha1.PromiseScheduling, workflowType string) ([]v1alpha1.WorkloadGroup, error) {
	source, err := workflowSource(workflowType)
	if err != nil {
		return nil, err
	}
	if err := ValidateDestinationSelectors(entries); err != nil {
		return nil, fmt.Errorf("invalid destination selectors: %w", err)
	}

	root := v1alpha1.WorkloadGroup{ID: RootGroupID, Directory: v1alpha1.RootDirectory}
	groups := make([]v1alpha1.WorkloadGroup, 1, 1+len(entries)) // groups[0] is root, set below
	for _, e := range entries {
		scheduling := v1alpha1.WorkloadGroupScheduling{MatchLabels: cloneLabels(e.MatchLabels), Source: source}
		if e.Directory == "" {
			root.DestinationSelectors = append(root.DestinationSelectors, scheduling)
			continue
		}
		groups = append(groups, v1alpha1.WorkloadGroup{
			ID:                   GroupID(e.Directory),
			Directory:            e.Directory,
			DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{scheduling},
		})
	}
	for _, s := range promiseSelectors {
		if len(s.MatchLabels) == 0 {
			continue
		}
		root.DestinationSelectors = append(root.DestinationSelectors, v1alpha1.WorkloadGroupScheduling{
			MatchLabels: cloneLabels(s.MatchLabels),
			Source:      v1alpha1.SelectorSourcePromise,
		})
	}
	groups[0] = root
	return groups, nil
}

// workflowSource is the selector source of a destination-selectors.yaml written by a workflow of
// the given type.
func workflowSource(workflowType string) (string, error) {
	switch workflowType {
	case v1alpha1.WorkflowTypeResource:
		return v1alpha1.SelectorSourceResourceWorkflow, nil
	case v1alpha1.WorkflowTypePromise:
		return v1alpha1.SelectorSourcePromiseWorkflow, nil
	default:
		return "", fmt.Errorf("workflow type %q is neither %q nor %q", workflowType, v1alpha1.WorkflowTypePromise, v1alpha1.WorkflowTypeResource)
	}
}

func cloneLabels(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[k] = v
	}
	return out
}
