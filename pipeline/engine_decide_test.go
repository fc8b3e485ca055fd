package pipeline

import (
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

const (
	oldHash = "0123456789abcdef0123456789abcdef"
	newHash = "fedcba9876543210fedcba9876543210"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// rec is a JobRecord created at second s after epoch.
func rec(name, pipeline, hash string, run, s int, phase JobPhase) JobRecord {
	return JobRecord{Name: name, Pipeline: pipeline, Hash: hash, Run: run, Created: epoch.Add(time.Duration(s) * time.Second), Phase: phase}
}

func failed(r JobRecord, why string) JobRecord {
	r.Phase, r.Failure = JobFailed, why
	return r
}

func pipelinesNamed(names ...string) []v1alpha1.Pipeline {
	out := make([]v1alpha1.Pipeline, len(names))
	for i, n := range names {
		out[i].Metadata.Name = n
	}
	return out
}

// TestDecide covers every verdict of the workflow engine.
func TestDecide(t *testing.T) {
	abc := pipelinesNamed("a", "b", "c")
	tests := []struct {
		name   string
		state  State
		want   Decision
		before func(t *testing.T) State // builds state from fixtures when set
	}{
		{
			name:  "no Job yet: start pipeline 0 in run 1",
			state: State{Pipelines: abc, Hash: newHash},
			want:  Decision{Verdict: Start, Cause: CauseFirstRun, Pipeline: 0, Run: 1},
		},
		{
			name:  "a Job runs: wait for it",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{rec("a1", "a", newHash, 1, 0, JobRunning)}},
			want:  Decision{Verdict: Wait, Job: "a1"},
		},
		{
			name:  "pipeline 0 completed for the current spec: start pipeline 1 in the same run",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{rec("a1", "a", newHash, 1, 0, JobSucceeded)}},
			want:  Decision{Verdict: Start, Cause: CauseNextPipeline, Pipeline: 1, Run: 1},
		},
		{
			name: "pipelines 0 and 1 completed: start pipeline 2",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("b1", "b", newHash, 1, 5, JobSucceeded), rec("a1", "a", newHash, 1, 0, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseNextPipeline, Pipeline: 2, Run: 1},
		},
		{
			name: "every pipeline completed for the current spec: finish",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), rec("b1", "b", newHash, 1, 5, JobSucceeded), rec("c1", "c", newHash, 1, 9, JobSucceeded),
			}},
			want: Decision{Verdict: Finish},
		},
		{
			name: "the spec changed since the last run: start pipeline 0 in a new run",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a1", "a", oldHash, 1, 0, JobSucceeded), rec("b1", "b", oldHash, 1, 5, JobSucceeded), rec("c1", "c", oldHash, 1, 9, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: 2},
		},
		{
			name: "the spec changed while a Job runs: wait for it first",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a1", "a", oldHash, 1, 0, JobSucceeded), rec("b1", "b", oldHash, 1, 5, JobRunning),
			}},
			want: Decision{Verdict: Wait, Job: "b1"},
		},
		{
			name: "the Job that ran during the spec change finished: restart from pipeline 0",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a1", "a", oldHash, 1, 0, JobSucceeded), rec("b1", "b", oldHash, 1, 5, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: 2},
		},
		{
			name: "a Job failed: stop, naming it and why",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), failed(rec("b1", "b", newHash, 1, 5, JobFailed), "BackoffLimitExceeded: Job has reached the specified backoff limit"),
			}},
			want: Decision{Verdict: Fail, Job: "b1", Failure: "BackoffLimitExceeded: Job has reached the specified backoff limit", FailedAt: epoch.Add(5 * time.Second)},
		},
		{
			name:  "a Job failed without a reason: still named",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{failed(rec("a1", "a", newHash, 1, 0, JobFailed), "")}},
			want:  Decision{Verdict: Fail, Job: "a1", Failure: "Job a1 failed", FailedAt: epoch},
		},
		{
			name: "a failure, then manual reconciliation: start pipeline 0 in a new run",
			state: State{Pipelines: abc, Hash: newHash, ManualReconciliation: true, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), failed(rec("b1", "b", newHash, 1, 5, JobFailed), "DeadlineExceeded"),
			}},
			want: Decision{Verdict: Start, Cause: CauseManualReconciliation, Pipeline: 0, Run: 2},
		},
		{
			name: "a failure, then a spec change: start pipeline 0 in a new run",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				failed(rec("a1", "a", oldHash, 1, 0, JobFailed), "BackoffLimitExceeded"),
			}},
			want: Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: 2},
		},
		{
			name: "manual reconciliation after a completed run: start again",
			state: State{Pipelines: abc, Hash: newHash, ManualReconciliation: true, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), rec("b1", "b", newHash, 1, 5, JobSucceeded), rec("c1", "c", newHash, 1, 9, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseManualReconciliation, Pipeline: 0, Run: 2},
		},
		{
			name:  "manual reconciliation while a Job runs: wait for it first",
			state: State{Pipelines: abc, Hash: newHash, ManualReconciliation: true, Jobs: []JobRecord{rec("a1", "a", newHash, 1, 0, JobRunning)}},
			want:  Decision{Verdict: Wait, Job: "a1"},
		},
		{
			name: "a new run started within the second the last one finished: its Jobs are the latest",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), rec("b1", "b", newHash, 1, 0, JobSucceeded), rec("c1", "c", newHash, 1, 0, JobSucceeded),
				rec("a2", "a", newHash, 2, 0, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseNextPipeline, Pipeline: 1, Run: 2},
		},
		{
			name: "two pipelines of a run created within one second: the later pipeline is the latest",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("zz-b", "b", newHash, 3, 0, JobSucceeded), rec("zz-a", "a", newHash, 3, 0, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseNextPipeline, Pipeline: 2, Run: 3},
		},
		{
			name: "a new run's number follows the highest that exists",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a8", "a", oldHash, 8, 50, JobSucceeded), rec("a7", "a", oldHash, 7, 40, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: 9},
		},
		{
			name: "the latest Job is of a pipeline the workflow no longer has: start again, pruning it",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), rec("gone1", "gone", newHash, 1, 5, JobSucceeded),
			}},
			want: Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: 2, Prune: []string{"gone1"}},
		},
		{
			name:  "Jobs without run numbers are ordered by creation time",
			state: State{Pipelines: abc, Hash: newHash, Jobs: []JobRecord{rec("c0", "c", newHash, 0, 0, JobSucceeded), rec("a0", "a", newHash, 0, 60, JobSucceeded)}},
			want:  Decision{Verdict: Start, Cause: CauseNextPipeline, Pipeline: 1, Run: 1},
		},
		{
			name:  "a workflow without pipelines has nothing to do",
			state: State{Hash: newHash},
			want:  Decision{Verdict: Finish},
		},
		{
			name: "a delete workflow runs its first pipeline only",
			before: func(t *testing.T) State {
				p := testPromise(t)
				pipelines, err := resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")).Pipelines()
				if err != nil {
					t.Fatal(err)
				}
				return State{Pipelines: pipelines, Hash: newHash, Jobs: []JobRecord{rec("d1", "instance-delete", newHash, 1, 0, JobSucceeded)}}
			},
			want: Decision{Verdict: Finish},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := tt.state
			if tt.before != nil {
				state = tt.before(t)
			}
			got := Decide(state)
			got.Since = time.Time{} // TestDecideSince
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDecideSince: a decision knows when the run it is about began, which the request's status
// uses to leave a short re-run unwritten.
func TestDecideSince(t *testing.T) {
	abc := pipelinesNamed("a", "b", "c")
	now := epoch.Add(time.Hour)
	// started is a Job that started running s seconds after its creation.
	started := func(r JobRecord, s int) JobRecord {
		r.Started = r.Created.Add(time.Duration(s) * time.Second)
		if r.Phase != JobRunning {
			r.Finished = r.Started.Add(3 * time.Second)
		}
		return r
	}
	tests := []struct {
		name string
		jobs []JobRecord
		want time.Time
	}{
		{"a first run has not started", nil, time.Time{}},
		{"a run waited for began with its first Job's start", []JobRecord{
			started(rec("a1", "a", oldHash, 1, 0, JobSucceeded), 1), started(rec("a2", "a", newHash, 2, 10, JobSucceeded), 5), started(rec("b2", "b", newHash, 2, 20, JobRunning), 1),
		}, epoch.Add(15 * time.Second)},
		{"a Job that waits to start has not started its run", []JobRecord{
			started(rec("a1", "a", oldHash, 1, 0, JobSucceeded), 1), rec("a2", "a", newHash, 2, 10, JobRunning),
		}, time.Time{}},
		{"the next pipeline continues its run", []JobRecord{
			started(rec("a1", "a", newHash, 1, 0, JobSucceeded), 1), started(rec("a2", "a", newHash, 2, 10, JobSucceeded), 1), started(rec("b2", "b", newHash, 2, 20, JobSucceeded), 1),
		}, epoch.Add(11 * time.Second)},
		{"a spec change starts a new run, not started yet", []JobRecord{
			started(rec("a1", "a", oldHash, 1, 0, JobSucceeded), 1), started(rec("b1", "b", oldHash, 1, 5, JobSucceeded), 1), started(rec("c1", "c", oldHash, 1, 9, JobSucceeded), 1),
		}, time.Time{}},
		{"a finished run: the end of its last Job", []JobRecord{
			started(rec("a1", "a", newHash, 1, 0, JobSucceeded), 2), started(rec("b1", "b", newHash, 1, 5, JobSucceeded), 1), started(rec("c1", "c", newHash, 1, 9, JobSucceeded), 1),
		}, epoch.Add(13 * time.Second)},
		{"a failed run too", []JobRecord{
			started(rec("a1", "a", newHash, 1, 0, JobSucceeded), 1), started(rec("a2", "a", newHash, 2, 30, JobSucceeded), 1), started(failed(rec("b2", "b", newHash, 2, 40, JobFailed), "boom"), 1),
		}, epoch.Add(44 * time.Second)},
		{"a run whose Jobs are gone ended when its last record says", Recorded([]v1alpha1.WorkflowPipelineStatus{
			{Name: "a", Phase: v1alpha1.WorkflowPhaseSucceeded, Hash: newHash, Run: 4, LastTransitionTime: &metav1.Time{Time: epoch}},
			{Name: "b", Phase: v1alpha1.WorkflowPhaseSucceeded, Hash: newHash, Run: 4, LastTransitionTime: &metav1.Time{Time: epoch.Add(time.Second)}},
			{Name: "c", Phase: v1alpha1.WorkflowPhaseSucceeded, Hash: newHash, Run: 4, LastTransitionTime: &metav1.Time{Time: epoch.Add(2 * time.Second)}},
		}), epoch.Add(2 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(State{Pipelines: abc, Hash: newHash, Jobs: tt.jobs, Now: now})
			if !d.Since.Equal(tt.want) {
				t.Errorf("Decide(...).Since = %s (verdict %s), want %s", d.Since, d.Verdict, tt.want)
			}
		})
	}
}

// TestDecideRunThroughAWorkflow drives the engine as a controller would, creating the Jobs it
// asks for, with a spec change in the middle of a run.
func TestDecideRunThroughAWorkflow(t *testing.T) {
	abc := pipelinesNamed("a", "b", "c")
	var jobs []JobRecord
	step := func(hash string, finish JobPhase) Decision {
		t.Helper()
		d := Decide(State{Pipelines: abc, Hash: hash, Jobs: jobs})
		if d.Verdict == Start {
			// Every Job of this test is created in the same second, as with a fast local runner.
			jobs = append(jobs, rec(abc[d.Pipeline].Metadata.Name+"-"+string(rune('0'+d.Run)), abc[d.Pipeline].Metadata.Name, hash, d.Run, 0, JobRunning))
			if finish != JobRunning {
				jobs[len(jobs)-1].Phase = finish
			}
		}
		return d
	}
	want := func(d Decision, verdict Verdict, pipeline, run int) {
		t.Helper()
		if d.Verdict != verdict || (verdict == Start && (d.Pipeline != pipeline || d.Run != run)) {
			t.Fatalf("got %+v, want %s pipeline %d run %d", d, verdict, pipeline, run)
		}
	}
	want(step(oldHash, JobSucceeded), Start, 0, 1)
	want(step(oldHash, JobRunning), Start, 1, 1)
	// The spec changes while b runs: wait, then restart from a.
	want(step(newHash, JobRunning), Wait, 0, 0)
	jobs[len(jobs)-1].Phase = JobSucceeded
	want(step(newHash, JobSucceeded), Start, 0, 2)
	want(step(newHash, JobSucceeded), Start, 1, 2)
	want(step(newHash, JobSucceeded), Start, 2, 2)
	want(step(newHash, JobSucceeded), Finish, 0, 0)
}

// TestDecidePrunes keeps the newest Jobs of each pipeline.
func TestDecidePrunes(t *testing.T) {
	ab := pipelinesNamed("a", "b")
	var sevenRuns []JobRecord
	for run := 1; run <= 7; run++ {
		sevenRuns = append(sevenRuns, rec("a"+string(rune('0'+run)), "a", newHash, run, run, JobSucceeded))
	}
	tests := []struct {
		name string
		keep int
		jobs []JobRecord
		want []string
	}{
		{name: "five Jobs per pipeline by default", jobs: sevenRuns, want: []string{"a1", "a2"}},
		{name: "a configured number", keep: 2, jobs: sevenRuns, want: []string{"a1", "a2", "a3", "a4", "a5"}},
		{name: "nothing when within the limit", keep: 7, jobs: sevenRuns},
		{
			name: "counted per pipeline; a removed pipeline's Jobs all go",
			keep: 1,
			jobs: []JobRecord{
				rec("a1", "a", oldHash, 1, 0, JobSucceeded), rec("b1", "b", oldHash, 1, 1, JobSucceeded),
				rec("a2", "a", newHash, 2, 2, JobSucceeded), rec("b2", "b", newHash, 2, 3, JobSucceeded),
				rec("gone1", "gone", oldHash, 1, 0, JobSucceeded),
			},
			want: []string{"a1", "b1", "gone1"},
		},
		{
			name: "never a running Job",
			keep: 1,
			jobs: []JobRecord{rec("a1", "a", oldHash, 1, 0, JobRunning), rec("a2", "a", newHash, 2, 9, JobSucceeded), rec("a3", "a", newHash, 3, 9, JobFailed)},
			want: []string{"a2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(State{Pipelines: ab, Hash: newHash, Jobs: tt.jobs, Keep: tt.keep}).Prune
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("prune %v, want %v", got, tt.want)
			}
		})
	}
}

