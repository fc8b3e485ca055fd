package pipeline

import (
	"maps"
	"strconv"

	"kratix.dev/kratix/internal/names"

	"kratix.dev/kratix/api/v1alpha1"
)

// jobLabels are the labels of a pipeline's Job and its Pod: the pipeline's own labels, then the
// engine's (CONTRACT.md §2), which win on a clash so that the engine always finds its Jobs.
func jobLabels(w Workflow, pipeline v1alpha1.Pipeline, hash string, run int) map[string]string {
	labels := make(map[string]string, len(pipeline.Metadata.Labels)+9)
	for k, v := range pipeline.Metadata.Labels {
		labels[k] = v
	}
	for k, v := range w.Selector() {
		labels[k] = v
	}
	labels[v1alpha1.LabelPipelineName] = pipeline.Metadata.Name
	labels[v1alpha1.LabelHash] = hash
	labels[v1alpha1.LabelWorkflowRun] = strconv.Itoa(run)
	labels[v1alpha1.LabelManagedBy] = v1alpha1.LabelManagedByValue
	return labels
}

// accessLabels are the labels of a pipeline's ServiceAccount and RBAC objects that every request
// of the Promise shares, so they carry no request.
func accessLabels(w Workflow, pipeline string) map[string]string {
	return map[string]string{
		v1alpha1.LabelPromiseName:    names.LabelValue(w.Promise.Name),
		v1alpha1.LabelWorkflowType:   w.Type,
		v1alpha1.LabelWorkflowAction: w.Action,
		v1alpha1.LabelPipelineName:   pipeline,
		v1alpha1.LabelManagedBy:      v1alpha1.LabelManagedByValue,
	}
}

// requestAccessLabels are the labels of a pipeline's ServiceAccount and RBAC objects that are one
// request's own: accessLabels and the request's (RequestSelector finds them).
func requestAccessLabels(w Workflow, pipeline string) map[string]string {
	labels := accessLabels(w, pipeline)
	maps.Copy(labels, requestLabels(w.Object.GetNamespace(), w.Object.GetName()))
	return labels
}

// requestLabels name a resource request on the objects of its workflows: its name, shortened as
// a label value must be, and its namespace unless it is cluster-scoped.
func requestLabels(namespace, name string) map[string]string {
	labels := map[string]string{v1alpha1.LabelResourceName: names.LabelValue(name)}
	if namespace != "" {
		labels[v1alpha1.LabelResourceNamespace] = namespace
	}
	return labels
}

// copyStrings returns a copy of m, nil for an empty map.
func copyStrings(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
