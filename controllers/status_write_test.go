package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/metrics"
)

// TestPromiseStatusKeepsWhatTheStatusWriterWrote: the Promise's status is written by the engine
// and by the pipeline's status-writer. A status computed from a copy older than the
// status-writer's write must not replace the conditions list with one that lacks its condition:
// the engine's patch conflicts and the reconcile computes the status again.
func TestPromiseStatusKeepsWhatTheStatusWriterWrote(t *testing.T) {
	ctx := t.Context()
	promise := apiPromise(t, uniqueName("shared-status"), "shared.example.com", "Shared")
	// Paused: a manager that another test left running leaves it alone.
	promise.Labels = map[string]string{v1alpha1.LabelPaused: v1alpha1.LabelTriggerValue}
	if err := env.Client.Create(ctx, promise); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, promise) })
	stale := promise.DeepCopy()

	// The status-writer marks the configure workflow completed.
	written := promise.DeepCopy()
	meta.SetStatusCondition(&written.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionConfigureWorkflowCompleted, Status: metav1.ConditionTrue,
		Reason: v1alpha1.ReasonPipelinesExecutedSuccessfully, Message: "All configure pipelines completed",
	})
	if err := env.Client.Status().Update(ctx, written); err != nil {
		t.Fatal(err)
	}

	// The engine's reconcile worked from the copy read before that write.
	r := &PromiseReconciler{Client: env.Client, Recorder: events.NewFakeRecorder(10)}
	err := r.patchStatus(ctx, stale.DeepCopy(), stale, promiseFacts{paused: true})
	if !errors.Is(err, errStatusConflict) {
		t.Errorf("patchStatus from a stale copy = %v, want the conflict that makes the reconcile run again", err)
	}
	if res, err := afterStatusPatch(ctrl.Result{}, nil, err); err != nil || res.RequeueAfter != conflictRetry {
		t.Errorf("the reconcile's outcome = %+v, %v; want a requeue after %s", res, err, conflictRetry)
	}
	got := &v1alpha1.Promise{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(promise), got); err != nil {
		t.Fatal(err)
	}
	if meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionConfigureWorkflowCompleted) == nil {
		t.Errorf("the status-writer's condition is gone: %+v", got.Status.Conditions)
	}

	// From the current copy the engine's write goes through and keeps the condition.
	if err := r.patchStatus(ctx, got.DeepCopy(), got, promiseFacts{paused: true}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(promise), got); err != nil {
		t.Fatal(err)
	}
	if meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionConfigureWorkflowCompleted) == nil ||
		!meta.IsStatusConditionFalse(got.Status.Conditions, v1alpha1.ConditionReconciled) {
		t.Errorf("conditions after the engine's write: %+v", got.Status.Conditions)
	}
}

// TestWorkTransitionsAreRecordedOnceFromAStaleCopy: a reconcile that runs before the cache has
// caught up with the previous reconcile's status write computes the same transition again. Its
// write must not go through, or the transition's Event and scheduling count are recorded twice.
func TestWorkTransitionsAreRecordedOnceFromAStaleCopy(t *testing.T) {
	// No manager runs: the test plays both reconciles, so that nothing else counts meanwhile.
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	work := newWork(t, ns, "", rootGroup(t, map[string]string{"stale-copy": uniqueName("nowhere")}, namespaceManifest("stale")))
	createWork(t, work)
	stale := work.DeepCopy() // as created: the copy a lagging cache still holds
	recorder := events.NewFakeRecorder(10)
	r := &WorkReconciler{Client: env.Client, Recorder: recorder}
	f := workFacts{planned: true, desired: 1, unscheduled: []unscheduledGroup{{id: work.Spec.WorkloadGroups[0].ID}}}
	unscheduledBefore := schedulingOutcomes(t, metrics.OutcomeUnscheduled)

	// The first reconcile records that the group waits for a Destination.
	if err := r.patchStatus(t.Context(), work.DeepCopy(), work, f, true); err != nil {
		t.Fatal(err)
	}
	eventsBefore := len(recorder.Events)
	if d := schedulingOutcomes(t, metrics.OutcomeUnscheduled) - unscheduledBefore; d != 1 || eventsBefore == 0 {
		t.Fatalf("the first reconcile counted %v unscheduled groups and recorded %d Events, want 1 and some", d, eventsBefore)
	}

	// The next one works from the copy read before that write.
	err := r.patchStatus(t.Context(), stale.DeepCopy(), stale, f, true)
	if !errors.Is(err, errStatusConflict) {
		t.Errorf("patchStatus from a stale copy = %v, want the conflict that makes the reconcile run again", err)
	}
	if n := len(recorder.Events) - eventsBefore; n != 0 {
		t.Errorf("the stale reconcile recorded %d more Events", n)
	}
	if d := schedulingOutcomes(t, metrics.OutcomeUnscheduled) - unscheduledBefore; d != 1 {
		t.Errorf("the transition was counted %v times, want once", d)
	}
}

