package controllers

import (
	"context"
	"fmt"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/metrics/metricstest"
)

// The metrics tests share the process's registry with every other test: they compare readings
// taken before and after.

// schedulingOutcomes reads kratix_scheduling_outcomes_total for an outcome.
func schedulingOutcomes(t *testing.T, outcome string) float64 {
	return metricstest.Read(t, metrics.SchedulingOutcomesName, map[string]string{"outcome": outcome}).Value
}

// waitForDelta waits until read() - before is want.
func waitForDelta(t *testing.T, what string, read func() float64, before, want float64) {
	t.Helper()
	waitFor(t, what, func() error {
		if d := read() - before; d != want {
			return fmt.Errorf("went up by %v, want %v", d, want)
		}
		return nil
	})
}

// TestMetricsFollowAWorkIntoGit schedules a Work onto a Destination of a real Git store, leaves
// another without a Destination, then moves the Destination away: the scheduling outcomes, the
// store's writes, their durations and the commits' batch sizes are counted.
func TestMetricsFollowAWorkIntoGit(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	label := uniqueName("metrics")
	dest := readyDestinationOn(t, store, uniqueName("metrics-dest"), map[string]string{"metrics": label})

	storeLabels := map[string]string{"kind": v1alpha1.KindGitStateStore, "store": store.Name}
	successes := func() float64 {
		return metricstest.Read(t, metrics.StateStoreWritesName, map[string]string{"kind": v1alpha1.KindGitStateStore, "store": store.Name, "result": metrics.WriteSuccess}).Value
	}
	placed := func() float64 { return schedulingOutcomes(t, metrics.OutcomePlaced) }
	unscheduled := func() float64 { return schedulingOutcomes(t, metrics.OutcomeUnscheduled) }
	misscheduled := func() float64 { return schedulingOutcomes(t, metrics.OutcomeMisscheduled) }
	placedBefore, unscheduledBefore, misscheduledBefore := placed(), unscheduled(), misscheduled()
	writesBefore := successes()
	durationsBefore := metricstest.Read(t, metrics.StateStoreWriteDurationName, storeLabels).Count
	batchesBefore := metricstest.Read(t, metrics.CommitBatchSizeName, storeLabels)
	if writesBefore < 1 || batchesBefore.Count < 1 {
		t.Errorf("the Destination's canary files were written, but the store counts %v successful writes in %d commits", writesBefore, batchesBefore.Count)
	}

	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	work := newWork(t, ns, "", rootGroup(t, map[string]string{"metrics": label}, namespaceManifest("metrics")))
	createWork(t, work)
	wps := waitForPlacements(t, work, "one placement", func(wps []v1alpha1.WorkPlacement) error {
		if len(wps) != 1 {
			return fmt.Errorf("%d placements", len(wps))
		}
		return nil
	})
	waitForPlacement(t, &wps[0], v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	waitForDelta(t, "placed", placed, placedBefore, 1)
	if d := successes() - writesBefore; d < 1 {
		t.Errorf("the placement's write did not count as a successful write (%v more)", d)
	}
	if d := metricstest.Read(t, metrics.StateStoreWriteDurationName, storeLabels).Count - durationsBefore; d < 1 {
		t.Errorf("no write duration observed for the placement's write")
	}
	if b := metricstest.Read(t, metrics.CommitBatchSizeName, storeLabels); b.Count-batchesBefore.Count < 1 || b.Sum-batchesBefore.Sum < 1 {
		t.Errorf("no commit observed for the placement's write: %d more commits of %v changes", b.Count-batchesBefore.Count, b.Sum-batchesBefore.Sum)
	}

	nowhere := newWork(t, ns, "", rootGroup(t, map[string]string{"metrics": uniqueName("nowhere")}, namespaceManifest("nowhere")))
	createWork(t, nowhere)
	waitForWorkCondition(t, nowhere, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonNoMatchingDestination)
	// The outcome is counted just after the status write that the wait above sees.
	waitForDelta(t, "a Work with one group and no Destination counted as unscheduled", unscheduled, unscheduledBefore, 1)
	// Another scheduling pass while it still waits does not count again.
	update(t, nowhere, func(w *v1alpha1.Work) {
		w.Spec.WorkloadGroups = []v1alpha1.WorkloadGroup{rootGroup(t, w.Spec.WorkloadGroups[0].DestinationSelectors[0].MatchLabels, namespaceManifest("nowhere-2"))}
	})
	waitFor(t, "the changed Work scheduled again", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(nowhere), nowhere); err != nil {
			return err
		}
		if nowhere.Status.ObservedGeneration != nowhere.Generation {
			return fmt.Errorf("generation %d observed %d", nowhere.Generation, nowhere.Status.ObservedGeneration)
		}
		return nil
	})
	if d := unscheduled() - unscheduledBefore; d != 1 {
		t.Errorf("a Work that went on waiting for a Destination counted %v unscheduled groups, want 1", d)
	}

	update(t, dest, func(d *v1alpha1.Destination) { d.Labels = map[string]string{"metrics": uniqueName("elsewhere")} })
	waitForDelta(t, "misscheduled", misscheduled, misscheduledBefore, 1)
	if d := placed() - placedBefore; d != 1 {
		t.Errorf("placed went up by %v, want 1: misscheduling placed something", d)
	}
	// The first Work's group now waits for a Destination too: it counts once, and the waiting
	// Work does not count again (which, counted just after its status write, shows here as 3).
	waitForWorkCondition(t, work, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonNoMatchingDestination)
	waitForDelta(t, "unscheduled groups of both Works", unscheduled, unscheduledBefore, 2)
}

