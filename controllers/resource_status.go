package controllers

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/pipeline"
)

// resourceFacts is what one reconcile of a resource request observed; its conditions, message
// and outputs are pure functions of it.
type resourceFacts struct {
	generation int64
	// paused: the request carries kratix.io/paused=true.
	paused bool
	// deleting: the request is being deleted.
	deleting bool
	// invalid says why the Promise's workflow cannot be built.
	invalid error
	// decision is the workflow engine's decision.
	decision pipeline.Decision
	// policy is when the configure workflow runs again on its own.
	policy workflowPolicy
	// worksObserved: works and outputs were read.
	worksObserved bool
	works         []workState
	outputs       []resourceOutput
	// worksLeft is how many Works a request being deleted still has.
	worksLeft int
	// finalized: the last finalizer is gone and the request with it.
	finalized bool
	// waitingForRequirements says why the request's workflow waits for its Promise's required
	// Promises; empty when it does not.
	waitingForRequirements string
	// choice is the spec of the Promise the request's Configure workflow runs.
	choice revisionChoice
	// bindingVersion is the spec.version of the request's ResourceBinding, recorded in
	// status.resourceBindingVersion (upstream's).
	bindingVersion string
}

// workState is what a request's condition needs of one of its Works.
type workState struct {
	name    string
	ready   bool
	reason  string
	message string
}

// workOutcome reads a Work's Ready condition.
func workOutcome(w *v1alpha1.Work) workState {
	s := workState{name: w.Name, reason: v1alpha1.ReasonWorksPending, message: "not scheduled yet"}
	c := meta.FindStatusCondition(w.Status.Conditions, v1alpha1.ConditionReady)
	switch {
	case c != nil && c.ObservedGeneration == w.Generation:
		s.ready, s.reason, s.message = c.Status == metav1.ConditionTrue, c.Reason, c.Message
	case c != nil:
		// The Work's status is its previous spec's while the new one's placements are written
		// (placingNewSpec).
		s.reason, s.message = v1alpha1.ReasonPlacementsPending, "its new spec's placements are being written"
	}
	return s
}

// resourceOutput says where one of the request's workload groups landed.
type resourceOutput struct {
	Destination string `json:"destination"`
	Path        string `json:"path"`
	Version     string `json:"version"`
}

// setResourceConditions sets ConfigureWorkflowCompleted, WorksSucceeded, Reconciled and Ready.
func setResourceConditions(conds *[]metav1.Condition, f resourceFacts) {
	gen := f.generation
	if f.paused {
		conditions.Set(conds, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonPaused,
			fmt.Sprintf("the request carries %s=true: the engine leaves it alone until the label is removed", v1alpha1.LabelPaused), gen)
		return
	}
	if f.waitingForRequirements != "" && !f.deleting {
		conditions.Set(conds, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotFulfilled, f.waitingForRequirements, gen)
		conditions.Set(conds, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotFulfilled, f.waitingForRequirements, gen)
		return
	}
	status, reason, msg := resourceWorkflowCondition(f, f.deleting)
	if !f.deleting {
		conditions.Set(conds, v1alpha1.ConditionConfigureWorkflowCompleted, status, reason, msg, gen)
	}
	worksStatus, worksReason, worksMsg := worksCondition(f)
	if f.worksObserved {
		conditions.Set(conds, v1alpha1.ConditionWorksSucceeded, worksStatus, worksReason, worksMsg, gen)
	}
	switch {
	case f.deleting:
		conditions.Set(conds, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonReconciling, deletingMessage(f, msg), gen)
	case status != metav1.ConditionTrue:
		r := v1alpha1.ReasonReconciling
		switch reason {
		case v1alpha1.ReasonConfigureWorkflowFailed:
			r = v1alpha1.ReasonFailed
		case v1alpha1.ReasonWorkflowSuspended:
			r = v1alpha1.ReasonWorkflowSuspended
		}
		conditions.Set(conds, v1alpha1.ConditionReconciled, metav1.ConditionFalse, r, msg, gen)
		conditions.Set(conds, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg, gen)
	case f.worksObserved && worksStatus != metav1.ConditionTrue:
		conditions.Set(conds, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonReconciling, worksMsg, gen)
		conditions.Set(conds, v1alpha1.ConditionReady, metav1.ConditionFalse, worksReason, worksMsg, gen)
	case f.worksObserved:
		conditions.Set(conds, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "the workflow ran and its output is written", gen)
		conditions.Set(conds, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "the workflow ran and its output is written", gen)
	}
}

