package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/pipeline"
)

// promiseFacts is what one reconcile of a Promise observed; its status is a pure function of it.
type promiseFacts struct {
	paused   bool
	deleting bool
	// invalidAPI says why spec.api cannot be installed.
	invalidAPI error
	// invalidDependencies says why spec.dependencies cannot be packaged.
	invalidDependencies error
	// invalidWorkflow says why the Promise Configure workflow cannot be built.
	invalidWorkflow error
	// crdPending names the CRD that is not established yet.
	crdPending string
	// apiReady: the Promise has no API, or its CRD is established and its controller runs.
	apiReady bool
	// gvk of the requests, once known.
	gvk schema.GroupVersionKind
	// decision of the workflow engine on the Promise Configure (or Delete) workflow.
	decision pipeline.Decision
	// policy is when the Promise Configure workflow runs again on its own.
	policy        workflowPolicy
	worksObserved bool
	works         []workState
	// waitingFor says what a Promise being deleted waits for.
	waitingFor string
	// waitingForRequests: the Promise being deleted waits for its requests, which it does not
	// watch.
	waitingForRequests bool
	// finalized: the last finalizer is gone.
	finalized bool
	// requirementsChecked: the Promise has spec.requiredPromises and they were evaluated into
	// requirements; requirementsUnmet says which are not fulfilled.
	requirementsChecked bool
	requirements        []v1alpha1.RequiredPromiseStatus
	requirementsUnmet   string
	// specHash is the digest of the Promise's spec (pipeline.PromiseSpecHash).
	specHash string
	// revisions are the Promise's PromiseRevisions; revision is its version's, now the latest;
	// previousLatest was the latest before this reconcile.
	revisions      []v1alpha1.PromiseRevision
	revision       *v1alpha1.PromiseRevision
	previousLatest *v1alpha1.PromiseRevision
	// rollout is the progress of the spec change through the requests, nil without a policy;
	// rolloutObserved: the rollout phase ran, so rollout is the status to write.
	rollout         *v1alpha1.RolloutStatus
	rolloutObserved bool
}

// blocked reports whether a phase found a reason not to go on.
func (f *promiseFacts) blocked() bool {
	return f.invalidAPI != nil || f.invalidDependencies != nil || !f.apiReady
}

// setPromiseStatus turns the facts into the Promise's status.
func setPromiseStatus(p *v1alpha1.Promise, f promiseFacts) {
	s, gen := &p.Status, p.Generation
	if f.paused {
		conditions.Set(&s.Conditions, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonPaused,
			fmt.Sprintf("the Promise carries %s=true: the engine leaves it alone until the label is removed", v1alpha1.LabelPaused), gen)
		return
	}
	if f.deleting {
		msg := "deleting"
		if f.waitingFor != "" {
			msg = "deleting: waiting for " + f.waitingFor
		}
		conditions.Set(&s.Conditions, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonReconciling, msg, gen)
		s.Message = msg
		return
	}
	if !f.gvk.Empty() {
		s.Kind, s.APIVersion = f.gvk.Kind, f.gvk.GroupVersion().String()
	}
	s.Version = p.Labels[v1alpha1.LabelPromiseVersion]
	setRequirementsStatus(p, f)
	setRolloutStatus(p, f)
	available, reason, msg := promiseAvailability(f)
	conditions.Set(&s.Conditions, v1alpha1.ConditionAvailable, available, reason, msg, gen)
	if available != metav1.ConditionTrue && f.requirementsUnmet == "" {
		s.Status, s.Message = "Unavailable", msg
		conditions.Set(&s.Conditions, v1alpha1.ConditionReconciled, metav1.ConditionFalse, reason, msg, gen)
		return
	}
	if f.requirementsUnmet != "" {
		// The API is served and the Promise's own workflows run; its requests wait.
		s.Status, s.Message = "Unavailable", msg
		conditions.Set(&s.Conditions, v1alpha1.ConditionReconciled, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotFulfilled, msg, gen)
		wfStatus, wfReason, wfMsg := promiseWorkflowCondition(f)
		conditions.Set(&s.Conditions, v1alpha1.ConditionConfigureWorkflowCompleted, wfStatus, wfReason, wfMsg, gen)
		return
	}
	s.Status = "Available"
	s.ObservedGeneration = gen
	wfStatus, wfReason, wfMsg := promiseWorkflowCondition(f)
	conditions.Set(&s.Conditions, v1alpha1.ConditionConfigureWorkflowCompleted, wfStatus, wfReason, wfMsg, gen)
	worksStatus, worksReason, worksMsg := worksCondition(resourceFacts{works: f.works})
	if f.worksObserved {
		conditions.Set(&s.Conditions, v1alpha1.ConditionWorksSucceeded, worksStatus, worksReason, worksMsg, gen)
	}
	switch {
	case wfStatus != metav1.ConditionTrue:
		s.Message = wfMsg
		conditions.Set(&s.Conditions, v1alpha1.ConditionReconciled, metav1.ConditionFalse, wfReason, wfMsg, gen)
	case f.worksObserved && worksStatus != metav1.ConditionTrue:
		s.Message = worksMsg
		conditions.Set(&s.Conditions, v1alpha1.ConditionReconciled, metav1.ConditionFalse, worksReason, worksMsg, gen)
	default:
		s.Message = "Promise configured"
		conditions.Set(&s.Conditions, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "Promise configured", gen)
	}
}

