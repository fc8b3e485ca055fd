package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Filepath modes of a Destination: how WorkPlacements are laid out in its directory.
const (
	// FilepathModeNestedByMetadata writes each WorkPlacement under dependencies/ or resources/ in
	// directories named by promise, resource, pipeline and workload group.
	FilepathModeNestedByMetadata = "nestedByMetadata"
	// FilepathModeAggregatedYAML writes every WorkPlacement of the Destination into one file.
	FilepathModeAggregatedYAML = "aggregatedYAML"
	// FilepathModeNone writes files at the paths the pipeline gave, with a state file per
	// WorkPlacement that lists them.
	FilepathModeNone = "none"

	// DefaultAggregatedYAMLFilename is the file of mode aggregatedYAML when filepath.filename is empty.
	DefaultAggregatedYAMLFilename = "aggregated.yaml"
)

// Cleanup policies of a Destination.
const (
	// DestinationCleanupNone leaves the files in the state store when the Destination is deleted.
	DestinationCleanupNone = "none"
	// DestinationCleanupAll removes the Destination's WorkPlacements and files when it is deleted.
	DestinationCleanupAll = "all"
)

// DestinationSpec says where a Destination's files go and how they are laid out.
type DestinationSpec struct {
	// StateStoreRef is the state store that holds this Destination's files.
	StateStoreRef StateStoreReference `json:"stateStoreRef"`

	// Path is the Destination's directory inside the state store (below the store's own path);
	// unique per state store. "/" or "." is the store's root itself: the Destination's files go
	// at the top of the store's path, and no other Destination can share that store location.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self == '/' || (!self.startsWith('/') && !self.split('/').exists(s, s == '..'))",message="path must be relative (or '/' or '.' for the store's root) and must not contain '..'"
	Path string `json:"path"`

	// StrictMatchLabels makes a Destination with labels receive only workloads whose selectors
	// are not empty.
	// +optional
	StrictMatchLabels bool `json:"strictMatchLabels,omitempty"`

	// Filepath sets the layout of files in the Destination's directory.
	// +kubebuilder:default={mode: nestedByMetadata}
	// +optional
	Filepath Filepath `json:"filepath,omitempty"`

	// Cleanup says whether the Destination's files are removed when it is deleted.
	// +kubebuilder:validation:Enum=none;all
	// +kubebuilder:default=none
	// +optional
	Cleanup string `json:"cleanup,omitempty"`

	// InitWorkloads controls the canary files written when the Destination becomes ready.
	// +kubebuilder:default={enabled: true}
	// +optional
	InitWorkloads InitWorkloads `json:"initWorkloads,omitempty"`
}

// StateStoreReference names a GitStateStore or a BucketStateStore.
type StateStoreReference struct {
	// Kind of the state store.
	// +kubebuilder:validation:Enum=GitStateStore;BucketStateStore
	Kind string `json:"kind"`

	// Name of the state store.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Filepath is the layout of files in a Destination's directory.
type Filepath struct {
	// Mode is nestedByMetadata (the default), aggregatedYAML or none. It cannot change once set:
	// the files already written would be orphaned.
	// +kubebuilder:validation:Enum=nestedByMetadata;aggregatedYAML;none
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="filepath.mode is immutable"
	// +kubebuilder:default=nestedByMetadata
	// +optional
	Mode string `json:"mode,omitempty"`

	// Filename of the single file written in mode aggregatedYAML; aggregated.yaml when empty.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern=`^[^/]+\.ya?ml$`
	// +optional
	Filename string `json:"filename,omitempty"`
}

// InitWorkloads controls the canary files of a Destination.
type InitWorkloads struct {
	// Enabled writes the canary files.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// DestinationStatus is what the engine observed of a Destination.
type DestinationStatus struct {
	// Conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastWriteTime is when the engine last found its canary files in the Destination's
	// directory, having written them if they were not there. Empty while it never wrote to the
	// store: a Destination deleted with cleanup all then has nothing of its own to remove.
	// +optional
	LastWriteTime *metav1.Time `json:"lastWriteTime,omitempty"`
}

// Destination is a place that receives workloads: a directory in a state store that Flux or
// Argo CD applies to a cluster. Its labels are what Promises and workflows select on.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=dest,categories=kratix
// +kubebuilder:printcolumn:name="State Store Kind",type=string,JSONPath=`.spec.stateStoreRef.kind`
// +kubebuilder:printcolumn:name="State Store",type=string,JSONPath=`.spec.stateStoreRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Destination struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DestinationSpec   `json:"spec"`
	Status DestinationStatus `json:"status,omitempty"`
}

// DestinationList is a list of Destinations.
//
// +kubebuilder:object:root=true
type DestinationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Destination `json:"items"`
}

func init() {
	register(&Destination{}, &DestinationList{})
}
