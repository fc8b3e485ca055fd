package controllers

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/pipeline"
)

// pipelineRunCounter counts the engine's pipeline Jobs as they finish (metrics.PipelineRunsName),
// from the manager's Job informer. A Job counts once, when the engine sees it go from running to
// Complete or Failed. Jobs that were already finished when the counter started (the informer's
// initial list, the Jobs of a manager that restarted or took over leadership) and resyncs are not
// counted, so nothing counts twice; a Job that finished while no manager was leading is not
// counted at all.
//
// It runs on the leader only (a manager.Runnable that needs leader election, the default), so
// that of several replicas one counts.
type pipelineRunCounter struct {
	informers cache.Informers
}

// Start implements manager.Runnable: it counts until ctx ends.
func (c *pipelineRunCounter) Start(ctx context.Context) error {
	informer, err := c.informers.GetInformer(ctx, &batchv1.Job{})
	if err != nil {
		return fmt.Errorf("get the Job informer to count pipeline runs: %w", err)
	}
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, isInInitialList bool) {
			// A Job that the informer first sees finished, outside its initial list, finished
			// unseen (e.g. during a relist); the initial list is what earlier managers counted.
			if job, ok := obj.(*batchv1.Job); ok && !isInInitialList {
				countFinished(nil, job)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			oldJob, ok1 := oldObj.(*batchv1.Job)
			newJob, ok2 := newObj.(*batchv1.Job)
			if ok1 && ok2 {
				countFinished(oldJob, newJob)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("count pipeline runs: %w", err)
	}
	<-ctx.Done()
	// The informer stops with the manager; removing the handler matters only to a cache that
	// outlives it, and a failure to remove it leaves nothing to clean up.
	_ = informer.RemoveEventHandler(reg)
	return nil
}

// countFinished counts job if it is an engine's pipeline Job that finished since old (nil when
// the informer did not know it).
func countFinished(old, job *batchv1.Job) {
	if job.Labels[v1alpha1.LabelManagedBy] != v1alpha1.LabelManagedByValue {
		return
	}
	phase := pipeline.ObserveJob(job).Phase
	if phase == pipeline.JobRunning || (old != nil && pipeline.ObserveJob(old).Phase != pipeline.JobRunning) {
		return
	}
	metrics.ObservePipelineRun(job.Labels[v1alpha1.LabelWorkflowType], job.Labels[v1alpha1.LabelWorkflowAction], phase == pipeline.JobSucceeded)
}
