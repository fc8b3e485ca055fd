package pipeline

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// DefaultKeepJobs is how many Jobs of each pipeline Decide keeps by default.
const DefaultKeepJobs = 5

// JobPhase is where a Job is in its life.
type JobPhase string

// The phases of a Job.
const (
	// JobRunning: neither completed nor failed yet (pending and suspended Jobs included).
	JobRunning JobPhase = "Running"
	// JobSucceeded: the Job's Complete condition is True.
	JobSucceeded JobPhase = "Succeeded"
	// JobFailed: the Job's Failed condition is True.
	JobFailed JobPhase = "Failed"
)

// JobRecord is what Decide needs to know about one existing Job of a workflow.
type JobRecord struct {
	// Name of the Job.
	Name string
	// Pipeline is its kratix.io/pipeline-name label.
	Pipeline string
	// Hash is its kratix.io/hash label: the spec hash it ran for.
	Hash string
	// Run is its run number (see the package documentation); 0 when it has none.
	Run int
	// Created is its creation time.
	Created time.Time
	// Started is when it started running (status.startTime); zero while it waits to.
	Started time.Time
	// Finished is when it completed or failed; zero while it runs.
	Finished time.Time
	// Phase of the Job.
	Phase JobPhase
	// Failure says why a failed Job failed: the reason and message of its Failed condition.
	Failure string
	// Suspended: the pipeline completed and suspended the workflow (workflow-control.yaml);
	// Message and RetryAt say what it asked for.
	Suspended bool
	// Message of a pipeline that suspended the workflow.
	Message string
	// RetryAt is when a pipeline that asked for a retry runs again; zero for a plain suspension.
	RetryAt time.Time
	// Recorded: no Job exists any more; the record is the pipeline's entry in the object's
	// status.kratix.workflows (see Recorded).
	Recorded bool
}

// Recorded turns the object's workflow progress (status.kratix.workflows.pipelines) into the
// records of the Jobs that it remembers: each pipeline's last completed or failed run, so that
// a workflow whose Jobs were pruned is not run again. A pipeline that is pending or running
// leaves no record.
func Recorded(progress []v1alpha1.WorkflowPipelineStatus) []JobRecord {
	var out []JobRecord
	for _, p := range progress {
		if p.Run <= 0 {
			continue
		}
		r := JobRecord{Name: fmt.Sprintf("%s (run %d)", p.Name, p.Run), Pipeline: p.Name, Hash: p.Hash, Run: int(p.Run), Recorded: true}
		if p.LastTransitionTime != nil {
			r.Created = p.LastTransitionTime.Time
		}
		switch p.Phase {
		case v1alpha1.WorkflowPhaseSucceeded:
			r.Phase = JobSucceeded
		case v1alpha1.WorkflowPhaseFailed:
			r.Phase, r.Failure = JobFailed, "the pipeline "+p.Name+" failed"
			if p.Message != "" {
				r.Failure = p.Message
			}
		case v1alpha1.WorkflowPhaseSuspended:
			r.Phase, r.Suspended, r.Message, r.RetryAt = JobSucceeded, true, p.Message, parseRetryAt(p.NextRetryAt)
		default:
			continue
		}
		out = append(out, r)
	}
	return out
}

// parseRetryAt parses nextRetryAt; a value that does not parse retries at once.
func parseRetryAt(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Unix(1, 0)
	}
	return t
}

// ApplySuspension marks a completed Job record as having suspended the workflow when the
// pipeline's entry in the object's progress says so: the status-writer wrote it for this run.
func ApplySuspension(r *JobRecord, p v1alpha1.WorkflowPipelineStatus) {
	if r.Phase != JobSucceeded || p.Phase != v1alpha1.WorkflowPhaseSuspended || p.Name != r.Pipeline {
		return
	}
	r.Suspended, r.Message, r.RetryAt = true, p.Message, parseRetryAt(p.NextRetryAt)
}