// A status write sends what changed in the status, guarded by the resourceVersion it was computed
// from, and nothing at all when the two statuses encode alike.
func TestStatusPatch(t *testing.T) {
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Done"}
	for _, tt := range []struct {
		name          string
		before, after any
		want          string
	}{
		{"a condition added", v1alpha1.WorkStatus{}, v1alpha1.WorkStatus{Conditions: []metav1.Condition{ready}},
			`{"metadata":{"resourceVersion":"7"},"status":{"conditions":[{"lastTransitionTime":null,"message":"","reason":"Done","status":"True","type":"Ready"}]}}`},
		{"a field removed from an unstructured status", map[string]any{"message": "old", "kept": "x"}, map[string]any{"kept": "x"},
			`{"metadata":{"resourceVersion":"7"},"status":{"message":null}}`},
		{"a first status", nil, map[string]any{"message": "new"},
			`{"metadata":{"resourceVersion":"7"},"status":{"message":"new"}}`},
		{"the status removed", map[string]any{"message": "old"}, nil,
			`{"metadata":{"resourceVersion":"7"},"status":null}`},
		{"no list and an empty list", v1alpha1.WorkStatus{}, v1alpha1.WorkStatus{Conditions: []metav1.Condition{}}, ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statusPatch("7", tt.before, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("patch %s, want %s", got, tt.want)
			}
		})
	}
}

// writeStatus against the API server: it writes the status and nothing else, tells the caller
// the object's new resourceVersion and leaves the rest of the caller's object as it was, refuses a status computed from a copy that is no longer
// current (the other writer's condition stays), and takes an object already gone as nothing to do.
func TestWriteStatusOnTheAPIServer(t *testing.T) {
	ctx := t.Context()
	if _, err := env.InstallResourceCRD(ctx, "statuswrite.test.example.com", "Thing", "things"); err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("statuswrite.test.example.com/v1")
	obj.SetKind("Thing")
	obj.SetNamespace("default")
	obj.SetName(uniqueName("thing"))
	obj.Object["spec"] = map[string]any{"size": "large"}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	current := func() *unstructured.Unstructured {
		t.Helper()
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(obj.GroupVersionKind())
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	write := func(base *unstructured.Unstructured, status map[string]any) (*unstructured.Unstructured, bool, error) {
		changed := base.DeepCopy()
		changed.Object["spec"] = map[string]any{"size": "changed by the reconcile, not written"}
		changed.Object["status"] = status
		wrote, err := writeStatus(ctx, env.Client, base, changed, base.Object["status"], changed.Object["status"])
		return changed, wrote, err
	}

	first := current()
	written, wrote, err := write(first, map[string]any{"message": "first", "phase": "Running"})
	if err != nil || !wrote {
		t.Fatalf("first write: wrote %t, %v", wrote, err)
	}
	got := current()
	if got.Object["status"].(map[string]any)["message"] != "first" || got.Object["spec"].(map[string]any)["size"] != "large" {
		t.Errorf("after the first write the object is %v", got.Object)
	}
	if size := written.Object["spec"].(map[string]any)["size"]; size != "changed by the reconcile, not written" {
		t.Errorf("the caller's object was replaced by the API server's answer: spec.size %v", size)
	}
	if written.GetResourceVersion() != got.GetResourceVersion() {
		t.Errorf("the written object's resourceVersion is %s, the API server's %s", written.GetResourceVersion(), got.GetResourceVersion())
	}

	// A reconcile that read the object before the first write computes its status from there.
	if _, wrote, err := write(first, map[string]any{"message": "stale"}); !errors.Is(err, errStatusConflict) || wrote {
		t.Errorf("write from a stale copy: wrote %t, %v; want errStatusConflict", wrote, err)
	}
	if msg := current().Object["status"].(map[string]any)["message"]; msg != "first" {
		t.Errorf("after the stale write the message is %v", msg)
	}

	// From the current copy, a removed field is removed.
	if _, wrote, err := write(got, map[string]any{"message": "second"}); err != nil || !wrote {
		t.Fatalf("second write: wrote %t, %v", wrote, err)
	}
	if status := current().Object["status"].(map[string]any); status["message"] != "second" || status["phase"] != nil {
		t.Errorf("after the second write the status is %v", status)
	}

	if err := env.Client.Delete(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if _, wrote, err := write(got, map[string]any{"message": "too late"}); err != nil || wrote {
		t.Errorf("write to a deleted object: wrote %t, %v", wrote, err)
	}
}

// A new request's first reconcile adds the engine's finalizers and then writes the request's
// first status: that write is guarded by the version the finalizers' patch made, not by the one
// the reconcile read, which would always conflict and run every new request's reconcile twice.
func TestANewRequestsFirstStatusWriteDoesNotConflict(t *testing.T) {
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	counter := &requestCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(counter.wrap)
	startManagerWith(t, cfg)
	name := uniqueName("firststatus")
	promise := apiPromise(t, name, name+".example.com", "Thing", "color")
	if err := env.Client.Create(t.Context(), promise); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), promise) })
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	const n = 10
	for i := range n {
		if err := env.Client.Create(t.Context(), thing(name+".example.com", fmt.Sprintf("thing-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		waitForRequest(t, thing(name+".example.com", fmt.Sprintf("thing-%d", i)), v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	}
	// A later reconcile that starts from a copy the cache has not updated yet may still meet a
	// conflict now and then; the first write of each request met one every time.
	conflicts := counter.snapshot()["PATCH things/status(409)"]
	if conflicts >= n/2 {
		t.Errorf("%d status writes of %d new requests met a conflict", conflicts, n)
	}
}
