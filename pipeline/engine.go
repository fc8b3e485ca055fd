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
	// Phase of the Job.
	Phase JobPhase
	// Failure says why a failed Job failed: the reason and message of its Failed condition.
	Failure string
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
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			record.Phase = JobSucceeded
		case batchv1.JobFailed:
			record.Phase = JobFailed
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
	// Prune lists old Jobs to delete, whatever the verdict: all but the newest Keep of each
	// pipeline, never a running one. Sorted by name.
	Prune []string
}

// Decide says what to do next with a workflow (see the Verdicts). A running Job is always waited
// for, whatever else changed: a spec change or a manual reconciliation takes effect when it has
// finished, with a new run from pipeline 0. A failed run stays failed until one of those.
func Decide(s State) Decision {
	d := decide(s)
	d.Prune = prune(s)
	return d
}

// decide is Decide without the pruning.
func decide(s State) Decision {
	if len(s.Pipelines) == 0 {
		return Decision{Verdict: Finish}
	}
	position := positions(s.Pipelines)
	jobs := newestFirst(s.Jobs, position)
	for _, j := range jobs {
		if j.Phase == JobRunning {
			return Decision{Verdict: Wait, Job: j.Name}
		}
	}
	if len(jobs) == 0 {
		return Decision{Verdict: Start, Cause: CauseFirstRun, Pipeline: 0, Run: 1}
	}
	latest := jobs[0]
	newRun := maxRun(jobs) + 1
	at, known := position[latest.Pipeline]
	switch {
	case s.ManualReconciliation:
		return Decision{Verdict: Start, Cause: CauseManualReconciliation, Pipeline: 0, Run: newRun}
	case latest.Hash != s.Hash || !known:
		return Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: newRun}
	case latest.Phase == JobFailed:
		return Decision{Verdict: Fail, Job: latest.Name, Failure: failureOrDefault(latest)}
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

// prune returns the Jobs beyond the newest Keep of each pipeline, sparing running ones.
func prune(s State) []string {
	keep := s.Keep
	if keep <= 0 {
		keep = DefaultKeepJobs
	}
	kept := map[string]int{}
	var names []string
	for _, j := range newestFirst(s.Jobs, positions(s.Pipelines)) {
		kept[j.Pipeline]++
		if kept[j.Pipeline] > keep && j.Phase != JobRunning {
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