// TestObserveJob reads what the engine needs from a Job as Kubernetes reports it.
func TestObserveJob(t *testing.T) {
	job := func(conditions ...batchv1.JobCondition) *batchv1.Job {
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				Name:              "kratix-redis-cache-a-1234abcd",
				CreationTimestamp: metav1.NewTime(epoch),
				Labels:            map[string]string{v1alpha1.LabelPipelineName: "a", v1alpha1.LabelHash: newHash, v1alpha1.LabelWorkflowRun: "3"},
			},
			Status: batchv1.JobStatus{Conditions: conditions},
		}
	}
	base := JobRecord{Name: "kratix-redis-cache-a-1234abcd", Pipeline: "a", Hash: newHash, Run: 3, Created: epoch}
	with := func(phase JobPhase, failure string) JobRecord {
		r := base
		r.Phase, r.Failure = phase, failure
		return r
	}
	tests := []struct {
		name string
		job  *batchv1.Job
		want JobRecord
	}{
		{"no conditions: running", job(), with(JobRunning, "")},
		{"complete", job(batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}), with(JobSucceeded, "")},
		{"failure decided but pods still terminating: running", job(batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue}), with(JobRunning, "")},
		{
			"failed",
			job(batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}),
			with(JobFailed, "BackoffLimitExceeded: Job has reached the specified backoff limit"),
		},
		{"a False condition is no verdict", job(batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionFalse}), with(JobRunning, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ObserveJob(tt.job); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ObserveJob = %+v, want %+v", got, tt.want)
			}
		})
	}
	unlabelled := job()
	delete(unlabelled.Labels, v1alpha1.LabelWorkflowRun)
	if got := ObserveJob(unlabelled).Run; got != 0 {
		t.Errorf("a Job without a run number has run %d, want 0", got)
	}
}

