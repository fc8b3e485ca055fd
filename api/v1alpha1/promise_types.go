package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// PromiseSpec is what a platform team publishes: an API, what every matching Destination needs,
// workflows that render files, and where they may go.
type PromiseSpec struct {
	// API is a complete apiextensions.k8s.io/v1 CustomResourceDefinition; resource requests are
	// objects of it. Empty for a Promise that only ships dependencies.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:EmbeddedResource
	// +kubebuilder:validation:XValidation:rule="self.apiVersion == 'apiextensions.k8s.io/v1' && self.kind == 'CustomResourceDefinition'",message="spec.api must be an apiextensions.k8s.io/v1 CustomResourceDefinition"
	// +optional
	API *runtime.RawExtension `json:"api,omitempty"`

	// Dependencies are manifests written as they are to every matching Destination.
	// +optional
	// +kubebuilder:validation:items:XEmbeddedResource
	Dependencies []Dependency `json:"dependencies,omitempty"`

	// Workflows render files for the Promise itself and for each resource request.
	// +optional
	Workflows Workflows `json:"workflows,omitempty"`

	// DestinationSelectors are merged into one AND-ed label selector for the Destinations that
	// receive this Promise's output.
	// +optional
	DestinationSelectors []PromiseScheduling `json:"destinationSelectors,omitempty"`

	// RequiredPromises must be installed, at the given versions where they name one, before this
	// Promise is available.
	// +optional
	// +listType=map
	// +listMapKey=name
	RequiredPromises []RequiredPromise `json:"requiredPromises,omitempty"`
}

// Dependency is one manifest of a Promise's static dependencies.
// +kubebuilder:object:generate=false
// +kubebuilder:pruning:PreserveUnknownFields
type Dependency struct {
	unstructured.Unstructured `json:",inline"`
}

// DeepCopyInto copies the manifest into out.
func (in *Dependency) DeepCopyInto(out *Dependency) {
	in.Unstructured.DeepCopyInto(&out.Unstructured)
}

// DeepCopy returns a copy of the manifest.
func (in *Dependency) DeepCopy() *Dependency {
	if in == nil {
		return nil
	}
	out := new(Dependency)
	in.DeepCopyInto(out)
	return out
}