// workflowCondition is the status, reason and message of a workflow's condition; what names the
// workflow ("Resource Configure") and failed is the reason of a failure.
func workflowCondition(what, failed string, invalid error, d pipeline.Decision) (metav1.ConditionStatus, string, string) {
	switch {
	case invalid != nil:
		return metav1.ConditionFalse, failed, fmt.Sprintf("the %s workflow cannot run: %v", what, invalid)
	case d.Verdict == pipeline.Finish:
		return metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully, fmt.Sprintf("the %s workflow completed", what)
	case d.Verdict == pipeline.Fail:
		return metav1.ConditionFalse, failed, fmt.Sprintf("the %s workflow failed: %s", what, d.Failure)
	case d.Verdict == pipeline.Suspend:
		reason := v1alpha1.ReasonWorkflowSuspended
		if failed == v1alpha1.ReasonDeleteWorkflowFailed {
			reason = v1alpha1.ReasonDeleteWorkflowSuspended
		}
		return metav1.ConditionFalse, reason, suspendedMessage(what, d)
	case d.Verdict == pipeline.Wait, d.Verdict == pipeline.Start && d.Job != "":
		// A started Job is running as far as the request can tell: the same words spare a
		// status write when the next reconcile sees it running.
		return metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress, fmt.Sprintf("the %s workflow is running (Job %s)", what, d.Job)
	default:
		return metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress, fmt.Sprintf("the %s workflow is starting pipeline %d", what, d.Pipeline+1)
	}
}

// suspendedMessage says why a workflow ("Resource Configure") is suspended and how it goes on.
func suspendedMessage(what string, d pipeline.Decision) string {
	if d.Job == "" {
		return fmt.Sprintf("the %s workflow is suspended: the object carries %s=true; remove the label to resume", what, v1alpha1.LabelWorkflowSuspended)
	}
	msg := fmt.Sprintf("the %s workflow is suspended at pipeline %d", what, d.Pipeline+1)
	if d.Message != "" {
		msg += ": " + d.Message
	}
	if !d.RetryAt.IsZero() {
		return msg + fmt.Sprintf(" (retry at %s)", d.RetryAt.UTC().Format(time.RFC3339))
	}
	return msg + fmt.Sprintf(" (remove the label %s to resume)", v1alpha1.LabelWorkflowSuspended)
}

// resourceWorkflowCondition is the condition of the request's Configure workflow, or of its
// Delete workflow when deleting.
func resourceWorkflowCondition(f resourceFacts, deleting bool) (metav1.ConditionStatus, string, string) {
	if deleting {
		return workflowCondition("Resource Delete", v1alpha1.ReasonDeleteWorkflowFailed, f.invalid, f.decision)
	}
	return workflowCondition("Resource Configure", v1alpha1.ReasonConfigureWorkflowFailed, f.invalid, f.decision)
}

// worksCondition is the WorksSucceeded condition for the facts.
func worksCondition(f resourceFacts) (metav1.ConditionStatus, string, string) {
	for _, w := range f.works {
		if !w.ready {
			return metav1.ConditionFalse, v1alpha1.ReasonWorksPending, fmt.Sprintf("Work %s is not ready: %s: %s", w.name, w.reason, w.message)
		}
	}
	return metav1.ConditionTrue, v1alpha1.ReasonWorksSucceeded, fmt.Sprintf("%d Works ready", len(f.works))
}

// deletingMessage says what a request being deleted waits for.
func deletingMessage(f resourceFacts, workflowMsg string) string {
	if f.worksLeft > 0 {
		return fmt.Sprintf("deleting: waiting for %d Works to remove their files", f.worksLeft)
	}
	return "deleting: " + workflowMsg
}

// setResourceMessage sets status.message: Pending until a workflow wrote one, and the failure
// when the workflow failed.
func setResourceMessage(obj *unstructured.Unstructured, f resourceFacts) {
	current, _, _ := unstructured.NestedString(obj.Object, "status", "message")
	switch {
	case f.paused || f.deleting:
	case f.invalid != nil || f.decision.Verdict == pipeline.Fail || f.decision.Verdict == pipeline.Suspend:
		_, _, msg := resourceWorkflowCondition(f, false)
		_ = unstructured.SetNestedField(obj.Object, msg, "status", "message")
	case current == "":
		_ = unstructured.SetNestedField(obj.Object, "Pending", "status", "message")
	}
}