// promiseAvailability is the Available condition for the facts.
func promiseAvailability(f promiseFacts) (metav1.ConditionStatus, string, string) {
	switch {
	case f.invalidAPI != nil:
		return metav1.ConditionFalse, v1alpha1.ReasonInvalidAPI, fmt.Sprintf("spec.api cannot be installed: %v", f.invalidAPI)
	case f.invalidDependencies != nil:
		return metav1.ConditionFalse, v1alpha1.ReasonInvalidAPI, fmt.Sprintf("spec.dependencies cannot be packaged: %v", f.invalidDependencies)
	case f.crdPending != "":
		return metav1.ConditionFalse, v1alpha1.ReasonCRDNotEstablished, fmt.Sprintf("waiting for CRD %s to be established", f.crdPending)
	case f.requirementsUnmet != "":
		return metav1.ConditionFalse, v1alpha1.ReasonRequirementsUnmet, f.requirementsUnmet
	default:
		return metav1.ConditionTrue, v1alpha1.ReasonAvailable, "the Promise's API is served"
	}
}

// promiseWorkflowCondition is ConfigureWorkflowCompleted of a Promise.
func promiseWorkflowCondition(f promiseFacts) (metav1.ConditionStatus, string, string) {
	return workflowCondition("Promise Configure", v1alpha1.ReasonConfigureWorkflowFailed, f.invalidWorkflow, f.decision)
}

// promiseResult is the outcome of a reconcile that ran its phases, or its cleanup, as far as it
// could: a spec that cannot be installed or whose workflow cannot be built is a terminal error
// carrying the condition's message, since only a change of the Promise (which brings it back)
// can fix it; anything else waits for the watches.
func promiseResult(f promiseFacts) (ctrl.Result, error) {
	switch {
	case f.invalidAPI != nil, f.invalidDependencies != nil:
		_, _, msg := promiseAvailability(f)
		return ctrl.Result{}, reconcile.TerminalError(errors.New(msg))
	case f.invalidWorkflow != nil:
		_, _, msg := promiseWorkflowCondition(f)
		return ctrl.Result{}, reconcile.TerminalError(errors.New(msg))
	case f.paused:
		return ctrl.Result{}, nil
	case rolloutUnderWay(f):
		return ctrl.Result{RequeueAfter: rolloutPoll}, nil
	case f.decision.Verdict == pipeline.Finish && !f.deleting && f.policy.resync > 0:
		return ctrl.Result{RequeueAfter: f.policy.resync}, nil
	case untilDue(f.decision, f.policy, time.Now()) > 0:
		return ctrl.Result{RequeueAfter: untilDue(f.decision, f.policy, time.Now())}, nil
	default:
		return ctrl.Result{}, nil
	}
}

// patchStatus writes the status computed from the facts and an Event when Available or
// Reconciled changed.
func (r *PromiseReconciler) patchStatus(ctx context.Context, base, p *v1alpha1.Promise, f promiseFacts) error {
	if f.finalized {
		return nil
	}
	setPromiseStatus(p, f)
	if wrote, err := writeStatus(ctx, r.Client, base, p, base.Status, p.Status); !wrote {
		return err
	}
	recordTransition(r.Recorder, p, base.Status.Conditions, p.Status.Conditions, v1alpha1.ConditionAvailable, "Install")
	recordTransition(r.Recorder, p, base.Status.Conditions, p.Status.Conditions, v1alpha1.ConditionReconciled, "Reconcile")
	return nil
}