// TestMetricsCountPipelineRunsOnce finishes pipeline Jobs and restarts the manager: each Job
// counts once, when it finishes, by its workflow type and action and its result; a finished
// Job's later updates and the Jobs a new manager finds finished do not count again, and Jobs the
// engine does not manage do not count.
func TestMetricsCountPipelineRunsOnce(t *testing.T) {
	ns := "metrics-tests"
	ensureNamespace(t, ns)
	runs := func(workflowType, action, result string) func() float64 {
		return func() float64 {
			return metricstest.Read(t, metrics.PipelineRunsName, map[string]string{"type": workflowType, "action": action, "result": result}).Value
		}
	}
	promiseConfigured := runs(v1alpha1.WorkflowTypePromise, v1alpha1.WorkflowActionConfigure, metrics.PipelineSucceeded)
	resourceDeleteFailed := runs(v1alpha1.WorkflowTypeResource, v1alpha1.WorkflowActionDelete, metrics.PipelineFailed)
	promiseDeleteFailed := runs(v1alpha1.WorkflowTypePromise, v1alpha1.WorkflowActionDelete, metrics.PipelineFailed)
	configuredBefore, deleteFailedBefore, unmanagedBefore := promiseConfigured(), resourceDeleteFailed(), promiseDeleteFailed()

	_, stop := runManager(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2}, nil)
	t.Cleanup(stop)
	waitForRunCounter(t, ns)

	configured := createPipelineJob(t, ns, v1alpha1.WorkflowTypePromise, v1alpha1.WorkflowActionConfigure, true)
	finishJob(t, configured, true)
	waitForDelta(t, "promise configure successes", promiseConfigured, configuredBefore, 1)

	// A finished Job's update, a Job the engine does not manage, then a failure that counts:
	// the events arrive in this order, so once the failure counts the others were seen.
	update(t, configured, func(j *batchv1.Job) { metav1.SetMetaDataAnnotation(&j.ObjectMeta, "touched", "yes") })
	finishJob(t, createPipelineJob(t, ns, v1alpha1.WorkflowTypePromise, v1alpha1.WorkflowActionDelete, false), false)
	finishJob(t, createPipelineJob(t, ns, v1alpha1.WorkflowTypeResource, v1alpha1.WorkflowActionDelete, true), false)
	waitForDelta(t, "resource delete failures", resourceDeleteFailed, deleteFailedBefore, 1)
	if d := promiseConfigured() - configuredBefore; d != 1 {
		t.Errorf("promise configure successes went up by %v, want 1: a finished Job's update counted again", d)
	}
	if d := promiseDeleteFailed() - unmanagedBefore; d != 0 {
		t.Errorf("a Job the engine does not manage counted (%v)", d)
	}

	// A new manager finds the finished Jobs and counts none of them.
	stop()
	_, stop = runManager(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2}, nil)
	t.Cleanup(stop)
	waitForRunCounter(t, ns)
	if d := promiseConfigured() - configuredBefore; d != 1 {
		t.Errorf("after a restart promise configure successes went up by %v, want 1", d)
	}
	if d := resourceDeleteFailed() - deleteFailedBefore; d != 1 {
		t.Errorf("after a restart resource delete failures went up by %v, want 1", d)
	}
}

