package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/pipeline"
)

func TestSetResourceConditions(t *testing.T) {
	ready := workState{name: "w", ready: true}
	pending := workState{name: "w", reason: v1alpha1.ReasonNoMatchingDestination, message: "no Destination matches"}
	tests := []struct {
		name  string
		facts resourceFacts
		want  map[string]wantCondition
	}{
		{
			name:  "running",
			facts: resourceFacts{decision: pipeline.Decision{Verdict: pipeline.Wait, Job: "job-1"}, worksObserved: true},
			want: map[string]wantCondition{
				v1alpha1.ConditionConfigureWorkflowCompleted: {metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress, "job-1"},
				v1alpha1.ConditionReady:                      {metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress, "running"},
				v1alpha1.ConditionReconciled:                 {metav1.ConditionFalse, v1alpha1.ReasonReconciling, ""},
			},
		},
		{
			name:  "failed",
			facts: resourceFacts{decision: pipeline.Decision{Verdict: pipeline.Fail, Failure: "BackoffLimitExceeded: exit 1"}, worksObserved: true},
			want: map[string]wantCondition{
				v1alpha1.ConditionConfigureWorkflowCompleted: {metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed, "exit 1"},
				v1alpha1.ConditionReady:                      {metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed, "failed"},
				v1alpha1.ConditionReconciled:                 {metav1.ConditionFalse, v1alpha1.ReasonFailed, ""},
			},
		},
		{
			name:  "invalid workflow",
			facts: resourceFacts{invalid: errors.New("volume name \"input\" is reserved"), worksObserved: true},
			want: map[string]wantCondition{
				v1alpha1.ConditionConfigureWorkflowCompleted: {metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed, "reserved"},
				v1alpha1.ConditionReady:                      {metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed, "cannot run"},
			},
		},
		{
			name:  "finished, Work pending",
			facts: resourceFacts{decision: pipeline.Decision{Verdict: pipeline.Finish}, worksObserved: true, works: []workState{ready, pending}},
			want: map[string]wantCondition{
				v1alpha1.ConditionConfigureWorkflowCompleted: {metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully, ""},
				v1alpha1.ConditionWorksSucceeded:             {metav1.ConditionFalse, v1alpha1.ReasonWorksPending, "no Destination matches"},
				v1alpha1.ConditionReady:                      {metav1.ConditionFalse, v1alpha1.ReasonWorksPending, "NoMatchingDestination"},
			},
		},
		{
			name:  "finished and written",
			facts: resourceFacts{decision: pipeline.Decision{Verdict: pipeline.Finish}, worksObserved: true, works: []workState{ready}},
			want: map[string]wantCondition{
				v1alpha1.ConditionWorksSucceeded: {metav1.ConditionTrue, v1alpha1.ReasonWorksSucceeded, "1 Works"},
				v1alpha1.ConditionReconciled:     {metav1.ConditionTrue, v1alpha1.ReasonReconciled, ""},
				v1alpha1.ConditionReady:          {metav1.ConditionTrue, v1alpha1.ReasonReconciled, ""},
			},
		},
		{
			name:  "paused",
			facts: resourceFacts{paused: true},
			want: map[string]wantCondition{
				v1alpha1.ConditionReconciled: {metav1.ConditionFalse, v1alpha1.ReasonPaused, v1alpha1.LabelPaused},
			},
		},
		{
			name:  "deleting",
			facts: resourceFacts{deleting: true, worksLeft: 2},
			want: map[string]wantCondition{
				v1alpha1.ConditionReady: {metav1.ConditionFalse, v1alpha1.ReasonReconciling, "2 Works"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conds []metav1.Condition
			setResourceConditions(&conds, tt.facts)
			for condType, want := range tt.want {
				checkCondition(t, conds, condType, want)
			}
			if tt.facts.paused && meta.FindStatusCondition(conds, v1alpha1.ConditionReady) != nil {
				t.Error("a paused request got a Ready condition")
			}
		})
	}
}

// The engine's status fields survive a round trip through an unstructured object, next to the
// fields a pipeline wrote.
func TestUnstructuredStatus(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"message": "rendered", "url": "https://x"}}}
	conds := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Reconciled", LastTransitionTime: metav1.Now()}}
	if err := conditions.ToUnstructured(obj, conds); err != nil {
		t.Fatal(err)
	}
	if err := setResourceOutputs(obj, []resourceOutput{{Destination: "dev", Path: "dev/resources/x", Version: "abc"}}); err != nil {
		t.Fatal(err)
	}
	got, err := conditions.FromUnstructured(obj)
	if err != nil || len(got) != 1 || got[0].Reason != "Reconciled" {
		t.Errorf("conditions %v, %v", got, err)
	}
	if url, _, _ := unstructured.NestedString(obj.Object, "status", "url"); url != "https://x" {
		t.Errorf("a pipeline's field was lost: %v", obj.Object["status"])
	}
	setResourceMessage(obj, resourceFacts{})
	if msg, _, _ := unstructured.NestedString(obj.Object, "status", "message"); msg != "rendered" {
		t.Errorf("the pipeline's message was replaced: %q", msg)
	}
	if err := setResourceOutputs(obj, nil); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedSlice(obj.Object, "status", "kratix", "outputs"); found {
		t.Error("outputs left after the last one went")
	}
}