// TestBuildJobObservedByDecide: a built Job, once observed, is recognised by the engine as the
// run and pipeline it was built for.
func TestBuildJobObservedByDecide(t *testing.T) {
	p := testPromise(t)
	w := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
	pipelines, err := w.Pipelines()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := SpecHash(p, w.Object)
	if err != nil {
		t.Fatal(err)
	}
	d := Decide(State{Pipelines: pipelines, Hash: hash})
	job := mustJob(t, w, d.Pipeline, d.Run, Options{})
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	next := Decide(State{Pipelines: pipelines, Hash: hash, Jobs: []JobRecord{ObserveJob(job)}})
	next.Since = time.Time{} // TestDecideSince
	if want := (Decision{Verdict: Start, Cause: CauseNextPipeline, Pipeline: 1, Run: 1}); !reflect.DeepEqual(next, want) {
		t.Errorf("after the first Job completed: %+v, want %+v", next, want)
	}
}

// A pipeline that suspends the workflow stops it until the label goes or its retry is due; the
// progress recorded in status stands in for pruned Jobs.
func TestDecideWorkflowControl(t *testing.T) {
	abc := pipelinesNamed("a", "b", "c")
	suspended := func(r JobRecord, retryAt time.Time) JobRecord {
		r.Suspended, r.Message, r.RetryAt = true, "waiting", retryAt
		return r
	}
	now := epoch.Add(time.Minute)
	for _, tt := range []struct {
		name  string
		state State
		want  Decision
	}{
		{
			name: "suspended by pipeline b, labelled: wait",
			state: State{Pipelines: abc, Hash: newHash, SuspendLabel: true, Now: now, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), suspended(rec("b1", "b", newHash, 1, 5, JobSucceeded), time.Time{}),
			}},
			want: Decision{Verdict: Suspend, Pipeline: 1, Job: "b1", Message: "waiting"},
		},
		{
			name: "retry not due yet: wait until it is",
			state: State{Pipelines: abc, Hash: newHash, SuspendLabel: true, Now: now, Jobs: []JobRecord{
				suspended(rec("a1", "a", newHash, 1, 0, JobSucceeded), now.Add(time.Second)),
			}},
			want: Decision{Verdict: Suspend, Pipeline: 0, Job: "a1", Message: "waiting", RetryAt: now.Add(time.Second)},
		},
		{
			name: "retry due: the same pipeline runs again in a new run",
			state: State{Pipelines: abc, Hash: newHash, SuspendLabel: true, Now: now, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), suspended(rec("b1", "b", newHash, 1, 5, JobSucceeded), now),
			}},
			want: Decision{Verdict: Start, Cause: CauseRetry, Pipeline: 1, Run: 2},
		},
		{
			name: "label removed: resume at the suspending pipeline",
			state: State{Pipelines: abc, Hash: newHash, Now: now, Jobs: []JobRecord{
				rec("a1", "a", newHash, 1, 0, JobSucceeded), suspended(rec("b1", "b", newHash, 1, 5, JobSucceeded), time.Time{}),
			}},
			want: Decision{Verdict: Start, Cause: CauseResume, Pipeline: 1, Run: 2},
		},
		{
			name: "spec changed while suspended: from the start",
			state: State{Pipelines: abc, Hash: newHash, SuspendLabel: true, Now: now, Jobs: []JobRecord{
				suspended(rec("a1", "a", oldHash, 1, 0, JobSucceeded), time.Time{}),
			}},
			want: Decision{Verdict: Start, Cause: CauseSpecChanged, Pipeline: 0, Run: 2},
		},
		{
			name: "manual reconciliation while suspended: from the start",
			state: State{Pipelines: abc, Hash: newHash, SuspendLabel: true, ManualReconciliation: true, Now: now, Jobs: []JobRecord{
				suspended(rec("a1", "a", newHash, 1, 0, JobSucceeded), time.Time{}),
			}},
			want: Decision{Verdict: Start, Cause: CauseManualReconciliation, Pipeline: 0, Run: 2},
		},
		{
			name: "labelled by hand: nothing starts, even for a new spec",
			state: State{Pipelines: abc, Hash: newHash, SuspendLabel: true, Now: now, Jobs: []JobRecord{
				rec("a1", "a", oldHash, 1, 0, JobSucceeded),
			}},
			want: Decision{Verdict: Suspend},
		},
		{
			name: "a failure as old as RetryFailedAfter: from the start",
			state: State{Pipelines: abc, Hash: newHash, RetryFailedAfter: time.Minute, Now: now, Jobs: []JobRecord{
				failed(rec("a1", "a", newHash, 1, 0, JobFailed), "boom"),
			}},
			want: Decision{Verdict: Start, Cause: CauseRetryAfterFailure, Pipeline: 0, Run: 2},
		},
		{
			name: "Jobs pruned: the recorded progress finishes the workflow",
			state: State{Pipelines: abc, Hash: newHash, Now: now, Jobs: Recorded([]v1alpha1.WorkflowPipelineStatus{
				{Name: "a", Phase: v1alpha1.WorkflowPhaseSucceeded, Hash: newHash, Run: 1},
				{Name: "b", Phase: v1alpha1.WorkflowPhaseSucceeded, Hash: newHash, Run: 1},
				{Name: "c", Phase: v1alpha1.WorkflowPhaseSucceeded, Hash: newHash, Run: 1},
			})},
			want: Decision{Verdict: Finish},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.state)
			got.Since = time.Time{} // TestDecideSince
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}
