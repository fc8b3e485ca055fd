package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SourceTypeHTTP is the one kind of PromiseRelease source: a URL that serves the Promise's YAML.
const SourceTypeHTTP = "http"

// SecretKeyAuthorizationHeader is the key of a PromiseRelease's Secret whose value is sent, as it
// is, in the Authorization header of the request for the Promise: "Basic <base64 of
// user:password>" or "Bearer <token>".
const SecretKeyAuthorizationHeader = "authorizationHeader"

// LabelPromiseReleaseName on a Promise names the PromiseRelease that installed it.
const LabelPromiseReleaseName = "kratix.io/promise-release-name"

// FinalizerPromiseCleanup on a PromiseRelease deletes its Promise before the release goes.
const FinalizerPromiseCleanup = "kratix.io/promise-cleanup"

// ConditionInstalled is the condition of a PromiseRelease: whether its Promise is installed at
// the release's version.
const ConditionInstalled = "Installed"

// Values of a PromiseRelease's status.status.
const (
	PromiseReleaseStatusInstalled       = "Installed"
	PromiseReleaseStatusErrorInstalling = "Error installing"
)

// Reasons of a PromiseRelease's Installed condition. Every reason the engine writes there is one
// of these (and ReasonSecretNotFound or ReasonInvalidSecret for its Secret).
const (
	ReasonInstalledSuccessfully = "InstalledSuccessfully"
	// ReasonFailedToFetchPromise: the URL could not be reached, or answered with an HTTP status
	// other than 200 (404 among them) and other than 401 and 403.
	ReasonFailedToFetchPromise = "FailedToFetchPromise"
	// ReasonUnauthorized: the URL answered 401 or 403: the credentials are missing or wrong.
	ReasonUnauthorized = "Unauthorized"
	// ReasonInvalidPromise: what the URL served is not exactly one Promise.
	ReasonInvalidPromise        = "InvalidPromise"
	ReasonVersionLabelNotFound  = "VersionLabelNotFound"
	ReasonVersionNotMatching    = "VersionNotMatching"
	ReasonFailedToCreatePromise = "FailedToCreateOrUpdatePromise"
	// ReasonPromiseOwnedElsewhere: a Promise of the same name belongs to another PromiseRelease.
	ReasonPromiseOwnedElsewhere = "PromiseOwnedByAnotherRelease"
	// ReasonDeletingPromise: the release is being deleted and waits for its Promise to go.
	ReasonDeletingPromise = "DeletingPromise"
)

// PromiseReleaseSpec is the Promise to install: where to fetch it from and at which version.
type PromiseReleaseSpec struct {
	// Version of the Promise to install: the kratix.io/promise-version label of the Promise
	// that the source serves must match it. When empty, the engine fills it in with the
	// version of the first Promise it fetches.
	// +optional
	Version string `json:"version,omitempty"`
	// SourceRef says where the Promise is fetched from.
	// +kubebuilder:default:={type: "http"}
	SourceRef SourceRef `json:"sourceRef"`
}

// SourceRef is where and how a PromiseRelease's Promise is fetched.
type SourceRef struct {
	// Type of the source; only http.
	// +kubebuilder:validation:Enum:={http}
	Type string `json:"type"`
	// URL that serves the Promise's YAML (one document).
	// +optional
	URL string `json:"url,omitempty"`
	// SecretRef names a Secret whose authorizationHeader key is sent as the request's
	// Authorization header ("Basic ..." or "Bearer ..."). The PromiseRelease is cluster-scoped,
	// so the namespace must be set.
	// +optional
	SecretRef *corev1.SecretReference `json:"secretRef,omitempty"`
}

// PromiseReleaseStatus is what the engine observed of a PromiseRelease.
type PromiseReleaseStatus struct {
	// Status is Installed or "Error installing".
	// +optional
	Status string `json:"status,omitempty"`
	// Conditions: Installed.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PromiseRelease installs a Promise from a URL, upgrades it when its version or URL changes,
// and deletes it when it is deleted.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,path=promisereleases,categories=kratix
// +kubebuilder:printcolumn:JSONPath=".status.status",name="Status",type=string
// +kubebuilder:printcolumn:JSONPath=".spec.version",name="Version",type=string
type PromiseRelease struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PromiseReleaseSpec   `json:"spec,omitempty"`
	Status PromiseReleaseStatus `json:"status,omitempty"`
}

// PromiseReleaseList is a list of PromiseReleases.
//
// +kubebuilder:object:root=true
type PromiseReleaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PromiseRelease `json:"items"`
}

func init() {
	register(&PromiseRelease{}, &PromiseReleaseList{})
}
