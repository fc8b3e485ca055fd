package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// States of a HealthRecord, from worst to best: a request's status.healthStatus.state is the
// worst state of its records.
const (
	HealthStateUnhealthy = "unhealthy"
	HealthStateDegraded  = "degraded"
	HealthStateUnknown   = "unknown"
	HealthStateHealthy   = "healthy"
	HealthStateReady     = "ready"
)

// FinalizerHealthRecordCleanup on a HealthRecord takes it out of its request's status before it
// goes.
const FinalizerHealthRecordCleanup = "kratix.io/health-record-cleanup"

// Reasons of the Events about HealthRecords and of their requests.
const (
	// ReasonHealthRecord (an Event of a resource request): its health state changed.
	ReasonHealthRecord = "HealthRecord"
	// ReasonPromiseNotFound (an Event of a HealthRecord): its promiseRef names no Promise, or
	// one without an API.
	ReasonPromiseNotFound = "PromiseNotFound"
	// ReasonResourceNotFound (an Event of a HealthRecord): its resourceRef names no request of
	// the Promise's API.
	ReasonResourceNotFound = "ResourceNotFound"
	// ReasonOutsideItsNamespace (an Event of a HealthRecord): it is about a request of another
	// namespace, and it is not in the platform namespace, so it is not shown: a tenant may not
	// report on another tenant's requests.
	ReasonOutsideItsNamespace = "OutsideItsNamespace"
)

// PromiseRef names a Promise.
type PromiseRef struct {
	// Name of the Promise.
	Name string `json:"name"`
}

// ResourceRef names a resource request.
type ResourceRef struct {
	// Name of the request.
	Name string `json:"name"`
	// Namespace of the request.
	Namespace string `json:"namespace"`
	// Generation of the request when the health was recorded.
	// +optional
	Generation int `json:"generation,omitempty"`
}

// HealthRecordData is the health of a resource request as a health check observed it.
type HealthRecordData struct {
	// PromiseRef is the Promise whose API the request is of.
	PromiseRef PromiseRef `json:"promiseRef"`
	// ResourceRef is the request.
	// +optional
	ResourceRef ResourceRef `json:"resourceRef,omitempty"`
	// State is one of unknown, ready, unhealthy, healthy or degraded.
	// +kubebuilder:validation:Enum=unknown;ready;unhealthy;healthy;degraded
	// +kubebuilder:default=unknown
	State string `json:"state"`
	// LastRun is when the health check last ran, in Unix seconds.
	// +optional
	LastRun int64 `json:"lastRun,omitempty"`
	// PromiseVersion is the version of the Promise whose health check produced the record.
	// +optional
	PromiseVersion string `json:"promiseVersion,omitempty"`
	// Details are what the health check reported, any JSON.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Details *runtime.RawExtension `json:"details,omitempty"`
}

// HealthRecord is the health of a resource request, written by a health check; the engine
// copies it into the request's status.healthStatus.
//
// +kubebuilder:object:root=true
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.data.state`,description="The HealthRecord's state"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,description="When the HealthRecord was created"
type HealthRecord struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Data HealthRecordData `json:"data,omitempty"`
}

// HealthRecordList is a list of HealthRecords.
//
// +kubebuilder:object:root=true
type HealthRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HealthRecord `json:"items"`
}

func init() {
	register(&HealthRecord{}, &HealthRecordList{})
}