// setResourceOutputs records where the request's output landed in status.kratix.outputs (the
// key kratix is the engine's; pipelines cannot write it).
func setResourceOutputs(obj *unstructured.Unstructured, outputs []resourceOutput) error {
	list := make([]any, 0, len(outputs))
	for _, o := range outputs {
		list = append(list, map[string]any{"destination": o.Destination, "path": o.Path, "version": o.Version})
	}
	if len(list) == 0 {
		unstructured.RemoveNestedField(obj.Object, "status", "kratix", "outputs")
		return nil
	}
	return unstructured.SetNestedSlice(obj.Object, list, "status", "kratix", "outputs")
}

// resourceResult is the outcome of a reconcile: a workflow that cannot be built from the
// Promise is a terminal error carrying the condition's message (a change of the Promise or the
// request brings it back); a finished workflow runs again after the resync interval; everything
// else comes back through the watches on Jobs and Works.
func resourceResult(f resourceFacts, p workflowPolicy) (ctrl.Result, error) {
	switch {
	case f.invalid != nil:
		_, _, msg := resourceWorkflowCondition(f, f.deleting)
		return ctrl.Result{}, reconcile.TerminalError(errors.New(msg))
	case f.paused:
		return ctrl.Result{}, nil
	case f.decision.Verdict == pipeline.Finish && !f.deleting:
		return ctrl.Result{RequeueAfter: p.resync}, nil
	case untilDue(f.decision, p, time.Now()) > 0:
		return ctrl.Result{RequeueAfter: untilDue(f.decision, p, time.Now())}, nil
	default:
		return ctrl.Result{}, nil
	}
}

// DefaultRerunStatusDelay is how long a re-run of a Ready resource request may run before its
// status says so (cmd/kratix: --rerun-status-delay).
const DefaultRerunStatusDelay = 10 * time.Second

// settled reports whether the request is Ready at its current generation: a run that starts now
// is a re-run (a Promise update, a resync, a manual reconciliation), not the user's change.
func settled(obj *unstructured.Unstructured) bool {
	conds, err := conditions.FromUnstructured(obj)
	if err != nil {
		return false
	}
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration()
}

// heldFor is how much longer the in-progress status computed for a re-run may stay unwritten;
// zero: write it now. A request that was Ready at its generation keeps that status, its output
// still in the state store, while a re-run waits to start (its Job queued), for its first delay
// of running, and for delay while its output is placed (each from f.decision.Since): the run's
// outcome is then its only status write and it records no Event, where otherwise its start and
// its end would each cost one of both. A Promise update re-running thousands of requests so
// costs the API server half as many request writes, however long they queue. A change of the
// request's spec, a failure or a suspension is written at once; a stage that lasts is written
// once it has for delay.
//
// held says the status stays unwritten; until is when the reconcile must look again, zero when
// a watched change brings it back: a Job that has not started yet is looked at again when its
// start is written (a requeue of every queued request would list the Jobs of all of them, over
// and over, while thousands wait).
func heldFor(before, after []metav1.Condition, f resourceFacts, delay time.Duration, now time.Time) (held bool, until time.Duration) {
	if delay <= 0 || f.deleting || f.paused || f.invalid != nil {
		return false, 0
	}
	prev, cur := meta.FindStatusCondition(before, v1alpha1.ConditionReady), meta.FindStatusCondition(after, v1alpha1.ConditionReady)
	if prev == nil || prev.Status != metav1.ConditionTrue || prev.ObservedGeneration != f.generation ||
		cur == nil || cur.Status == metav1.ConditionTrue || !inProgress[cur.Reason] {
		return false, 0
	}
	if f.decision.Since.IsZero() {
		return true, 0
	}
	if left := f.decision.Since.Add(delay).Sub(now); left > 0 {
		return true, left
	}
	return false, 0
}

// requeueWithin brings the reconcile back within until, when positive.
func requeueWithin(result ctrl.Result, until time.Duration) ctrl.Result {
	if until > 0 && (result.RequeueAfter <= 0 || until < result.RequeueAfter) {
		result.RequeueAfter = until
	}
	return result
}
