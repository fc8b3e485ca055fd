// Package metrics holds the engine's Prometheus metrics, registered in controller-runtime's
// registry, which the manager serves on --metrics-bind-address next to controller-runtime's own.
// The rest of the engine records through the Observe functions here, so that names, labels and
// their values live in one place. Labels stay few and bounded: the kind and name of a state store
// (a platform has a handful), a workflow's type and action, a result; never a resource, a path or
// a credential.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"kratix.dev/kratix/api/v1alpha1"
)

// Names of the metrics.
const (
	StateStoreWritesName        = "kratix_statestore_writes_total"
	StateStoreWriteDurationName = "kratix_statestore_write_duration_seconds"
	CommitBatchSizeName         = "kratix_statestore_commit_batch_size"
	PipelineRunsName            = "kratix_pipeline_runs_total"
	SchedulingOutcomesName      = "kratix_scheduling_outcomes_total"
)

// Values of the result label of StateStoreWritesName.
const (
	// WriteSuccess is a write that changed the store.
	WriteSuccess = "success"
	// WriteUnchanged is a write that found the store as it asked, and wrote nothing.
	WriteUnchanged = "unchanged"
	// WriteFailure is a write that returned an error.
	WriteFailure = "failure"
)

// Values of the result label of PipelineRunsName.
const (
	PipelineSucceeded = "succeeded"
	PipelineFailed    = "failed"
)

// Values of the outcome label of SchedulingOutcomesName.
const (
	// OutcomePlaced is a WorkPlacement created for a workload group on a Destination.
	OutcomePlaced = "placed"
	// OutcomeUnscheduled is a workload group that no Destination matched in a scheduling pass.
	OutcomeUnscheduled = "unscheduled"
	// OutcomeMisscheduled is a WorkPlacement marked misscheduled: its Destination stopped
	// matching its workload group.
	OutcomeMisscheduled = "misscheduled"
)

var (
	stateStoreWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: StateStoreWritesName,
		Help: "Writes to a state store (one per WorkPlacement or Destination write), by store and result: " +
			"success changed the store, unchanged found it as wanted, failure returned an error. " +
			"A rising failure rate means the store is unreachable, refuses its credentials, or keeps moving under the writer; " +
			"the WorkPlacements' WriteSucceeded condition and the manager's log say why.",
	}, []string{"kind", "store", "result"})

	stateStoreWriteDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: StateStoreWriteDurationName,
		Help: "Seconds a write to a state store took, from the call until the change was durable (pushed or uploaded) or failed, " +
			"including the wait for the batch it joined. Growing latency at a steady write rate points at a slow or distant store; " +
			"with a growing write rate, at the manager's --max-concurrent-reconciles or the store's limits.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms to 41s
	}, []string{"kind", "store"})

	commitBatchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: CommitBatchSizeName,
		Help: "Changes carried by one commit a Git state-store writer pushed (concurrent writes are grouped into one commit). " +
			"Batches near the writer's maximum (256) mean the store's writer is saturated; writes then queue, which shows in " +
			StateStoreWriteDurationName + ".",
		Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 to 256
	}, []string{"kind", "store"})

	pipelineRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: PipelineRunsName,
		Help: "Pipeline Jobs that finished, by workflow type (promise, resource), action (configure, delete) and result. " +
			"Failed runs leave their Promise or resource request not Ready with the failure in its status; " +
			"the failed Job's Pod logs say why.",
	}, []string{"type", "action", "result"})

	schedulingOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: SchedulingOutcomesName,
		Help: "Outcomes of scheduling Works onto Destinations: placed counts WorkPlacements created; unscheduled counts workload groups " +
			"that no Destination matched, when their Work starts waiting for one (a steady rate means Works keep arriving that select " +
			"labels no Destination has; see the Work's ScheduleSucceeded condition); misscheduled counts WorkPlacements whose " +
			"Destination stopped matching: their files stay, frozen, until the platform team deletes them.",
	}, []string{"outcome"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(stateStoreWrites, stateStoreWriteDuration, commitBatchSize, pipelineRuns, schedulingOutcomes)
	// The fixed series exist from the start, at zero, so that rates and alerts work before the
	// first event.
	for _, t := range []string{v1alpha1.WorkflowTypePromise, v1alpha1.WorkflowTypeResource} {
		for _, a := range []string{v1alpha1.WorkflowActionConfigure, v1alpha1.WorkflowActionDelete} {
			pipelineRuns.WithLabelValues(t, a, PipelineSucceeded)
			pipelineRuns.WithLabelValues(t, a, PipelineFailed)
		}
	}
	for _, o := range []string{OutcomePlaced, OutcomeUnscheduled, OutcomeMisscheduled} {
		schedulingOutcomes.WithLabelValues(o)
	}
}

// InitStore creates a state store's write series at zero, so that a store's failure rate can
// be computed from its first failure on.
func InitStore(kind, store string) {
	for _, r := range []string{WriteSuccess, WriteUnchanged, WriteFailure} {
		stateStoreWrites.WithLabelValues(kind, store, r)
	}
	stateStoreWriteDuration.WithLabelValues(kind, store)
}

// ForgetStore removes a deleted state store's series.
func ForgetStore(kind, store string) {
	labels := prometheus.Labels{"kind": kind, "store": store}
	stateStoreWrites.DeletePartialMatch(labels)
	stateStoreWriteDuration.DeletePartialMatch(labels)
	commitBatchSize.DeletePartialMatch(labels)
}

// ObserveWrite records one write to a state store: how long it took, and whether it changed the
// store (changed) or failed (err).
func ObserveWrite(kind, store string, took time.Duration, changed bool, err error) {
	result := WriteUnchanged
	switch {
	case err != nil:
		result = WriteFailure
	case changed:
		result = WriteSuccess
	}
	stateStoreWrites.WithLabelValues(kind, store, result).Inc()
	stateStoreWriteDuration.WithLabelValues(kind, store).Observe(took.Seconds())
}

// ObserveCommit records the number of changes one pushed commit (or batch) carried.
func ObserveCommit(kind, store string, changes int) {
	commitBatchSize.WithLabelValues(kind, store).Observe(float64(changes))
}

// ObservePipelineRun records a pipeline Job that finished. Values of workflowType and action
// other than the engine's own are ignored, which keeps the labels bounded whatever a Job says.
func ObservePipelineRun(workflowType, action string, succeeded bool) {
	if workflowType != v1alpha1.WorkflowTypePromise && workflowType != v1alpha1.WorkflowTypeResource {
		return
	}
	if action != v1alpha1.WorkflowActionConfigure && action != v1alpha1.WorkflowActionDelete {
		return
	}
	result := PipelineFailed
	if succeeded {
		result = PipelineSucceeded
	}
	pipelineRuns.WithLabelValues(workflowType, action, result).Inc()
}

// ObserveScheduling adds n to the count of a scheduling outcome (OutcomePlaced,
// OutcomeUnscheduled or OutcomeMisscheduled).
func ObserveScheduling(outcome string, n int) {
	if n > 0 {
		schedulingOutcomes.WithLabelValues(outcome).Add(float64(n))
	}
}
