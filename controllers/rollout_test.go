package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/internal/testenv"
)

// versionedRender writes a ConfigMap named after the request whose data says which version of
// the pipeline rendered it.
func versionedRender(version string) string {
	return renderScript + fmt.Sprintf("\nprintf 'data:\\n  version: %s\\n' >> /kratix/output/configmap.yaml", version)
}

// rolloutWait bounds the wait for a rollout to reach a phase.
const rolloutWait = 2 * time.Minute

// failingRender is a pipeline that fails for every request.
const failingRender = "echo 'the new template is broken' >&2; exit 3"

// rolloutPromise is a workflowPromise with a rollout policy.
func rolloutPromise(t *testing.T, policy map[string]string) (*v1alpha1.Promise, string) {
	t.Helper()
	promise, group := workflowPromise(t, versionedRender("v1"))
	promise.Annotations = policy
	return promise, group
}

// setRender changes the Promise's resource configure pipeline.
func setRender(t *testing.T, promise *v1alpha1.Promise, script string) {
	t.Helper()
	update(t, promise, func(p *v1alpha1.Promise) {
		p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Args = []string{script}
	})
}

// waitForRollout waits until the Promise's rollout is in the phase and returns it.
func waitForRollout(t *testing.T, promise *v1alpha1.Promise, phase string, check func(*v1alpha1.RolloutStatus) error) *v1alpha1.RolloutStatus {
	t.Helper()
	var got *v1alpha1.RolloutStatus
	// A rollout is several pipeline runs one batch after another: more than waitFor's time.
	testenv.Eventually(t, "rollout "+phase, rolloutWait, 100*time.Millisecond, func() error {
		p := &v1alpha1.Promise{}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(promise), p); err != nil {
			return err
		}
		got = p.Status.Rollout
		switch {
		case got == nil:
			return fmt.Errorf("no rollout in the status")
		case got.ToSpecHash != p.Status.Rollout.ToSpecHash || got.Phase != phase:
			return fmt.Errorf("rollout %s: %s", got.Phase, got.Message)
		case check != nil:
			return check(got)
		}
		return nil
	})
	return got
}

// workContents maps each request to the workloads of its Works, as the pipeline wrote them.
func workContents(t *testing.T, promise string, requests []*unstructured.Unstructured) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range requests {
		var parts []string
		for _, wl := range requestWorkloads(t, promise, r) {
			data, err := v1alpha1.DecodeContent(wl.Content)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, wl.Filepath+"="+string(data))
		}
		slices.Sort(parts)
		out[r.GetName()] = strings.Join(parts, ";")
	}
	return out
}

// requestWorkloads lists the workloads of the request's Works.
func requestWorkloads(t *testing.T, promise string, obj *unstructured.Unstructured) []v1alpha1.Workload {
	t.Helper()
	works, err := ResourceWorks(t.Context(), env.Client, promise, obj)
	if err != nil {
		t.Fatal(err)
	}
	var out []v1alpha1.Workload
	for _, w := range works {
		for _, g := range w.Spec.WorkloadGroups {
			out = append(out, g.Workloads...)
		}
	}
	return out
}

// requestJobCounts counts the Jobs of the requests' configure workflows.
func requestJobCounts(t *testing.T, promise string, requests []*unstructured.Unstructured) map[string]int {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.MatchingLabels{v1alpha1.LabelPromiseName: promise, v1alpha1.LabelWorkflowAction: v1alpha1.WorkflowActionConfigure, v1alpha1.LabelWorkflowType: v1alpha1.WorkflowTypeResource}); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range requests {
		out[r.GetName()] = 0
	}
	for _, j := range jobs.Items {
		out[j.Labels[v1alpha1.LabelResourceName]]++
	}
	return out
}

