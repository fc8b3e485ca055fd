package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// workflowStatusOf reads status.kratix.workflows of a Promise or a resource request.
func workflowStatusOf(obj client.Object) (v1alpha1.WorkflowStatus, error) {
	switch o := obj.(type) {
	case *v1alpha1.Promise:
		if o.Status.Kratix == nil {
			return v1alpha1.WorkflowStatus{}, nil
		}
		return *o.Status.Kratix.Workflows.DeepCopy(), nil
	case *unstructured.Unstructured:
		m, found, err := unstructured.NestedMap(o.Object, "status", "kratix", "workflows")
		if err != nil || !found {
			return v1alpha1.WorkflowStatus{}, err
		}
		var ws v1alpha1.WorkflowStatus
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ws); err != nil {
			return v1alpha1.WorkflowStatus{}, fmt.Errorf("status.kratix.workflows of %s: %w", o.GetName(), err)
		}
		return ws, nil
	default:
		return v1alpha1.WorkflowStatus{}, fmt.Errorf("no workflow status on a %T", obj)
	}
}

// setWorkflowStatus writes status.kratix.workflows of a Promise or a resource request (in
// memory; the reconcile's status patch writes it).
func setWorkflowStatus(obj client.Object, ws v1alpha1.WorkflowStatus) error {
	switch o := obj.(type) {
	case *v1alpha1.Promise:
		if o.Status.Kratix == nil {
			o.Status.Kratix = &v1alpha1.KratixStatus{}
		}
		o.Status.Kratix.Workflows = ws
		return nil
	case *unstructured.Unstructured:
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&ws)
		if err != nil {
			return err
		}
		return unstructured.SetNestedMap(o.Object, m, "status", "kratix", "workflows")
	default:
		return fmt.Errorf("no workflow status on a %T", obj)
	}
}

// freshWorkflowStatus reads status.kratix.workflows of obj from the API server: what a Job's
// status-writer wrote before the Job completed, which the cache may not show yet.
func (d *workflowDriver) freshWorkflowStatus(ctx context.Context, obj client.Object) (v1alpha1.WorkflowStatus, error) {
	fresh, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return v1alpha1.WorkflowStatus{}, fmt.Errorf("copy %s", obj.GetName())
	}
	if err := d.reader.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
		return v1alpha1.WorkflowStatus{}, fmt.Errorf("read the workflow status of %s: %w", obj.GetName(), err)
	}
	return workflowStatusOf(fresh)
}

// entryOf finds a pipeline's entry.
func entryOf(ws *v1alpha1.WorkflowStatus, name string) *v1alpha1.WorkflowPipelineStatus {
	for i := range ws.Pipelines {
		if ws.Pipelines[i].Name == name {
			return &ws.Pipelines[i]
		}
	}
	return nil
}

// latestPerPipeline is the newest real Job record of each pipeline.
func latestPerPipeline(records []pipeline.JobRecord) map[string]pipeline.JobRecord {
	out := map[string]pipeline.JobRecord{}
	for _, r := range records {
		if cur, ok := out[r.Pipeline]; !ok || r.Run > cur.Run || (r.Run == cur.Run && r.Created.After(cur.Created)) {
			out[r.Pipeline] = r
		}
	}
	return out
}

// observeProgress reads the workflow's progress from obj's status and marks the Job records of
// pipelines that suspended the workflow. A completed Job that the progress does not record yet,
// and whose status-writer's write obj does not show (reportedRun), is looked up in the object as
// the API server has it: the status-writer marked it there before the Job completed. It returns the progress (the API server's when it was read), the records
// with those the progress remembers of pruned Jobs, and the records newly found suspended.
func (d *workflowDriver) observeProgress(ctx context.Context, obj client.Object, w pipeline.Workflow, jobs []pipeline.JobRecord) (v1alpha1.WorkflowStatus, []pipeline.JobRecord, []pipeline.JobRecord, error) {
	progress, err := workflowStatusOf(obj)
	if err != nil {
		return progress, nil, nil, err
	}
	if progress.Action != w.Action {
		progress = v1alpha1.WorkflowStatus{Action: w.Action}
	}
	latest := latestPerPipeline(jobs)
	fresh := false
	for _, j := range latest {
		if e := entryOf(&progress, j.Pipeline); j.Phase == pipeline.JobSucceeded && (e == nil || (e.Run != int64(j.Run) && e.ReportedRun != int64(j.Run))) {
			fresh = true
		}
	}
	if fresh {
		current, err := d.freshWorkflowStatus(ctx, obj)
		if err != nil {
			return progress, nil, nil, err
		}
		if current.Action == w.Action {
			progress = current
		} else {
			progress = v1alpha1.WorkflowStatus{Action: w.Action}
		}
	}
	var newly []pipeline.JobRecord
	records := make([]pipeline.JobRecord, 0, len(jobs)+len(progress.Pipelines))
	for _, j := range jobs {
		if l := latest[j.Pipeline]; l.Name == j.Name {
			if e := entryOf(&progress, j.Pipeline); e != nil && int64(j.Run) >= e.Run {
				pipeline.ApplySuspension(&j, *e)
				if j.Suspended && e.Run != int64(j.Run) {
					newly = append(newly, j)
				}
			}
		}
		records = append(records, j)
	}
	for _, r := range pipeline.Recorded(progress.Pipelines) {
		if l, ok := latest[r.Pipeline]; ok && l.Run >= r.Run {
			continue // the Job itself is there
		}
		records = append(records, r)
	}
	return progress, records, newly, nil
}

