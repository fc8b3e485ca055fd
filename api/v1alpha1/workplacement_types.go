package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WorkPlacementSpec is one workload group of a Work placed on one Destination.
type WorkPlacementSpec struct {
	// TargetDestinationName is the Destination that receives the files.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	TargetDestinationName string `json:"targetDestinationName"`

	// Workloads are the files, compressed as in Work.
	// +optional
	Workloads []Workload `json:"workloads,omitempty"`

	// PromiseName is the Promise the files belong to.
	// +kubebuilder:validation:MinLength=1
	PromiseName string `json:"promiseName"`

	// ResourceName is the resource request the files belong to; empty for Promise-level output.
	// +optional
	ResourceName string `json:"resourceName,omitempty"`

	// ResourceNamespace is the namespace of the resource request.
	// +optional
	ResourceNamespace string `json:"resourceNamespace,omitempty"`

	// ID is the workload group's id.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{32}$`
	ID string `json:"id"`

	// PipelineName is the pipeline that rendered the files; empty for static dependencies.
	// +optional
	PipelineName string `json:"pipelineName,omitempty"`

	// WorkGeneration is the generation of the Work when this placement's content last changed
	// (a Work's generation that changes nothing of the placement, such as a new
	// lastExecutionTimestamp, leaves it).
	// +optional
	WorkGeneration int64 `json:"generation,omitempty"`
}

// WorkPlacementStatus is what the engine observed of a WorkPlacement.
type WorkPlacementStatus struct {
	// Conditions: ScheduleSucceeded, WriteSucceeded, Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// VersionID is the commit SHA (Git) or a digest of the written object versions (S3) of the
	// last successful write.
	// +optional
	VersionID string `json:"versionID,omitempty"`

	// Path is where the files are, relative to the root of the state store.
	// +optional
	Path string `json:"path,omitempty"`

	// LastWriteTime is when the files were last written.
	// +optional
	LastWriteTime *metav1.Time `json:"lastWriteTime,omitempty"`

	// ObservedGeneration is the generation last written.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// WorkPlacement is one workload group placed on one Destination; the writer commits its files
// into the Destination's directory.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wp,categories=kratix
// +kubebuilder:printcolumn:name="Destination",type=string,JSONPath=`.spec.targetDestinationName`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Misscheduled",type=string,JSONPath=`.metadata.labels.kratix\.io/misscheduled`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.versionID`,priority=1
// +kubebuilder:printcolumn:name="Path",type=string,JSONPath=`.status.path`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WorkPlacement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkPlacementSpec   `json:"spec"`
	Status WorkPlacementStatus `json:"status,omitempty"`
}

// WorkPlacementList is a list of WorkPlacements.
//
// +kubebuilder:object:root=true
type WorkPlacementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WorkPlacement `json:"items"`
}

// IsMisscheduled reports whether the placement carries kratix.io/misscheduled=true: its
// Destination no longer matches, so its files are frozen.
func (wp *WorkPlacement) IsMisscheduled() bool {
	return wp.Labels[LabelMisscheduled] == "true"
}

func init() {
	register(&WorkPlacement{}, &WorkPlacementList{})
}