// ObserveJob reduces a Job to what Decide needs.
func ObserveJob(job *batchv1.Job) JobRecord {
	run, err := strconv.Atoi(job.Labels[v1alpha1.LabelWorkflowRun])
	if err != nil || run < 0 {
		run = 0 // a Job without a run number is ordered by creation time alone
	}
	record := JobRecord{
		Name:     job.Name,
		Pipeline: job.Labels[v1alpha1.LabelPipelineName],
		Hash:     job.Labels[v1alpha1.LabelHash],
		Run:      run,
		Created:  job.CreationTimestamp.Time,
		Phase:    JobRunning,
	}
	if job.Status.StartTime != nil {
		record.Started = job.Status.StartTime.Time
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			record.Phase, record.Finished = JobSucceeded, c.LastTransitionTime.Time
		case batchv1.JobFailed:
			record.Phase, record.Finished = JobFailed, c.LastTransitionTime.Time
			record.Failure = failureText(c.Reason, c.Message)
		}
	}
	return record
}

func failureText(reason, message string) string {
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	default:
		return reason + ": " + message
	}
}

// State is what Decide decides from.
type State struct {
	// Pipelines of the workflow, in order, as Workflow.Pipelines returns them (a delete workflow
	// runs only its first pipeline).
	Pipelines []v1alpha1.Pipeline
	// Hash is the current SpecHash of the Promise and the object.
	Hash string
	// ManualReconciliation: the object carries kratix.io/manual-reconciliation: "true".
	ManualReconciliation bool
	// Jobs of this workflow for this object (Workflow.Selector), in any order.
	Jobs []JobRecord
	// Keep is how many Jobs of each pipeline to keep; DefaultKeepJobs when not positive.
	Keep int
	// SuspendLabel: the object carries kratix.io/workflow-suspended=true.
	SuspendLabel bool
	// Now is the time of the decision (retries that are due); time.Now when zero.
	Now time.Time
	// RetryFailedAfter, when positive, runs a failed workflow again from its start once its
	// failure is that old (reconcileAfterFailure).
	RetryFailedAfter time.Duration
}

// Verdict is what the engine should do next.
type Verdict string

// The verdicts of Decide.
const (
	// Start the pipeline Decision.Pipeline as part of run Decision.Run.
	Start Verdict = "Start"
	// Wait for the running Job Decision.Job.
	Wait Verdict = "Wait"
	// Fail: the Job Decision.Job failed, Decision.Failure says why; nothing runs until the spec
	// changes or a manual reconciliation is asked for.
	Fail Verdict = "Fail"
	// Finish: every pipeline completed for the current spec.
	Finish Verdict = "Finish"
	// Suspend: the workflow is suspended, by pipeline Decision.Pipeline (Decision.Job) or by
	// the kratix.io/workflow-suspended label; nothing runs until the label is removed, a retry
	// is due (Decision.RetryAt), the spec changes or a manual reconciliation is asked for.
	Suspend Verdict = "Suspend"
)

// Cause says why Decide starts a pipeline.
type Cause string

// The causes of a Start.
const (
	// CauseFirstRun: no Job of the workflow exists.
	CauseFirstRun Cause = "FirstRun"
	// CauseSpecChanged: the latest run was for another spec hash (or a pipeline the workflow no
	// longer has).
	CauseSpecChanged Cause = "SpecChanged"
	// CauseManualReconciliation: the object asks for a new run; remove its label now.
	CauseManualReconciliation Cause = "ManualReconciliation"
	// CauseNextPipeline: the previous pipeline of the run completed for the current hash.
	CauseNextPipeline Cause = "NextPipeline"
	// CauseResume: the pipeline that suspended the workflow runs again, its object no longer
	// labelled kratix.io/workflow-suspended; remove the label if it is still there.
	CauseResume Cause = "Resume"
	// CauseRetry: the pipeline asked for a retry (retryAfter) and it is due: it runs again;
	// remove the kratix.io/workflow-suspended label.
	CauseRetry Cause = "Retry"
	// CauseRetryAfterFailure: the failed workflow runs again from its start
	// (State.RetryFailedAfter).
	CauseRetryAfterFailure Cause = "RetryAfterFailure"
)

