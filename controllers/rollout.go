package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/internal/names"
)

// rolloutPoll is how often a Promise whose rollout is under way counts its requests again: their
// status changes do not bring the Promise back.
const rolloutPoll = time.Second

// hasRolloutPolicy reports whether the Promise asks for its spec changes to roll out in batches.
func hasRolloutPolicy(p *v1alpha1.Promise) bool {
	_, ok := p.Annotations[v1alpha1.AnnotationRolloutBatchSize]
	return ok
}

// rollOut moves the rollout of the Promise's spec through its requests (planRollout): it reads
// the requests that follow the latest revision from the cache, writes kratix.io/rollout-spec on
// those it admits (or sends back), and records the Events; the status is written with the
// Promise's. Without a rollout policy it does nothing and the status has no rollout.
func (r *PromiseReconciler) rollOut(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	if !hasRolloutPolicy(promise) || f.gvk.Empty() {
		f.rolloutObserved, f.rollout = true, nil
		return nil
	}
	if f.revision == nil {
		return nil // no revision yet to roll out: keep the status as it is
	}
	f.rolloutObserved = true
	policy, invalid := parseRolloutPolicy(promise.Annotations)
	if invalid != nil {
		r.Recorder.Eventf(promise, nil, corev1.EventTypeWarning, v1alpha1.ReasonRolloutInvalid, "Rollout", "%v", invalid)
	}
	requests, objects, err := r.rolloutRequests(ctx, promise, f.gvk, policy.canaries)
	if err != nil {
		return err
	}
	var previous rolloutTarget
	if f.previousLatest != nil {
		hash := f.previousLatest.Labels[v1alpha1.LabelSpecHash]
		previous = rolloutTarget{hash: hash, revision: f.previousLatest.Name}
		if rev := revisionWithHash(f.revisions, hash); rev != nil {
			previous.revision = rev.Name
		}
	}
	target := rolloutTarget{revision: f.revision.Name, hash: f.specHash}
	plan := planRollout(promise.Status.Rollout, policy, invalid, target, previous, requests, time.Now())
	for key, hash := range plan.admit {
		obj := objects[key]
		patch := client.RawPatch("application/merge-patch+json",
			[]byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationRolloutSpec, hash)))
		if err := r.Client.Patch(ctx, obj, patch); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("admit %s to the rollout: %w", key, err)
		}
	}
	for _, e := range plan.events {
		kind := corev1.EventTypeNormal
		if e.warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(promise, nil, kind, e.reason, "Rollout", "%s", e.message)
	}
	f.rollout = &plan.status
	if plan.status.Phase == v1alpha1.RolloutPhaseComplete {
		return r.pruneBaselines(ctx, f.revisions, plan.status)
	}
	return nil
}

// pruneBaselines deletes the baseline revisions a complete rollout no longer needs: every
// request of the rollout runs its target, and an abort would send them to where it started.
func (r *PromiseReconciler) pruneBaselines(ctx context.Context, revisions []v1alpha1.PromiseRevision, ro v1alpha1.RolloutStatus) error {
	var stale []v1alpha1.PromiseRevision
	for _, rev := range revisions {
		hash := rev.Labels[v1alpha1.LabelSpecHash]
		if rev.Labels[v1alpha1.LabelRolloutBaseline] == v1alpha1.LabelTriggerValue && hash != ro.FromSpecHash && hash != ro.ToSpecHash {
			stale = append(stale, rev)
		}
	}
	_, err := deleteAll(ctx, r.Client, stale)
	return err
}