// A bad update with a rollout of 2 at a time and a gate of 2 failures stops after the first
// batch: the 4 requests it did not reach run no Job and keep their Works byte for byte, marked
// as waiting; the Promise says why it stopped. Fixing the Promise starts a new rollout that takes
// the failed requests first and completes, with its batches in the status.
func TestRolloutHaltsOnFailuresAndResumesWhenFixed(t *testing.T) {
	startPlatform(t)
	promise, group := rolloutPromise(t, map[string]string{v1alpha1.AnnotationRolloutBatchSize: "2", v1alpha1.AnnotationRolloutMaxFailures: "2"})
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	requests := runThings(t, group, nil, "r-a", "r-b", "r-c", "r-d", "r-e", "r-f")
	v1 := workContents(t, promise.Name, requests)
	jobsBefore := requestJobCounts(t, promise.Name, requests)
	for name, content := range v1 {
		if !strings.Contains(content, "version: v1") {
			t.Fatalf("request %s's Work %q is not v1's", name, content)
		}
	}

	setRender(t, promise, failingRender)
	// The gate may close while the batch still runs: the count follows it to its end.
	halted := waitForRollout(t, promise, v1alpha1.RolloutPhaseHalted, func(ro *v1alpha1.RolloutStatus) error {
		if ro.Failed+ro.Waiting < ro.Total {
			return fmt.Errorf("%d of the batch still running", ro.Total-ro.Failed-ro.Waiting)
		}
		return nil
	})
	if halted.Failed != 2 || halted.Updated != 0 || halted.Waiting != 4 || halted.Total != 6 || halted.Summary != "0/6" {
		t.Errorf("halted rollout: total %d, updated %d, failed %d, waiting %d, summary %q; want 6, 0, 2, 4, 0/6", halted.Total, halted.Updated, halted.Failed, halted.Waiting, halted.Summary)
	}
	if !strings.Contains(halted.Message, "2 failed") || len(halted.Batches) != 1 {
		t.Errorf("message %q, batches %+v: want the reason and one batch", halted.Message, halted.Batches)
	}
	waitForEvent(t, "Promise", promise.Name, corev1.EventTypeWarning, v1alpha1.ReasonRolloutHalted)
	for _, r := range requests[:2] {
		waitForRequest(t, r, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionFalse, v1alpha1.ReasonConfigureWorkflowFailed)
	}
	after := workContents(t, promise.Name, requests)
	jobsAfter := requestJobCounts(t, promise.Name, requests)
	for _, r := range requests[2:] {
		name := r.GetName()
		if after[name] != v1[name] {
			t.Errorf("request %s not reached by the rollout: Work %q, was %q", name, after[name], v1[name])
		}
		if jobsAfter[name] != jobsBefore[name] {
			t.Errorf("request %s not reached by the rollout ran a Job: %d Jobs, were %d", name, jobsAfter[name], jobsBefore[name])
		}
		got := requestCondition(t, r, v1alpha1.ConditionPromiseUpdatePending)
		if got == nil || got.Status != metav1.ConditionTrue || got.Reason != v1alpha1.ReasonRolloutWaiting {
			t.Errorf("request %s: PromiseUpdatePending %+v, want True %s", name, got, v1alpha1.ReasonRolloutWaiting)
		}
		if c := requestCondition(t, r, v1alpha1.ConditionConfigureWorkflowCompleted); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("request %s waiting for the rollout is marked as failed: %+v", name, c)
		}
	}

	setRender(t, promise, versionedRender("v3"))
	done := waitForRollout(t, promise, v1alpha1.RolloutPhaseComplete, nil)
	if done.Updated != 6 || done.Failed != 0 || done.Summary != "6/6" || len(done.Batches) != 3 {
		t.Errorf("complete rollout: updated %d, failed %d, summary %q, %d batches; want 6, 0, 6/6, 3", done.Updated, done.Failed, done.Summary, len(done.Batches))
	}
	for name, content := range workContents(t, promise.Name, requests) {
		if !strings.Contains(content, "version: v3") {
			t.Errorf("request %s's Work %q is not v3's", name, content)
		}
	}
	waitForEvent(t, "Promise", promise.Name, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted)
	waitForPromise(t, promise, v1alpha1.ConditionRolloutComplete, metav1.ConditionTrue, v1alpha1.ReasonRolloutCompleted)
	// The broken spec's baseline is gone; the one the rollout started from stays for an abort.
	waitFor(t, "one baseline revision left", func() error {
		revisions, err := listRevisions(t.Context(), env.Client, promise.Name)
		if err != nil {
			return err
		}
		var baselines []string
		for _, rev := range revisions {
			if rev.Labels[v1alpha1.LabelRolloutBaseline] == v1alpha1.LabelTriggerValue {
				baselines = append(baselines, rev.Labels[v1alpha1.LabelSpecHash])
			}
		}
		if !slices.Equal(baselines, []string{done.FromSpecHash}) {
			return fmt.Errorf("baselines %v, want only the starting spec's %s", baselines, done.FromSpecHash)
		}
		return nil
	})
	for _, r := range requests {
		if c := requestCondition(t, r, v1alpha1.ConditionPromiseUpdatePending); c == nil || c.Status != metav1.ConditionFalse {
			t.Errorf("request %s after the rollout: PromiseUpdatePending %+v, want False", r.GetName(), c)
		}
	}
}