// Decision is what Decide returns.
type Decision struct {
	Verdict Verdict
	// Cause of a Start.
	Cause Cause
	// Pipeline to start (index into State.Pipelines).
	Pipeline int
	// Run is the run number to give the Job that a Start creates.
	Run int
	// Job that a Wait waits for or a Fail names.
	Job string
	// Failure says why the Job of a Fail failed.
	Failure string
	// FailedAt is when the Job of a Fail was last seen failing (its creation, or its record's
	// transition); with State.RetryFailedAfter the failed workflow runs again at
	// FailedAt+RetryFailedAfter.
	FailedAt time.Time
	// Message of the pipeline that suspended the workflow (Suspend).
	Message string
	// RetryAt is when a suspended workflow's retry is due (Suspend); zero when it waits for
	// its label to be removed.
	RetryAt time.Time
	// Prune lists old Jobs to delete, whatever the verdict: all but the newest Keep of each
	// pipeline, never a running one. Sorted by name.
	Prune []string
	// Since is when the decision's stage of the run began. A run under way (a Wait, or a Start
	// of its next pipeline): the start of its first Job; zero when it has not started yet (its
	// Job waits for a node, or for the local runner), as for a new run. A run that ended
	// (Finish, Fail, Suspend): the end of its last Job (a record's time when its Jobs are
	// gone), when its output goes to the state store.
	Since time.Time
}

// Decide says what to do next with a workflow (see the Verdicts). A running Job is always waited
// for, whatever else changed: a spec change or a manual reconciliation takes effect when it has
// finished, with a new run from pipeline 0. A failed run stays failed until one of those.
func Decide(s State) Decision {
	d := decide(s)
	d.Prune = prune(s)
	d.Since = runStart(s, d)
	return d
}

// runStart is Decision.Since.
func runStart(s State, d Decision) time.Time {
	run, ended := maxRun(s.Jobs), true
	switch {
	case d.Verdict == Start && d.Cause != CauseNextPipeline:
		return time.Time{}
	case d.Verdict == Start:
		run, ended = d.Run, false
	case d.Verdict == Wait:
		ended = false
		for _, j := range s.Jobs {
			if j.Name == d.Job {
				run = j.Run
			}
		}
	}
	var first, last time.Time
	for _, j := range s.Jobs {
		started, finished := j.Started, j.Finished
		if j.Recorded {
			started, finished = j.Created, j.Created
		}
		if j.Run != run {
			continue
		}
		if !started.IsZero() && (first.IsZero() || started.Before(first)) {
			first = started
		}
		if finished.After(last) {
			last = finished
		}
	}
	if ended && !last.IsZero() {
		return last
	}
	return first
}

