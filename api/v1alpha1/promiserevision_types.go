package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UnversionedPromiseVersion is the version of a Promise without the kratix.io/promise-version
// label, as upstream Kratix names it: such a Promise has one PromiseRevision, rewritten when its
// spec changes.
const UnversionedPromiseVersion = "not-set"

// Labels and annotations of PromiseRevisions and ResourceBindings.
const (
	// LabelLatestRevision=true marks the newest PromiseRevision of a Promise (upstream's).
	LabelLatestRevision = "kratix.io/latest-revision"
	// LabelSpecHash on a PromiseRevision is the digest of its spec.promiseSpec
	// (pipeline.PromiseSpecHash): revisions are found by content.
	LabelSpecHash = "kratix.io/spec-hash"
	// LabelRolloutBaseline=true marks a PromiseRevision the engine keeps because a rollout still
	// needs a spec that upstream's one-revision-per-version would have overwritten.
	LabelRolloutBaseline = "kratix.io/rollout-baseline"
	// AnnotationSkipRequestCleanup=true on a PromiseRevision keeps its requests when it is
	// deleted (upstream's).
	AnnotationSkipRequestCleanup = "kratix.io/skip-resource-request-cleanup-on-delete"
	// FinalizerRevisionRequestCleanup on a PromiseRevision deletes the requests bound to its
	// version when it is deleted (upstream's).
	FinalizerRevisionRequestCleanup = "kratix.io/resource-request-cleanup"
	// FinalizerBindingCleanup on a resource request deletes its ResourceBinding (upstream's).
	FinalizerBindingCleanup = "kratix.io/resource-binding-cleanup"
	// BindingVersionLatest in a ResourceBinding's spec.version follows the latest revision.
	BindingVersionLatest = "latest"
)

// ResourceBinding condition and reasons (upstream's).
const (
	ConditionUpgradeSucceeded = "UpgradeSucceeded"
	ReasonUpgradeInProgress   = "UpgradeInProgress"
	ReasonUpgradeComplete     = "UpgradeComplete"
	ReasonUpgradeFailed       = "UpgradeFailed"
)

// Event reasons of revisions and bindings.
const (
	// ReasonRevisionCreated (an Event of a Promise): a PromiseRevision was created.
	ReasonRevisionCreated = "RevisionCreated"
	// ReasonBindingCreated (an Event of a resource request): its ResourceBinding was created.
	ReasonBindingCreated = "BindingCreated"
	// ReasonRequestDeleted (an Event of a PromiseRevision being deleted): a resource request
	// bound to its version was deleted (its kratix.io/resource-request-cleanup finalizer).
	ReasonRequestDeleted = "ResourceRequestDeleted"
	// ReasonRevisionNotFound (an Event of a resource request): its ResourceBinding names a
	// version the Promise has no revision of; the request keeps what it has.
	ReasonRevisionNotFound = "FailedPromiseRevisionLookup"
)

// PromiseRevisionSpec is one version of a Promise.
type PromiseRevisionSpec struct {
	// PromiseRef is the Promise this is a revision of.
	// +required
	PromiseRef PromiseRef `json:"promiseRef"`
	// PromiseSpec is the Promise's spec at this version.
	// +required
	PromiseSpec PromiseSpec `json:"promiseSpec"`
	// Version is the Promise's kratix.io/promise-version label at this revision, or not-set.
	// +required
	Version string `json:"version"`
}

// PromiseRevisionStatus is the observed state of a PromiseRevision.
type PromiseRevisionStatus struct {
	// Latest: this is the Promise's newest revision.
	// +optional
	Latest bool `json:"latest,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PromiseRevision keeps the spec of one version of a Promise, so that resource requests bound to
// that version keep running it after the Promise moves on.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,path=promiserevisions,categories=kratix
// +kubebuilder:printcolumn:name="Promise",type=string,JSONPath=`.spec.promiseRef.name`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Latest",type=boolean,JSONPath=`.status.latest`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PromiseRevision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PromiseRevisionSpec   `json:"spec,omitempty"`
	Status PromiseRevisionStatus `json:"status,omitempty"`
}

// PromiseRevisionList is a list of PromiseRevisions.
//
// +kubebuilder:object:root=true
type PromiseRevisionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PromiseRevision `json:"items"`
}

// ResourceBindingSpec pins a resource request to a version of its Promise.
type ResourceBindingSpec struct {
	// Version is the Promise version the request runs: a PromiseRevision's version, or latest.
	// +required
	// +kubebuilder:validation:MinLength=1
	Version string `json:"version"`
	// +required
	PromiseRef PromiseRef `json:"promiseRef"`
	// +required
	ResourceRef ResourceRef `json:"resourceRef"`
}

// ResourceBindingStatus is the observed state of a ResourceBinding.
type ResourceBindingStatus struct {
	// Conditions: UpgradeSucceeded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastAppliedVersion is the version whose Configure workflow last completed for the request.
	// +optional
	LastAppliedVersion string `json:"lastAppliedVersion,omitempty"`
	// FailedVersion is the version whose upgrade failed; cleared when an upgrade succeeds or a
	// new attempt begins.
	// +optional
	FailedVersion string `json:"failedVersion,omitempty"`
}

// ResourceBinding binds a resource request to a version of its Promise.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,path=resourcebindings,categories=kratix
// +kubebuilder:selectablefield:JSONPath=".spec.version"
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.spec.resourceRef.name`
// +kubebuilder:printcolumn:name="Promise",type=string,JSONPath=`.spec.promiseRef.name`
// +kubebuilder:printcolumn:name="Desired",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Applied",type=string,JSONPath=`.status.lastAppliedVersion`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ResourceBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ResourceBindingSpec   `json:"spec,omitempty"`
	Status ResourceBindingStatus `json:"status,omitempty"`
}

// ResourceBindingList is a list of ResourceBindings.
//
// +kubebuilder:object:root=true
type ResourceBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ResourceBinding `json:"items"`
}

func init() {
	register(&PromiseRevision{}, &PromiseRevisionList{}, &ResourceBinding{}, &ResourceBindingList{})
}
