package pipeline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// DryRunRef names the DryRun a dry run's Job runs for.
type DryRunRef struct {
	Namespace, Name string
	// Generation of the DryRun, which the Jobs' names carry.
	Generation int64
	// Owner, when set, becomes the Job's owner (the DryRun, when it is in the Job's namespace).
	Owner *metav1.OwnerReference
}

// Labels are what every Job and Work of the dry run carries, and nothing else's.
func (d DryRunRef) Labels() map[string]string {
	return map[string]string{v1alpha1.LabelDryRun: names.LabelValue(d.Name), v1alpha1.LabelDryRunNamespace: d.Namespace}
}

// BuildDryRunJob builds the Job that runs pipeline index of a resource Configure workflow for a
// dry run: the Job BuildJob builds, run 1, but
//
//   - named after the dry run, and without the labels of the workflow (Workflow.Selector), so
//     that neither the request's workflow (Decide) nor its Promise's sees it; it carries the
//     dry run's labels (DryRunRef.Labels) instead;
//   - owned by the DryRun when ref.Owner is set, never by the request;
//   - the engine's containers get KRATIX_DRY_RUN and the object as KRATIX_DRY_RUN_OBJECT: the
//     reader hands the pipeline that object instead of reading the request, the work-writer
//     writes a Work of the dry run's, and the status-writer writes no status.
//
// The pipeline's own containers, ServiceAccount and environment are the real run's.
func BuildDryRunJob(w Workflow, index int, ref DryRunRef, opts Options) (*batchv1.Job, error) {
	if w.Type != v1alpha1.WorkflowTypeResource || w.Action != v1alpha1.WorkflowActionConfigure {
		return nil, errors.New("a dry run runs a resource Configure workflow only")
	}
	job, err := BuildJob(w, index, 1, opts)
	if err != nil {
		return nil, err
	}
	object := w.Object.DeepCopy()
	object.SetManagedFields(nil)
	data, err := yaml.Marshal(object.Object)
	if err != nil {
		return nil, fmt.Errorf("encode the dry run's object: %w", err)
	}
	labels := job.Labels
	for k := range w.Selector() {
		delete(labels, k)
	}
	for k, v := range ref.Labels() {
		labels[k] = v
	}
	job.Labels = labels
	job.Spec.Template.Labels = copyStrings(labels)
	job.Name = DryRunJobName(ref, w.Object.GetNamespace(), w.Object.GetName(), index)
	job.OwnerReferences = nil
	if ref.Owner != nil {
		job.OwnerReferences = []metav1.OwnerReference{*ref.Owner}
	}
	extra := []corev1.EnvVar{
		{Name: EnvDryRun, Value: ref.Namespace + "/" + ref.Name},
		{Name: EnvDryRunObject, Value: string(data)},
	}
	pod := &job.Spec.Template.Spec
	for _, list := range [][]corev1.Container{pod.InitContainers, pod.Containers} {
		for i := range list {
			switch list[i].Name {
			case ContainerReader, ContainerWorkWriter, ContainerStatusWriter:
				list[i].Env = append(list[i].Env, extra...)
			}
		}
	}
	return job, nil
}

// DryRunJobName names the Job of pipeline index of the dry run for one request.
func DryRunJobName(ref DryRunRef, namespace, name string, index int) string {
	id := digest(ref.Namespace, ref.Name, strconv.FormatInt(ref.Generation, 10), namespace, name, strconv.Itoa(index))[:jobRunIDLength]
	joined := strings.Join([]string{jobNamePrefix + "dryrun", ref.Name, name, strconv.Itoa(index), id}, "-")
	return names.LabelValue(strings.ReplaceAll(joined, ".", "-"))
}
