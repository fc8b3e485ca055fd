package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Pipeline is one step of a workflow: containers that run in order in one Job and render files into
// /kratix/output. It is embedded in a Promise's workflows, not a kind of its own, but keeps the
// apiVersion/kind/metadata/spec shape of Kratix Promises.
type Pipeline struct {
	// APIVersion is always platform.kratix.io/v1alpha1.
	// +kubebuilder:validation:Enum=platform.kratix.io/v1alpha1
	// +kubebuilder:default="platform.kratix.io/v1alpha1"
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind is always Pipeline.
	// +kubebuilder:validation:Enum=Pipeline
	// +kubebuilder:default=Pipeline
	// +optional
	Kind string `json:"kind,omitempty"`

	// Metadata names the pipeline. The name appears in Job, Work and WorkPlacement names and in
	// state-store paths.
	Metadata PipelineMetadata `json:"metadata"`

	// Spec is what the pipeline runs.
	Spec PipelineSpec `json:"spec"`
}

// PipelineMetadata is the part of object metadata that a Pipeline may carry.
type PipelineMetadata struct {
	// Name of the pipeline, unique within its workflow: a DNS-1123 label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Labels are copied onto the pipeline's Jobs and Pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are copied onto the pipeline's Jobs and Pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PipelineSpec is what a Pipeline runs and with which permissions.
type PipelineSpec struct {
	// Containers run one after another, in order, as the Job's init containers.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Containers []Container `json:"containers"`

	// Volumes that the containers may mount, in addition to the engine's /kratix volumes. They are
	// Kubernetes volumes, passed to the Job as written and validated when the Job is created: their
	// full schema, once per workflow, would make the Promise CRD too large to apply.
	// +optional
	Volumes []Volume `json:"volumes,omitempty"`

	// ImagePullSecrets for the containers' images.
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// RBAC is the identity the pipeline runs as and what it may do beyond the engine's defaults.
	// +optional
	RBAC RBAC `json:"rbac,omitempty"`

	// JobOptions tune the Job that runs the pipeline.
	// +optional
	JobOptions JobOptions `json:"jobOptions,omitempty"`

	// NodeSelector for the pipeline's Pod.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations for the pipeline's Pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// RestartPolicy of the pipeline's Pod: Never (the engine's default when empty) starts a new
	// Pod for each retry of the Job, OnFailure restarts the failed container in the same Pod. A
	// Job's Pod cannot be Always.
	// +kubebuilder:validation:Enum=Never;OnFailure
	// +optional
	RestartPolicy corev1.RestartPolicy `json:"restartPolicy,omitempty"`
}

// Container is one step of a Pipeline: the subset of a Kubernetes container that a pipeline
// step may set.
type Container struct {
	// Name of the container, unique within the pipeline.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Image to run.
	// +kubebuilder:validation:MinLength=1
	Image string `json:"image"`

	// Command overrides the image's entrypoint. The local job runner needs it: it cannot read an
	// image's entrypoint.
	// +optional
	Command []string `json:"command,omitempty"`

	// Args for the command.
	// +optional
	Args []string `json:"args,omitempty"`

	// Env is added after the KRATIX_* variables of the pipeline contract.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// EnvFrom sources for the container's environment.
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`

	// VolumeMounts of the pipeline's Volumes.
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// ImagePullPolicy for the image.
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// SecurityContext of the container.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`

	// Resources requested by and limited for the container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// Volume is a Kubernetes volume of a pipeline. Its schema is left open (the Job's validation checks
// it) because the full volume schema, repeated for each workflow, would make the Promise CRD too
// large to apply; in Go it is a corev1.Volume and its JSON is exactly that.
// +kubebuilder:validation:Type=object
// +kubebuilder:pruning:PreserveUnknownFields
type Volume struct {
	corev1.Volume `json:"-"`
}

// MarshalJSON encodes the volume as a corev1.Volume.
func (v Volume) MarshalJSON() ([]byte, error) { return json.Marshal(v.Volume) }

// UnmarshalJSON decodes a corev1.Volume.
func (v *Volume) UnmarshalJSON(data []byte) error { return json.Unmarshal(data, &v.Volume) }

// RBAC is the identity of a pipeline and what it may do.
type RBAC struct {
	// ServiceAccount to run as; the engine creates one per pipeline when empty.
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`

	// Permissions granted to the pipeline's service account.
	// +optional
	Permissions []Permission `json:"permissions,omitempty"`
}

// Permission is a PolicyRule granted in one namespace, or cluster-wide when ResourceNamespace is "*".
// Without ResourceNamespace the rule applies in the pipeline's own namespace.
type Permission struct {
	// ResourceNamespace is where the rule applies: a namespace, "*" for every namespace, or empty
	// for the pipeline's namespace.
	// +optional
	ResourceNamespace string `json:"resourceNamespace,omitempty"`

	rbacv1.PolicyRule `json:",inline"`
}

// JobOptions tune the Job of a pipeline.
type JobOptions struct {
	// BackoffLimit is the Job's retry count.
	// +kubebuilder:validation:Minimum=0
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
}