// decide is Decide without the pruning.
func decide(s State) Decision {
	if len(s.Pipelines) == 0 {
		return Decision{Verdict: Finish}
	}
	now := s.Now
	if now.IsZero() {
		now = time.Now()
	}
	position := positions(s.Pipelines)
	jobs := newestFirst(s.Jobs, position)
	for _, j := range jobs {
		if j.Phase == JobRunning {
			return Decision{Verdict: Wait, Job: j.Name}
		}
	}
	if len(jobs) == 0 {
		if s.SuspendLabel && !s.ManualReconciliation {
			return Decision{Verdict: Suspend}
		}
		return Decision{Verdict: Start, Cause: CauseFirstRun, Pipeline: 0, Run: 1}
	}
	latest := jobs[0]
	newRun := maxRun(jobs) + 1
	at, known := position[latest.Pipeline]
	switch {
	case s.ManualReconciliation:
		return Decision{Verdict: Start, Cause: CauseManualReconciliation, Pipeline: 0, Run: newRun}
	case s.SuspendLabel && !latest.Suspended:
		// Suspended by hand: nothing runs, whatever changed, until the label goes.
		return Decision{Verdict: Suspend}
	case latest.Hash != s.Hash || !known:
		return Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: newRun}
	case latest.Phase == JobFailed:
		if s.RetryFailedAfter > 0 && !now.Before(latest.Created.Add(s.RetryFailedAfter)) {
			return Decision{Verdict: Start, Cause: CauseRetryAfterFailure, Pipeline: 0, Run: newRun}
		}
		return Decision{Verdict: Fail, Job: latest.Name, Failure: failureOrDefault(latest), FailedAt: latest.Created}
	case latest.Suspended && !s.SuspendLabel:
		return Decision{Verdict: Start, Cause: CauseResume, Pipeline: at, Run: newRun}
	case latest.Suspended && !latest.RetryAt.IsZero() && !now.Before(latest.RetryAt):
		return Decision{Verdict: Start, Cause: CauseRetry, Pipeline: at, Run: newRun}
	case latest.Suspended:
		return Decision{Verdict: Suspend, Pipeline: at, Job: latest.Name, Message: latest.Message, RetryAt: latest.RetryAt}
	case at == len(s.Pipelines)-1:
		return Decision{Verdict: Finish}
	default:
		// A Job without a run number (not built here) continues as run 1.
		return Decision{Verdict: Start, Cause: CauseNextPipeline, Pipeline: at + 1, Run: max(latest.Run, 1)}
	}
}

func failureOrDefault(j JobRecord) string {
	if j.Failure != "" {
		return j.Failure
	}
	return fmt.Sprintf("Job %s failed", j.Name)
}

// prune returns the Jobs beyond the newest Keep of each pipeline, and every Job of a pipeline
// the workflow no longer has (removed or renamed), sparing running ones. Records without a Job
// are not pruned.
func prune(s State) []string {
	keep := s.Keep
	if keep <= 0 {
		keep = DefaultKeepJobs
	}
	position := positions(s.Pipelines)
	kept := map[string]int{}
	var names []string
	for _, j := range newestFirst(s.Jobs, position) {
		if j.Recorded {
			continue
		}
		kept[j.Pipeline]++
		_, known := position[j.Pipeline]
		if (kept[j.Pipeline] > keep || !known) && j.Phase != JobRunning {
			names = append(names, j.Name)
		}
	}
	sort.Strings(names)
	return names
}

// positions maps each pipeline's name to its position in the workflow.
func positions(pipelines []v1alpha1.Pipeline) map[string]int {
	out := make(map[string]int, len(pipelines))
	for i, p := range pipelines {
		out[p.Metadata.Name] = i
	}
	return out
}

// newestFirst sorts a copy of jobs from the newest: by run number, then creation time, then
// position in the workflow (Jobs of one run created within the same second), then name.
func newestFirst(jobs []JobRecord, position map[string]int) []JobRecord {
	sorted := append([]JobRecord(nil), jobs...)
	pos := func(j JobRecord) int {
		if p, ok := position[j.Pipeline]; ok {
			return p
		}
		return -1
	}
	sort.SliceStable(sorted, func(a, b int) bool {
		x, y := sorted[a], sorted[b]
		switch {
		case x.Run != y.Run:
			return x.Run > y.Run
		case !x.Created.Equal(y.Created):
			return x.Created.After(y.Created)
		case pos(x) != pos(y):
			return pos(x) > pos(y)
		default:
			return x.Name > y.Name
		}
	})
	return sorted
}

func maxRun(jobs []JobRecord) int {
	highest := 0
	for _, j := range jobs {
		highest = max(highest, j.Run)
	}
	return highest
}
