package pipeline

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// The environment of every container of a pipeline, in this order (CONTRACT.md §6).
const (
	EnvWorkflowAction  = "KRATIX_WORKFLOW_ACTION"
	EnvWorkflowType    = "KRATIX_WORKFLOW_TYPE"
	EnvPromiseName     = "KRATIX_PROMISE_NAME"
	EnvPipelineName    = "KRATIX_PIPELINE_NAME"
	EnvObjectKind      = "KRATIX_OBJECT_KIND"
	EnvObjectGroup     = "KRATIX_OBJECT_GROUP"
	EnvObjectVersion   = "KRATIX_OBJECT_VERSION"
	EnvObjectName      = "KRATIX_OBJECT_NAME"
	EnvObjectNamespace = "KRATIX_OBJECT_NAMESPACE"
	EnvCRDPlural       = "KRATIX_CRD_PLURAL"
	// EnvClusterScoped is "true" or "false".
	EnvClusterScoped = "KRATIX_CLUSTER_SCOPED"
)

// What the engine's own containers (reader, work-writer, status-writer) get after the contract's
// variables. Users' containers do not see these.
const (
	// EnvPipelineNamespace is the Job's namespace, where the work-writer writes the Work.
	EnvPipelineNamespace = "KRATIX_PIPELINE_NAMESPACE"
	// EnvPromiseDestinationSelectors is the Promise's spec.destinationSelectors as JSON, for the
	// work-writer's root workload group. Carrying it in the Job spares the pipeline read access
	// to the Promise, and a change to it changes the spec hash, which re-runs the workflow.
	EnvPromiseDestinationSelectors = "KRATIX_PROMISE_DESTINATION_SELECTORS"
	// EnvLastPipeline is "true" in the Job of the workflow's last pipeline: after it the
	// status-writer of a configure workflow marks the workflow completed.
	EnvLastPipeline = "KRATIX_LAST_PIPELINE"
	// EnvWorkflowRun is the Job's run number (kratix.io/workflow-run): the status-writer records
	// in the pipeline's entry of status.kratix.workflows that it wrote the status of that run
	// (reportedRun), which tells the engine that its cached copy of the object holds what the
	// pipeline asked for (a suspension, a retry).
	EnvWorkflowRun = "KRATIX_WORKFLOW_RUN"
	// EnvDryRun, in the Job of a dry run only, is "<namespace>/<name>" of the DryRun: the reader
	// writes EnvDryRunObject instead of reading the object, the work-writer writes a Work of the
	// dry run's instead of the request's, and the status-writer writes no status.
	EnvDryRun = "KRATIX_DRY_RUN"
	// EnvDryRunObject is the object a dry run's pipeline reads, as YAML.
	EnvDryRunObject = "KRATIX_DRY_RUN_OBJECT"
)

// IsAdapterEnv says whether name is one of the variables the engine's own containers get (the
// contract's and the ones above): a runner that starts those steps outside a sandbox takes no
// other (TestAdapterEnvNamesAreKnown keeps the list whole).
func IsAdapterEnv(name string) bool {
	switch name {
	case EnvWorkflowAction, EnvWorkflowType, EnvPromiseName, EnvPipelineName, EnvObjectKind,
		EnvObjectGroup, EnvObjectVersion, EnvObjectName, EnvObjectNamespace, EnvCRDPlural,
		EnvClusterScoped, EnvPipelineNamespace, EnvPromiseDestinationSelectors, EnvLastPipeline,
		EnvWorkflowRun, EnvDryRun, EnvDryRunObject:
		return true
	}
	return false
}

// contractEnv is the contract's environment, which every container gets first.
func contractEnv(w Workflow, obj objectRef, pipeline string) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: EnvWorkflowAction, Value: w.Action},
		{Name: EnvWorkflowType, Value: w.Type},
		{Name: EnvPromiseName, Value: w.Promise.Name},
		{Name: EnvPipelineName, Value: pipeline},
		{Name: EnvObjectKind, Value: obj.Kind},
		{Name: EnvObjectGroup, Value: obj.Group},
		{Name: EnvObjectVersion, Value: obj.Version},
		{Name: EnvObjectName, Value: obj.Name},
		{Name: EnvObjectNamespace, Value: obj.Namespace},
		{Name: EnvCRDPlural, Value: obj.Plural},
		{Name: EnvClusterScoped, Value: strconv.FormatBool(obj.ClusterScoped)},
	}
}

// userEnv is the environment of a user's container: the contract's, then the container's own.
func userEnv(contract []corev1.EnvVar, c v1alpha1.Container) []corev1.EnvVar {
	env := make([]corev1.EnvVar, 0, len(contract)+len(c.Env))
	env = append(env, contract...)
	return append(env, c.Env...)
}

// adapterEnv is the environment of the engine's containers: the contract's, then what the
// adapters need beyond it.
func adapterEnv(contract []corev1.EnvVar, w Workflow, namespace string, last bool, run int) ([]corev1.EnvVar, error) {
	selectors, err := json.Marshal(w.Promise.Spec.DestinationSelectors)
	if err != nil {
		return nil, fmt.Errorf("encode the destination selectors of Promise %q: %w", w.Promise.Name, err)
	}
	if w.Promise.Spec.DestinationSelectors == nil {
		selectors = []byte("[]")
	}
	env := make([]corev1.EnvVar, 0, len(contract)+4)
	env = append(env, contract...)
	return append(env,
		corev1.EnvVar{Name: EnvPipelineNamespace, Value: namespace},
		corev1.EnvVar{Name: EnvPromiseDestinationSelectors, Value: string(selectors)},
		corev1.EnvVar{Name: EnvLastPipeline, Value: strconv.FormatBool(last)},
		corev1.EnvVar{Name: EnvWorkflowRun, Value: strconv.Itoa(run)},
	), nil
}