// nextProgress is the progress after the decision: each pipeline's entry follows its newest
// Job, and a started pipeline is Running; a new run sets the pipelines after it Pending.
// Entries of pipelines the workflow no longer has are dropped.
func nextProgress(progress v1alpha1.WorkflowStatus, pipelines []v1alpha1.Pipeline, records []pipeline.JobRecord, decision pipeline.Decision, now time.Time) v1alpha1.WorkflowStatus {
	next := v1alpha1.WorkflowStatus{Action: progress.Action, SuspendedGeneration: progress.SuspendedGeneration}
	stamp := metav1.NewTime(now.Truncate(time.Second))
	real := make([]pipeline.JobRecord, 0, len(records))
	for _, r := range records {
		if !r.Recorded {
			real = append(real, r)
		}
	}
	latest := latestPerPipeline(real)
	for i, p := range pipelines {
		e := v1alpha1.WorkflowPipelineStatus{Name: p.Metadata.Name, Phase: v1alpha1.WorkflowPhasePending}
		if old := entryOf(&progress, p.Metadata.Name); old != nil {
			e = *old.DeepCopy()
		}
		phase := e.Phase
		if j, ok := latest[e.Name]; ok && int64(j.Run) > e.Run {
			switch {
			case j.Phase == pipeline.JobRunning && e.ReportedRun >= int64(j.Run):
				// Its status-writer has written (a suspension, a retry) and the Job is ending:
				// what it wrote stands, for the Job's end to be read with.
			case j.Phase == pipeline.JobRunning:
				phase = v1alpha1.WorkflowPhaseRunning
			case j.Suspended:
				phase, e.Run, e.Hash = v1alpha1.WorkflowPhaseSuspended, int64(j.Run), j.Hash
			case j.Phase == pipeline.JobSucceeded:
				phase, e.Run, e.Hash = v1alpha1.WorkflowPhaseSucceeded, int64(j.Run), j.Hash
				e.Message, e.NextRetryAt, e.Attempts = "", "", 0
			case j.Phase == pipeline.JobFailed:
				phase, e.Run, e.Hash, e.Message = v1alpha1.WorkflowPhaseFailed, int64(j.Run), j.Hash, j.Failure
			}
		}
		if decision.Verdict == pipeline.Start {
			switch {
			case i == decision.Pipeline:
				phase = v1alpha1.WorkflowPhaseRunning
			case i > decision.Pipeline && (decision.Pipeline == 0 || decision.Cause == pipeline.CauseResume || decision.Cause == pipeline.CauseRetry):
				phase = v1alpha1.WorkflowPhasePending
			}
		}
		if phase != e.Phase || e.LastTransitionTime == nil {
			e.Phase, e.LastTransitionTime = phase, &stamp
		}
		next.Pipelines = append(next.Pipelines, e)
	}
	if decision.Verdict == pipeline.Start {
		next.SuspendedGeneration = 0
	}
	return next
}

// addLabel sets a label of obj to "true".
func addLabel(ctx context.Context, c client.Client, obj client.Object, label string) error {
	patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, label, v1alpha1.LabelTriggerValue)))
	if err := c.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("set the label %s: %w", label, err)
	}
	return nil
}

// announceSuspension labels obj kratix.io/workflow-suspended=true for a pipeline that has just
// suspended its workflow, with a Warning Event.
func announceSuspension(ctx context.Context, c client.Client, rec events.EventRecorder, obj client.Object, w pipeline.Workflow, j pipeline.JobRecord) error {
	if obj.GetLabels()[v1alpha1.LabelWorkflowSuspended] != v1alpha1.LabelTriggerValue {
		if err := addLabel(ctx, c, obj, v1alpha1.LabelWorkflowSuspended); err != nil {
			return err
		}
	}
	rec.Eventf(obj, nil, corev1.EventTypeWarning, suspendedReason(w), workflowAction(w), "pipeline %s: %s", j.Pipeline, suspendedMessage(workflowName(w), pipeline.Decision{Verdict: pipeline.Suspend, Job: j.Name, Message: j.Message, RetryAt: j.RetryAt}))
	return nil
}

// suspendedReason is the reason of a suspended workflow's condition and Event.
func suspendedReason(w pipeline.Workflow) string {
	if w.Action == v1alpha1.WorkflowActionDelete {
		return v1alpha1.ReasonDeleteWorkflowSuspended
	}
	return v1alpha1.ReasonWorkflowSuspended
}

// reconciliationInterval is how long after a finished run the configure workflows of the
// Promise and of its requests run again: the Promise's kratix.io/reconciliation-interval
// annotation when it is a duration of at least v1alpha1.MinReconciliationInterval, else its
// spec.workflows.config.reconciliationInterval, else fallback (the engine's global interval).
func reconciliationInterval(promise *v1alpha1.Promise, fallback time.Duration) time.Duration {
	if raw, ok := promise.Annotations[v1alpha1.AnnotationReconciliationInterval]; ok {
		if d, err := time.ParseDuration(raw); err == nil && d >= v1alpha1.MinReconciliationInterval {
			return d
		}
	}
	if i := promise.Spec.Workflows.Config.ReconciliationInterval; i != nil && i.Duration >= v1alpha1.MinReconciliationInterval {
		return i.Duration
	}
	return fallback
}

// untilDue is the requeue that brings a workflow back when its retry is due: after a suspension
// with a retry, or a failure under reconcileAfterFailure; zero when nothing is due.
func untilDue(d pipeline.Decision, p workflowPolicy, now time.Time) time.Duration {
	var at time.Time
	switch {
	case d.Verdict == pipeline.Suspend && !d.RetryAt.IsZero():
		at = d.RetryAt
	case d.Verdict == pipeline.Fail && p.reconcileAfterFailure && p.resync > 0:
		at = d.FailedAt.Add(p.resync)
	default:
		return 0
	}
	return max(at.Sub(now), time.Second)
}