// A pipeline that a reconcile started reads as running, word for word, so that the next
// reconcile, which sees its Job running, has no status to write.
func TestStartedPipelineReadsAsRunning(t *testing.T) {
	var started, running []metav1.Condition
	setResourceConditions(&started, resourceFacts{decision: pipeline.Decision{Verdict: pipeline.Start, Job: "job-1"}})
	setResourceConditions(&running, resourceFacts{decision: pipeline.Decision{Verdict: pipeline.Wait, Job: "job-1"}})
	if len(running) == 0 {
		t.Fatal("a running pipeline sets no conditions: nothing to compare")
	}
	if conditionTypes(started) != conditionTypes(running) {
		t.Errorf("condition types: started %s, running %s", conditionTypes(started), conditionTypes(running))
	}
	named := false
	for _, c := range running {
		got := meta.FindStatusCondition(started, c.Type)
		if got == nil || got.Status != c.Status || got.Reason != c.Reason || got.Message != c.Message {
			t.Errorf("%s: started %+v, running %+v", c.Type, got, c)
		}
		named = named || strings.Contains(c.Message, "job-1")
	}
	if !named {
		t.Errorf("no condition of a running pipeline names its Job job-1: %+v", running)
	}
}

// conditionTypes lists the conditions' types in order: the order counts, as a reordered list is a
// status write too.
func conditionTypes(conds []metav1.Condition) string {
	types := make([]string, len(conds))
	for i, c := range conds {
		types[i] = c.Type
	}
	return "[" + strings.Join(types, ", ") + "]"
}

// A re-run of a Ready request leaves its status alone while it queues, for its first delay of
// running and for delay while its output is placed; anything else is written at once.
func TestHeldFor(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const delay = 10 * time.Second
	cond := func(status metav1.ConditionStatus, reason string, gen int64) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: status, Reason: reason, ObservedGeneration: gen}}
	}
	ready := cond(metav1.ConditionTrue, v1alpha1.ReasonReconciled, 2)
	running := cond(metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress, 2)
	placing := cond(metav1.ConditionFalse, v1alpha1.ReasonWorksPending, 2)
	wait := func(since time.Duration) resourceFacts {
		f := resourceFacts{generation: 2, decision: pipeline.Decision{Verdict: pipeline.Wait, Job: "j"}}
		if since > 0 {
			f.decision.Since = now.Add(-since)
		}
		return f
	}
	tests := []struct {
		name          string
		before, after []metav1.Condition
		facts         resourceFacts
		delay         time.Duration
		// want is how long the status is held; -1 while a watched change (the Job's start)
		// brings the reconcile back.
		want time.Duration
	}{
		{"a new run of a Ready request, its Job queued", ready, running, resourceFacts{generation: 2, decision: pipeline.Decision{Verdict: pipeline.Start, Cause: pipeline.CauseSpecChanged}}, delay, -1},
		{"running for 3s", ready, running, wait(3 * time.Second), delay, 7 * time.Second},
		{"running for 12s: written", ready, running, wait(12 * time.Second), delay, 0},
		{"its output placed for 4s", ready, placing, resourceFacts{generation: 2, decision: pipeline.Decision{Verdict: pipeline.Finish, Since: now.Add(-4 * time.Second)}}, delay, 6 * time.Second},
		{"the outcome: written", ready, ready, wait(3 * time.Second), delay, 0},
		{"a failure: written", ready, cond(metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed, 2), wait(3 * time.Second), delay, 0},
		{"a suspension: written", ready, cond(metav1.ConditionFalse, v1alpha1.ReasonWorkflowSuspended, 2), wait(3 * time.Second), delay, 0},
		{"a change of the request's spec: written", cond(metav1.ConditionTrue, v1alpha1.ReasonReconciled, 1), running, wait(3 * time.Second), delay, 0},
		{"a request that was not Ready: written", cond(metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed, 2), running, wait(3 * time.Second), delay, 0},
		{"a new request: written", nil, running, wait(0), delay, 0},
		{"no delay: written", ready, running, wait(3 * time.Second), -1, 0},
		{"deleting: written", ready, running, func() resourceFacts { f := wait(3 * time.Second); f.deleting = true; return f }(), delay, 0},
		{"invalid: written", ready, running, func() resourceFacts { f := wait(3 * time.Second); f.invalid = errors.New("bad"); return f }(), delay, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, until := heldFor(tt.before, tt.after, tt.facts, tt.delay, now)
			switch {
			case tt.want == -1 && (!held || until != 0):
				t.Errorf("heldFor = %t, %s; want held until the Job's start", held, until)
			case tt.want == 0 && held:
				t.Errorf("heldFor = held for %s; want written", until)
			case tt.want > 0 && (!held || until != tt.want):
				t.Errorf("heldFor = %t, %s; want held for %s", held, until, tt.want)
			}
		})
	}
}