// waitForRunCounter waits until the manager's pipeline run counter counts: it finishes resource
// configure Jobs until resource configure successes go up. Jobs finished before the counter
// started are, by design, never counted, so no test may rely on that combination of labels.
func waitForRunCounter(t *testing.T, ns string) {
	t.Helper()
	read := func() float64 {
		return metricstest.Read(t, metrics.PipelineRunsName, map[string]string{
			"type": v1alpha1.WorkflowTypeResource, "action": v1alpha1.WorkflowActionConfigure, "result": metrics.PipelineSucceeded,
		}).Value
	}
	before := read()
	waitFor(t, "the pipeline run counter to count", func() error {
		if read() > before {
			return nil
		}
		finishJob(t, createPipelineJob(t, ns, v1alpha1.WorkflowTypeResource, v1alpha1.WorkflowActionConfigure, true), true)
		return fmt.Errorf("no probe Job counted yet")
	})
}

// createPipelineJob creates a running Job labelled as a pipeline of the workflow type and action,
// managed by the engine or not, and deletes it when the test ends. It names no Promise, so no
// controller acts on it.
func createPipelineJob(t *testing.T, ns, workflowType, action string, managed bool) *batchv1.Job {
	t.Helper()
	labels := map[string]string{v1alpha1.LabelWorkflowType: workflowType, v1alpha1.LabelWorkflowAction: action}
	if managed {
		labels[v1alpha1.LabelManagedBy] = v1alpha1.LabelManagedByValue
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("run"), Namespace: ns, Labels: labels},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pipeline", Image: "example.invalid/pipeline:v1"}},
		}}},
	}
	if err := env.Client.Create(t.Context(), job); err != nil {
		t.Fatalf("create Job: %v", err)
	}
	t.Cleanup(func() {
		// Background: no Job controller or garbage collector runs here to clear an orphan finalizer.
		err := env.Client.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete Job %s: %v", job.Name, err)
		}
	})
	return job
}

// finishJob records in the Job's status that it succeeded or failed, as the Job controller
// (or the local job runner) does.
func finishJob(t *testing.T, job *batchv1.Job, succeeded bool) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(job), job); err != nil {
			return err
		}
		now := metav1.Now()
		s := &job.Status
		s.StartTime = &now
		if succeeded {
			s.Succeeded, s.CompletionTime = 1, &now
			s.Conditions = append(s.Conditions,
				batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: now},
				batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: now})
		} else {
			s.Failed = 1
			s.Conditions = append(s.Conditions,
				batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, LastTransitionTime: now},
				batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, LastTransitionTime: now})
		}
		return env.Client.Status().Update(t.Context(), job)
	})
	if err != nil {
		t.Fatalf("finish Job %s: %v", job.Name, err)
	}
}