// PromiseScheduling is one entry of a Promise's destination selectors.
type PromiseScheduling struct {
	// MatchLabels that a Destination must carry, all of them.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// RequiredPromise names a Promise that must be installed first.
type RequiredPromise struct {
	// Name of the required Promise.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Version the required Promise must have (its kratix.io/promise-version label). Empty means
	// any version: the requirement is met by the named Promise being installed and available,
	// whatever its version.
	// +optional
	Version string `json:"version,omitempty"`
}

// Workflows are the pipelines of a Promise, by what they act on and when they run.
type Workflows struct {
	// Promise workflows run for the Promise itself.
	// +optional
	Promise WorkflowTriggers `json:"promise,omitempty"`

	// Resource workflows run for each resource request.
	// +optional
	Resource WorkflowTriggers `json:"resource,omitempty"`

	// Config applies to all workflows of the Promise.
	// +optional
	Config WorkflowConfig `json:"config,omitempty"`
}

// WorkflowTriggers are the pipelines of one workflow type by action.
type WorkflowTriggers struct {
	// Configure pipelines run one after another whenever the object or its Promise changes.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(p, self.exists_one(q, q.metadata.name == p.metadata.name))",message="pipeline names must be unique within a workflow"
	Configure []Pipeline `json:"configure,omitempty"`

	// Delete pipelines run when the object is deleted; only the first is used.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(p, self.exists_one(q, q.metadata.name == p.metadata.name))",message="pipeline names must be unique within a workflow"
	Delete []Pipeline `json:"delete,omitempty"`
}

// WorkflowConfig applies to every workflow of a Promise.
type WorkflowConfig struct {
	// PipelineNamespace is where the Promise's resource workflows run their Jobs; by default the
	// resource request's namespace. Not one of Kubernetes' own namespaces, whose ServiceAccounts
	// the admission policy kratix-work-ownership leaves to RBAC.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('kube-')",message="pipelineNamespace must not be one of Kubernetes' own namespaces (kube-*)"
	// +optional
	PipelineNamespace string `json:"pipelineNamespace,omitempty"`

	// ReconciliationInterval is how long after a finished run the Promise's configure workflows
	// (of the Promise and of each of its resource requests) run again; at least one minute. The
	// Promise's annotation kratix.io/reconciliation-interval overrides it; without either, the
	// engine's global interval applies.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="reconciliationInterval must be at least 1m"
	// +optional
	ReconciliationInterval *metav1.Duration `json:"reconciliationInterval,omitempty"`
}

// KratixStatus is the engine's own part of an object's status (status.kratix); pipelines
// cannot write it through status.yaml.
type KratixStatus struct {
	// Workflows is the progress of the object's workflow.
	// +optional
	Workflows WorkflowStatus `json:"workflows,omitempty"`
}

// WorkflowStatus is the progress of the workflow of an object that ran last or runs now: its
// configure workflow, or its delete workflow once the object is being deleted.
type WorkflowStatus struct {
	// Action is the workflow the pipelines belong to: configure or delete.
	// +optional
	Action string `json:"action,omitempty"`

	// Pipelines of the workflow, in order.
	// +optional
	Pipelines []WorkflowPipelineStatus `json:"pipelines,omitempty"`

	// SuspendedGeneration is the object's generation when a pipeline suspended the workflow.
	// +optional
	SuspendedGeneration int64 `json:"suspendedGeneration,omitempty"`
}

// WorkflowPipelineStatus is the progress of one pipeline of a workflow.
type WorkflowPipelineStatus struct {
	// Name of the pipeline.
	Name string `json:"name"`

	// Phase: Pending, Running, Succeeded, Failed or Suspended.
	// +optional
	Phase string `json:"phase,omitempty"`

	// Message from a pipeline that suspended the workflow (workflow-control.yaml).
	// +optional
	Message string `json:"message,omitempty"`

	// NextRetryAt is when a pipeline that asked for a retry (retryAfter) runs again, RFC 3339.
	// +optional
	NextRetryAt string `json:"nextRetryAt,omitempty"`

	// Attempts counts the retries the pipeline asked for in a row.
	// +optional
	Attempts int64 `json:"attempts,omitempty"`

	// LastTransitionTime is when the phase last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`

	// Hash is the spec hash (the kratix.io/hash label of its Job) that the pipeline last
	// completed or failed for.
	// +optional
	Hash string `json:"hash,omitempty"`

	// Run is the run number (kratix.io/workflow-run) of that Job.
	// +optional
	Run int64 `json:"run,omitempty"`

	// ReportedRun is the run whose status-writer last wrote the object's status for this
	// pipeline: a copy of the object that shows it holds what that run's pipeline asked for.
	// +optional
	ReportedRun int64 `json:"reportedRun,omitempty"`
}

// The phases of a pipeline in WorkflowPipelineStatus.
const (
	WorkflowPhasePending   = "Pending"
	WorkflowPhaseRunning   = "Running"
	WorkflowPhaseSucceeded = "Succeeded"
	WorkflowPhaseFailed    = "Failed"
	WorkflowPhaseSuspended = "Suspended"
)

// PromiseStatus is what the engine observed of a Promise.
type PromiseStatus struct {
	// Conditions: Available, ConfigureWorkflowCompleted, WorksSucceeded, Reconciled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Status is Available or Unavailable.
	// +optional
	Status string `json:"status,omitempty"`

	// Kind of the Promise's API.
	// +optional
	Kind string `json:"kind,omitempty"`

	// APIVersion of the Promise's API (group/version).
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Version of the Promise (its kratix.io/promise-version label).
	// +optional
	Version string `json:"version,omitempty"`

	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Message for humans.
	// +optional
	Message string `json:"message,omitempty"`

	// Kratix is the engine's own status: the progress of the Promise's workflows.
	// +optional
	Kratix *KratixStatus `json:"kratix,omitempty"`

	// RequiredPromises is the state of each of spec.requiredPromises, as upstream Kratix reports
	// it: the Promise is Available, and its resource requests run their workflows, only when
	// every one is "Requirement installed".
	// +optional
	RequiredPromises []RequiredPromiseStatus `json:"requiredPromises,omitempty"`

	// Rollout is the progress of the last spec change through the Promise's requests, when the
	// Promise has a rollout policy (kratix.io/rollout-batch-size).
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// The states of a required Promise in RequiredPromiseStatus (upstream Kratix's words).
const (
	RequirementStateInstalled                      = "Requirement installed"
	RequirementStateNotInstalled                   = "Requirement not installed"
	RequirementStateNotInstalledAtSpecifiedVersion = "Requirement not installed at the specified version"
	RequirementStateNotAvailable                   = "Requirement not available"
)

// RequiredPromiseStatus is the state of one required Promise.
type RequiredPromiseStatus struct {
	// Name of the required Promise.
	// +optional
	Name string `json:"name,omitempty"`
	// Version required, empty for any.
	// +optional
	Version string `json:"version,omitempty"`
	// State: Requirement installed, Requirement not installed, Requirement not installed at the
	// specified version, or Requirement not available.
	// +optional
	State string `json:"state,omitempty"`
}

// Promise is a platform API published by a platform team.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=kratix
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.status.kind`
// +kubebuilder:printcolumn:name="API Version",type=string,JSONPath=`.status.apiVersion`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`
// +kubebuilder:printcolumn:name="Updated",type=string,JSONPath=`.status.rollout.summary`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.rollout.failed`
// +kubebuilder:printcolumn:name="Rollout",type=string,JSONPath=`.status.rollout.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Promise struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PromiseSpec   `json:"spec,omitempty"`
	Status PromiseStatus `json:"status,omitempty"`
}

// PromiseList is a list of Promises.
//
// +kubebuilder:object:root=true
type PromiseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Promise `json:"items"`
}

func init() {
	register(&Promise{}, &PromiseList{})
}
