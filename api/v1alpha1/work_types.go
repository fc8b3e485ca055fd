package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sources of a workload group's destination selectors.
const (
	// SelectorSourcePromise: the Promise's spec.destinationSelectors.
	SelectorSourcePromise = "promise"
	// SelectorSourcePromiseWorkflow: destination-selectors.yaml of a Promise workflow.
	SelectorSourcePromiseWorkflow = "promise-workflow"
	// SelectorSourceResourceWorkflow: destination-selectors.yaml of a resource workflow.
	SelectorSourceResourceWorkflow = "resource-workflow"
)

// RootDirectory is the directory of the default workload group: the whole of /kratix/output
// that no directory entry of destination-selectors.yaml claims.
const RootDirectory = "."

// WorkSpec is the output of one pipeline (or a Promise's static dependencies), split into workload
// groups that are scheduled independently. Whose output it is cannot change: the admission policy
// kratix-work-ownership checks the writer against the owner the Work names.
//
// +kubebuilder:validation:XValidation:rule="self.promiseName == oldSelf.promiseName && has(self.resourceName) == has(oldSelf.resourceName) && (!has(self.resourceName) || self.resourceName == oldSelf.resourceName) && has(self.resourceNamespace) == has(oldSelf.resourceNamespace) && (!has(self.resourceNamespace) || self.resourceNamespace == oldSelf.resourceNamespace)",message="promiseName, resourceName and resourceNamespace say whose output the Work is and cannot change; write a new Work"
type WorkSpec struct {
	// LastExecutionTimestamp is when the pipeline run that wrote this Work finished rendering;
	// each run sets it, so a re-run changes the Work's generation and its placements are
	// scheduled, and written, again.
	// +optional
	LastExecutionTimestamp metav1.Time `json:"lastExecutionTimestamp,omitempty"`

	// PromiseName is the Promise the output belongs to.
	// +kubebuilder:validation:MinLength=1
	PromiseName string `json:"promiseName"`

	// ResourceName is the resource request the output belongs to; empty for Promise-level output.
	// +optional
	ResourceName string `json:"resourceName,omitempty"`

	// ResourceNamespace is the namespace of the resource request, which can differ from the Work's
	// own when the Promise sets a pipelineNamespace.
	// +optional
	ResourceNamespace string `json:"resourceNamespace,omitempty"`

	// PipelineName is the pipeline that rendered the output; empty for static dependencies.
	// +optional
	PipelineName string `json:"pipelineName,omitempty"`

	// WorkloadGroups of the output. Empty when the pipeline wrote nothing.
	// +optional
	// +listType=map
	// +listMapKey=id
	WorkloadGroups []WorkloadGroup `json:"workloadGroups,omitempty"`
}

// WorkloadGroup is a set of files scheduled together.
type WorkloadGroup struct {
	// ID is the hex MD5 of Directory.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{32}$`
	ID string `json:"id"`

	// Directory of /kratix/output that the group holds; "." for the default group.
	// +kubebuilder:validation:MinLength=1
	// +optional
	Directory string `json:"directory,omitempty"`

	// Workloads are the group's files.
	// +optional
	Workloads []Workload `json:"workloads,omitempty"`

	// DestinationSelectors decide where the group goes, AND-ed together.
	// +optional
	DestinationSelectors []WorkloadGroupScheduling `json:"destinationSelectors,omitempty"`
}

// Workload is one file.
type Workload struct {
	// Filepath relative to the workload group's directory.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Filepath string `json:"filepath"`

	// Content is base64(gzip(bytes)) of the file.
	// +optional
	Content string `json:"content,omitempty"`
}

// WorkloadGroupScheduling is one set of labels a Destination must match, with where it came from.
type WorkloadGroupScheduling struct {
	// MatchLabels that a Destination must carry.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`

	// Source of the selector.
	// +kubebuilder:validation:Enum=promise;promise-workflow;resource-workflow
	// +optional
	Source string `json:"source,omitempty"`
}

// WorkStatus is what the engine observed of a Work.
type WorkStatus struct {
	// Conditions: Ready, ScheduleSucceeded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// WorkPlacements is the number of placements the Work should have.
	// +optional
	WorkPlacements int `json:"workPlacements,omitempty"`

	// WorkPlacementsCreated is the number of placements that exist.
	// +optional
	WorkPlacementsCreated int `json:"workPlacementsCreated,omitempty"`

	// ObservedGeneration is the generation last scheduled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Work is the rendered output of one pipeline run (or of a Promise's static dependencies), waiting
// to be scheduled onto Destinations.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kratix
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Work struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkSpec   `json:"spec"`
	Status WorkStatus `json:"status,omitempty"`
}

// WorkList is a list of Works.
//
// +kubebuilder:object:root=true
type WorkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Work `json:"items"`
}

// IsPromiseLevel reports whether the Work holds Promise-level output (dependencies or Promise
// workflow output), which goes to every matching Destination.
func (w *Work) IsPromiseLevel() bool {
	return w.Spec.ResourceName == ""
}

func init() {
	register(&Work{}, &WorkList{})
}
