package scheduling

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/internal/names"

	"kratix.dev/kratix/api/v1alpha1"
)

// DesiredPlacement is the WorkPlacement that puts the workload group of work on the Destination
// destinationName: its name (PlacementName), the Work's namespace, the engine's labels and a spec
// filled from the Work and the group. The workloads are a copy of the group's.
func DesiredPlacement(work *v1alpha1.Work, group *v1alpha1.WorkloadGroup, destinationName string) v1alpha1.WorkPlacement {
	wp := v1alpha1.WorkPlacement{
		TypeMeta: metav1.TypeMeta{
			APIVersion: v1alpha1.GroupVersion.String(),
			Kind:       "WorkPlacement",
		},
		ObjectMeta: metav1.ObjectMeta{
			Name:      PlacementName(work.Name, destinationName, group.ID),
			Namespace: work.Namespace,
			Labels:    placementLabels(work, group.ID, destinationName),
		},
		Spec: placementSpec(work, group, destinationName),
	}
	wp.Spec.Workloads = cloneWorkloads(wp.Spec.Workloads)
	return wp
}

// placementSpec is the spec of the group's placement on destinationName. Its workloads share the
// Work's slice: clone them before handing the spec out.
func placementSpec(work *v1alpha1.Work, group *v1alpha1.WorkloadGroup, destinationName string) v1alpha1.WorkPlacementSpec {
	return v1alpha1.WorkPlacementSpec{
		TargetDestinationName: destinationName,
		Workloads:             group.Workloads,
		PromiseName:           work.Spec.PromiseName,
		ResourceName:          work.Spec.ResourceName,
		ResourceNamespace:     resourceNamespace(work),
		ID:                    group.ID,
		PipelineName:          work.Spec.PipelineName,
		WorkGeneration:        work.Generation,
	}
}

// resourceNamespace is the namespace of a resource-level Work's request: spec.resourceNamespace,
// or the Work's own namespace when that is empty. Promise-level Works have none.
func resourceNamespace(work *v1alpha1.Work) string {
	if work.IsPromiseLevel() {
		return ""
	}
	if work.Spec.ResourceNamespace != "" {
		return work.Spec.ResourceNamespace
	}
	return work.Namespace
}

// placementLabels are the labels the engine sets on a placement (CONTRACT.md §2), every value
// shortened to fit a label.
func placementLabels(work *v1alpha1.Work, groupID, destinationName string) map[string]string {
	labels := map[string]string{
		v1alpha1.LabelWork:              names.LabelValue(work.Name),
		v1alpha1.LabelWorkloadGroupID:   names.LabelValue(groupID),
		v1alpha1.LabelTargetDestination: names.LabelValue(destinationName),
		v1alpha1.LabelPromiseName:       names.LabelValue(work.Spec.PromiseName),
	}
	setIfNotEmpty(labels, v1alpha1.LabelResourceName, work.Spec.ResourceName)
	setIfNotEmpty(labels, v1alpha1.LabelResourceNamespace, resourceNamespace(work))
	setIfNotEmpty(labels, v1alpha1.LabelPipelineName, work.Spec.PipelineName)
	return labels
}

// setIfNotEmpty sets the label key to value, shortened, unless value is empty.
func setIfNotEmpty(labels map[string]string, key, value string) {
	if value != "" {
		labels[key] = names.LabelValue(value)
	}
}

// belongsTo reports whether wp is one of work's placements: same namespace and the work label.
func belongsTo(wp *v1alpha1.WorkPlacement, work *v1alpha1.Work) bool {
	return wp.Namespace == work.Namespace && wp.Labels[v1alpha1.LabelWork] == names.LabelValue(work.Name)
}

// upToDate reports whether the existing placement already has the desired spec and labels.
func upToDate(existing *v1alpha1.WorkPlacement, spec *v1alpha1.WorkPlacementSpec, labels map[string]string) bool {
	if !specEqual(&existing.Spec, spec) {
		return false
	}
	if _, ok := existing.Labels[v1alpha1.LabelMisplaced]; ok {
		return false // upstream's misplaced label on an active placement: refreshed removes it
	}
	for k, v := range labels {
		if got, ok := existing.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// specEqual compares two placement specs field by field; nil and empty workloads are equal. The
// Work's generation alone is no change: a pipeline run stamps its Work (lastExecutionTimestamp)
// every time, and a placement whose files are the same is not written again for it.
func specEqual(a, b *v1alpha1.WorkPlacementSpec) bool {
	if a.TargetDestinationName != b.TargetDestinationName || a.PromiseName != b.PromiseName ||
		a.ResourceName != b.ResourceName || a.ResourceNamespace != b.ResourceNamespace ||
		a.ID != b.ID || a.PipelineName != b.PipelineName ||
		len(a.Workloads) != len(b.Workloads) {
		return false
	}
	for i := range a.Workloads {
		if a.Workloads[i] != b.Workloads[i] {
			return false
		}
	}
	return true
}

// refreshed is a copy of existing with the desired spec and labels and without the misscheduled
// label (nor upstream's misplaced one): what to write back so that the placement is as desired and writes resume. Labels the
// engine does not own, annotations, finalizers and the resource version are kept.
func refreshed(existing *v1alpha1.WorkPlacement, spec *v1alpha1.WorkPlacementSpec, labels map[string]string) v1alpha1.WorkPlacement {
	wp := existing.DeepCopy()
	wp.Spec = *spec
	wp.Spec.Workloads = cloneWorkloads(spec.Workloads)
	if wp.Labels == nil {
		wp.Labels = make(map[string]string, len(labels))
	}
	for k, v := range labels {
		wp.Labels[k] = v
	}
	delete(wp.Labels, v1alpha1.LabelMisscheduled)
	delete(wp.Labels, v1alpha1.LabelMisplaced)
	return *wp
}

// markedMisscheduled is a copy of existing labelled misscheduled (and misplaced, upstream's name
// for it), its spec untouched.
func markedMisscheduled(existing *v1alpha1.WorkPlacement) v1alpha1.WorkPlacement {
	wp := existing.DeepCopy()
	if wp.Labels == nil {
		wp.Labels = map[string]string{}
	}
	wp.Labels[v1alpha1.LabelMisscheduled] = v1alpha1.LabelMisscheduledValue
	wp.Labels[v1alpha1.LabelMisplaced] = v1alpha1.LabelMisscheduledValue
	return *wp
}

func cloneWorkloads(w []v1alpha1.Workload) []v1alpha1.Workload {
	if w == nil {
		return nil
	}
	return append(make([]v1alpha1.Workload, 0, len(w)), w...)
}
