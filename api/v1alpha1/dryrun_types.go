package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DryRun condition types and reasons (Completed, ComponentsSucceeded: upstream's).
const (
	ConditionDryRunCompleted           = "Completed"
	ConditionDryRunComponentsSucceeded = "ComponentsSucceeded"
	ReasonSummaryWritten               = "SummaryWritten"
	ReasonDryRunPipelineFailed         = "PipelineFailed"
	ReasonDryRunRunning                = "Running"
	ReasonDryRunInvalid                = "InvalidDryRun"
)

// Phases of a DryRun's component.
const (
	DryRunPhasePending   = "Pending"
	DryRunPhaseSucceeded = "Succeeded"
	DryRunPhaseFailed    = "Failed"
)

// LabelDryRun on the Jobs and Works of a dry run names the DryRun: no request's workflow sees
// them, and no Work of a dry run is placed. LabelDryRunNamespace is the DryRun's namespace.
const (
	LabelDryRun          = "kratix.io/dry-run"
	LabelDryRunNamespace = "kratix.io/dry-run-namespace"
	// AnnotationDryRunOf on a dry run's Work names the request's real Work that it stands for
	// (the one the real run would write), in the same namespace.
	AnnotationDryRunOf = "kratix.io/dry-run-of"
	// FinalizerDryRunCleanup keeps a DryRun until its Jobs and Works are gone.
	FinalizerDryRunCleanup = "kratix.io/dry-run-cleanup"
	// DryRunMaxDiff bounds status.diff, in bytes.
	DryRunMaxDiff = 256 << 10
)

// DryRunSpec says what to preview: a resource request's Configure workflow with a given spec
// (upstream's fields), or, with spec.promise, an update of the Promise against its requests.
// It cannot change once created: create another DryRun.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a DryRun's spec cannot change; create another DryRun"
type DryRunSpec struct {
	// PromiseRef is the Promise whose workflows run.
	// +required
	PromiseRef DryRunPromiseRef `json:"promiseRef"`
	// ResourceRequestRef is the live request to compare against; when it does not exist, every
	// file is added.
	// +optional
	ResourceRequestRef DryRunResourceRequestRef `json:"resourceRequestRef,omitempty"`
	// Resource is the request to run, in the shape of the Promise's API (its spec at least).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Resource runtime.RawExtension `json:"resource,omitempty"`
	// Promise is a new spec for the Promise: the dry run runs it for the requests that
	// Requests names (or all) and compares with what the current spec wrote. An extension of
	// this engine.
	// +optional
	Promise *PromiseSpec `json:"promise,omitempty"`
	// Requests are the requests an update preview runs for; empty with AllRequests false means
	// the one of ResourceRequestRef.
	// +optional
	Requests []DryRunResourceRequestRef `json:"requests,omitempty"`
	// AllRequests runs the update preview for every request of the Promise.
	// +optional
	AllRequests bool `json:"allRequests,omitempty"`
}

// DryRunPromiseRef names a Promise.
type DryRunPromiseRef struct {
	// +required
	Name string `json:"name"`
}

// DryRunResourceRequestRef names a resource request.
type DryRunResourceRequestRef struct {
	// +optional
	Name string `json:"name,omitempty"`
	// Namespace of the request; the DryRun's own when omitted.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// DryRunComponentStatus is the outcome of one request's (or compound component's) dry run.
type DryRunComponentStatus struct {
	Promise   string `json:"promise"`
	Request   string `json:"request,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	DryRun    string `json:"dryRun,omitempty"`
	// Phase: Pending, Succeeded or Failed.
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
}

// DryRunDestination sums up what a dry run would change on one Destination.
type DryRunDestination struct {
	Destination string `json:"destination"`
	Added       int    `json:"added"`
	Changed     int    `json:"changed"`
	Removed     int    `json:"removed"`
	// Message says what the real write would refuse on this Destination.
	// +optional
	Message string `json:"message,omitempty"`
	// Files are the paths in the state store that would change, with "+", "~" or "-" before
	// each.
	// +optional
	Files []string `json:"files,omitempty"`
}

// DryRunStatus is what the dry run found.
type DryRunStatus struct {
	// Conditions: Completed, ComponentsSucceeded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	Components []DryRunComponentStatus `json:"components,omitempty"`
	// Destinations: per Destination, the files that would be added, changed and removed.
	// +optional
	Destinations []DryRunDestination `json:"destinations,omitempty"`
	// Diff is the unified diff of every file that would change, bounded in size.
	// +optional
	Diff string `json:"diff,omitempty"`
	// DiffTruncated: Diff was cut at its bound.
	// +optional
	DiffTruncated bool `json:"diffTruncated,omitempty"`
}

// DryRun previews the output of a Promise's workflows without writing to any state store.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kratix
// +kubebuilder:printcolumn:name="Promise",type=string,JSONPath=`.spec.promiseRef.name`
// +kubebuilder:printcolumn:name="Completed",type=string,JSONPath=`.status.conditions[?(@.type=="Completed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DryRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DryRunSpec   `json:"spec,omitempty"`
	Status DryRunStatus `json:"status,omitempty"`
}

// DryRunList is a list of DryRuns.
//
// +kubebuilder:object:root=true
type DryRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DryRun `json:"items"`
}

func init() {
	register(&DryRun{}, &DryRunList{})
}