// runThings creates requests of a workflowPromise's API, with the labels given per name, and
// waits until each has run its Configure workflow.
func runThings(t *testing.T, group string, labels map[string]map[string]string, names ...string) []*unstructured.Unstructured {
	t.Helper()
	var requests []*unstructured.Unstructured
	for _, name := range names {
		r := thing(group, name)
		r.SetLabels(labels[name])
		create(t, r)
		requests = append(requests, r)
	}
	for _, r := range requests {
		waitForRequest(t, r, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
	}
	return requests
}

// requestCondition reads a condition of a request from the API server.
func requestCondition(t *testing.T, r *unstructured.Unstructured, condType string) *metav1.Condition {
	t.Helper()
	obj := r.DeepCopy()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(r), obj); err != nil {
		t.Fatal(err)
	}
	conds, err := conditions.FromUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(conds, condType)
}

// A paused rollout starts no batch; resuming it takes the canary first; an abort once it is
// complete sends every request back to the spec the rollout started from.
func TestRolloutPauseCanaryAndAbort(t *testing.T) {
	startPlatform(t)
	promise, group := rolloutPromise(t, map[string]string{v1alpha1.AnnotationRolloutBatchSize: "1", v1alpha1.AnnotationRolloutMaxFailures: "5"})
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	requests := runThings(t, group, map[string]map[string]string{"r-z": {"kratix.io/canary": "true"}}, "r-a", "r-b", "r-z")
	v1 := workContents(t, promise.Name, requests)
	jobs := requestJobCounts(t, promise.Name, requests)

	update(t, promise, func(p *v1alpha1.Promise) {
		p.Annotations[v1alpha1.AnnotationRollout] = v1alpha1.RolloutPaused
		p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Args = []string{versionedRender("v2")}
	})
	paused := waitForRollout(t, promise, v1alpha1.RolloutPhasePaused, nil)
	if paused.Waiting != 3 || len(paused.Batches) != 0 {
		t.Errorf("paused rollout: %d waiting, batches %+v; want 3 and none", paused.Waiting, paused.Batches)
	}
	waitForEvent(t, "Promise", promise.Name, corev1.EventTypeNormal, v1alpha1.ReasonRolloutPaused)
	if got := requestJobCounts(t, promise.Name, requests); !maps.Equal(got, jobs) {
		t.Errorf("a paused rollout ran Jobs: %v, were %v", got, jobs)
	}

	update(t, promise, func(p *v1alpha1.Promise) { delete(p.Annotations, v1alpha1.AnnotationRollout) })
	waitForRollout(t, promise, v1alpha1.RolloutPhaseComplete, nil)
	first := waitForNamespacedEvent(t, "", "Promise", promise.Name, corev1.EventTypeNormal, v1alpha1.ReasonRolloutBatch, func(note string) bool {
		return strings.HasPrefix(note, "batch 1:")
	})
	if !strings.Contains(first.Note, "default/r-z") {
		t.Errorf("the first batch was not the canary: %q", first.Note)
	}
	for name, content := range workContents(t, promise.Name, requests) {
		if !strings.Contains(content, "version: v2") {
			t.Errorf("request %s's Work %q is not v2's", name, content)
		}
	}

	update(t, promise, func(p *v1alpha1.Promise) { p.Annotations[v1alpha1.AnnotationRollout] = v1alpha1.RolloutAbort })
	waitForRollout(t, promise, v1alpha1.RolloutPhaseAborted, nil)
	testenv.Eventually(t, "every request back at v1", rolloutWait, 100*time.Millisecond, func() error {
		got := workContents(t, promise.Name, requests)
		if !maps.Equal(got, v1) {
			return fmt.Errorf("Works %v, want v1's %v", got, v1)
		}
		return nil
	})
}