// rolloutRequests reads the Promise's requests from the cache, leaving out those whose
// ResourceBinding pins a version and those paused or suspended by their owner: they are outside
// any rollout.
func (r *PromiseReconciler) rolloutRequests(ctx context.Context, promise *v1alpha1.Promise, gvk schema.GroupVersionKind, canaries labels.Selector) ([]rolloutRequest, map[string]*unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.Requests.List(ctx, list); err != nil {
		return nil, nil, fmt.Errorf("list the Promise's requests: %w", err)
	}
	var bindings v1alpha1.ResourceBindingList
	if err := r.Client.List(ctx, &bindings, client.MatchingLabels{v1alpha1.LabelPromiseName: names.LabelValue(promise.Name)}); err != nil {
		return nil, nil, fmt.Errorf("list the Promise's ResourceBindings: %w", err)
	}
	pinned := map[string]bool{}
	for _, b := range bindings.Items {
		if b.Spec.PromiseRef.Name == promise.Name && b.Spec.Version != "" && b.Spec.Version != v1alpha1.BindingVersionLatest {
			pinned[b.Namespace+"/"+b.Spec.ResourceRef.Name] = true
		}
	}
	requests := make([]rolloutRequest, 0, len(list.Items))
	objects := make(map[string]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		obj := &list.Items[i]
		key := obj.GetNamespace() + "/" + obj.GetName()
		if pinned[key] || !obj.GetDeletionTimestamp().IsZero() || heldByItsOwner(obj) {
			continue
		}
		conds, err := conditions.FromUnstructured(obj)
		if err != nil {
			return nil, nil, err
		}
		req := rolloutRequest{key: key, canary: canaries.Matches(labels.Set(obj.GetLabels())),
			admitted: obj.GetAnnotations()[v1alpha1.AnnotationRolloutSpec], ran: requestSpecHash(obj)}
		if c := meta.FindStatusCondition(conds, v1alpha1.ConditionConfigureWorkflowCompleted); c != nil && c.ObservedGeneration == obj.GetGeneration() {
			req.done = c.Status == metav1.ConditionTrue
			req.failed = c.Status == metav1.ConditionFalse && c.Reason == v1alpha1.ReasonConfigureWorkflowFailed
		}
		requests = append(requests, req)
		objects[key] = obj
	}
	return requests, objects, nil
}

// heldByItsOwner reports whether the request's owner stopped its workflow (kratix.io/paused, or
// kratix.io/workflow-suspended): labels a tenant sets on their own request. Such a request is
// outside the rollout, as a pinned one is: admitted, it would run nothing and hold every later
// batch, every other tenant's request, back for ever.
func heldByItsOwner(obj *unstructured.Unstructured) bool {
	labels := obj.GetLabels()
	return labels[v1alpha1.LabelPaused] == v1alpha1.LabelTriggerValue || labels[v1alpha1.LabelWorkflowSuspended] == v1alpha1.LabelTriggerValue
}

// setRolloutStatus writes the rollout into the Promise's status with its RolloutComplete
// condition, or takes both away when the Promise has no rollout policy.
func setRolloutStatus(p *v1alpha1.Promise, f promiseFacts) {
	if !f.rolloutObserved {
		return
	}
	p.Status.Rollout = f.rollout
	if f.rollout == nil {
		meta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionRolloutComplete)
		return
	}
	status, reason := metav1.ConditionFalse, v1alpha1.ReasonRolloutProgressing
	switch f.rollout.Phase {
	case v1alpha1.RolloutPhaseComplete:
		status, reason = metav1.ConditionTrue, v1alpha1.ReasonRolloutCompleted
	case v1alpha1.RolloutPhasePaused:
		reason = v1alpha1.ReasonRolloutPaused
	case v1alpha1.RolloutPhaseHalted:
		reason = v1alpha1.ReasonRolloutHalted
	case v1alpha1.RolloutPhaseAborted:
		reason = v1alpha1.ReasonRolloutAborted
	}
	conditions.Set(&p.Status.Conditions, v1alpha1.ConditionRolloutComplete, status, reason, f.rollout.Message, p.Generation)
}

// rolloutUnderWay reports whether the rollout waits for its requests to finish: progressing,
// or stopped with re-runs still going (a halted rollout's last batch runs to its end, and its
// count of failures with it). The Promise looks again shortly.
func rolloutUnderWay(f promiseFacts) bool {
	ro := f.rollout
	if ro == nil || ro.Phase == v1alpha1.RolloutPhaseComplete {
		return false
	}
	running := ro.Total - ro.Updated - ro.Failed - ro.Waiting
	return ro.Phase == v1alpha1.RolloutPhaseProgressing || running > 0
}

// rolloutPhaseChanged passes a Promise whose rollout was aborted, or resumed after an abort: its
// requests choose their spec again (an abort sends them all back). Every request is reconciled,
// most to do nothing; other changes of phase need none (admissions write the requests).
func rolloutPhaseChanged() predicate.Predicate {
	return promiseChanged(func(o, n *v1alpha1.Promise) bool {
		before, after := rolloutPhase(o), rolloutPhase(n)
		return before != after && (before == v1alpha1.RolloutPhaseAborted || after == v1alpha1.RolloutPhaseAborted)
	})
}

// rolloutPhase is the phase of the Promise's rollout, empty without one.
func rolloutPhase(p *v1alpha1.Promise) string {
	if p.Status.Rollout == nil {
		return ""
	}
	return p.Status.Rollout.Phase
}
