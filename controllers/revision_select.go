package controllers

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/pipeline"
)

// revisionChoice is which spec of its Promise a resource request runs.
type revisionChoice struct {
	// promise is the Promise with the chosen spec: the Promise itself, or a copy whose spec is
	// a PromiseRevision's.
	promise *v1alpha1.Promise
	// revision names the chosen PromiseRevision; empty when the Promise has none yet.
	revision string
	// version is the chosen revision's version.
	version string
	// specHash is the digest of the chosen spec.
	specHash string
	// latest: the chosen spec is the Promise's current one.
	latest bool
	// waiting: a rollout of the Promise's current spec has not reached the request, which keeps
	// the spec it ran.
	waiting bool
	// policy: the Promise has a rollout policy, so the request says whether it waits for it.
	policy bool
	// unresolved is the digest of a spec the request must keep whose revision the cache does
	// not show yet: the request waits for it, its status untouched.
	unresolved string
	// missing names the version the request's binding asks for that has no revision: the
	// request keeps what it has and its workflow does not run.
	missing string
}

// requestSpecHash is the digest of the Promise spec the request's Configure workflow last ran
// (or runs), as the engine records it in status.kratix.promiseSpecHash.
func requestSpecHash(obj *unstructured.Unstructured) string {
	h, _, _ := unstructured.NestedString(obj.Object, "status", "kratix", "promiseSpecHash")
	return h
}

// chooseRevision decides which spec of its Promise a request runs:
//   - a ResourceBinding that names a version: that version's revision;
//   - without a rollout policy, once the rollout of the current spec is complete, or with a
//     batch size of 100% (everything at once, nothing to admit): the Promise's current spec
//     (the latest revision), as today;
//   - during a rollout: the current spec when the rollout admitted the request (its
//     kratix.io/rollout-spec annotation is the current digest) or when the request never ran;
//     otherwise the spec it ran last (or, for a request that has not recorded one, the spec
//     the rollout started from), which starts no workflow; after an abort, the spec the
//     rollout started from.
//
// A spec the request must keep whose revision the cache does not show yet leaves the choice
// unresolved: the request waits. revisions are the Promise's; hash is the digest of its current
// spec.
func chooseRevision(promise *v1alpha1.Promise, hash string, revisions []v1alpha1.PromiseRevision, binding *v1alpha1.ResourceBinding, obj *unstructured.Unstructured) revisionChoice {
	latest := revisionChoice{promise: promise, version: promiseVersion(promise), specHash: hash, latest: true}
	if rev := revisionWithHash(revisions, hash); rev != nil {
		latest.revision = rev.Name
	}
	if binding != nil && binding.Spec.Version != "" && binding.Spec.Version != v1alpha1.BindingVersionLatest {
		rev := revisionOfVersion(revisions, binding.Spec.Version)
		if rev == nil {
			return revisionChoice{missing: binding.Spec.Version}
		}
		return revisionOf(promise, rev, hash)
	}
	if !hasRolloutPolicy(promise) {
		return latest
	}
	latest.policy = true
	keep := func(h string) revisionChoice {
		if rev := revisionWithHash(revisions, h); rev != nil {
			choice := revisionOf(promise, rev, hash)
			choice.waiting, choice.policy = true, true
			return choice
		}
		return revisionChoice{unresolved: h}
	}
	ro := promise.Status.Rollout
	planned := ro != nil && ro.ToSpecHash == hash
	switch {
	case planned && ro.Phase == v1alpha1.RolloutPhaseAborted && ro.FromSpecHash != hash:
		return keep(ro.FromSpecHash)
	case planned && ro.Phase == v1alpha1.RolloutPhaseComplete:
		return latest
	case obj.GetAnnotations()[v1alpha1.AnnotationRolloutSpec] == hash:
		// Admitted, maybe before the Promise's status says so.
		return latest
	}
	if policy, err := parseRolloutPolicy(promise.Annotations); err == nil && policy.allAtOnce() {
		return latest
	}
	ran := requestSpecHash(obj)
	if ran == "" && !hasWorkflowStatus(obj) {
		// A new request has no output to protect, unless the rollout stopped on failures.
		if ro == nil || (planned && (ro.Phase == v1alpha1.RolloutPhaseProgressing || ro.Phase == v1alpha1.RolloutPhasePaused)) {
			return latest
		}
	}
	if ran == "" {
		ran = fromHash(ro)
	}
	if ran == "" || ran == hash {
		return latest
	}
	return keep(ran)
}

// fromHash is the digest of the spec a rollout started from; empty without one.
func fromHash(ro *v1alpha1.RolloutStatus) string {
	if ro == nil {
		return ""
	}
	if ro.Phase == v1alpha1.RolloutPhaseComplete {
		return ro.ToSpecHash
	}
	return ro.FromSpecHash
}

// revisionOf is the choice of a revision: a copy of the Promise with the revision's spec.
func revisionOf(promise *v1alpha1.Promise, rev *v1alpha1.PromiseRevision, currentHash string) revisionChoice {
	hash := rev.Labels[v1alpha1.LabelSpecHash]
	if hash == currentHash {
		return revisionChoice{promise: promise, revision: rev.Name, version: rev.Spec.Version, specHash: hash, latest: true}
	}
	p := promise.DeepCopy()
	p.Spec = *rev.Spec.PromiseSpec.DeepCopy()
	return revisionChoice{promise: p, revision: rev.Name, version: rev.Spec.Version, specHash: hash}
}

// hasWorkflowStatus reports whether the engine recorded a workflow run of the request.
func hasWorkflowStatus(obj *unstructured.Unstructured) bool {
	_, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", "kratix", "workflows")
	return found
}

// selectRevision reads the Promise's revisions and the request's binding from the cache and
// chooses the spec the request runs.
func (r *ResourceReconciler) selectRevision(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured, binding *v1alpha1.ResourceBinding) (revisionChoice, error) {
	hash, err := r.specHash.of(promise)
	if err != nil {
		return revisionChoice{}, err
	}
	follows := binding == nil || binding.Spec.Version == "" || binding.Spec.Version == v1alpha1.BindingVersionLatest
	if follows && !hasRolloutPolicy(promise) {
		// The common case needs no revision: the Promise's spec is the latest.
		return revisionChoice{promise: promise, version: promiseVersion(promise), specHash: hash, latest: true, revision: revisionName(promise.Name, promiseVersion(promise))}, nil
	}
	revisions, err := listRevisions(ctx, r.Client, promise.Name)
	if err != nil {
		return revisionChoice{}, fmt.Errorf("choose the Promise's revision: %w", err)
	}
	return chooseRevision(promise, hash, revisions, binding, obj), nil
}

// setUpdatePending sets the request's PromiseUpdatePending condition when its Promise has a
// rollout policy (or had one): True while the rollout has not reached the request.
func setUpdatePending(conds *[]metav1.Condition, c revisionChoice, promise string, generation int64) {
	if !c.policy && meta.FindStatusCondition(*conds, v1alpha1.ConditionPromiseUpdatePending) == nil {
		return
	}
	if c.waiting {
		conditions.Set(conds, v1alpha1.ConditionPromiseUpdatePending, metav1.ConditionTrue, v1alpha1.ReasonRolloutWaiting,
			fmt.Sprintf("the rollout of Promise %s's new spec has not reached the request: it keeps the output of the spec it ran (%.8s)", promise, c.specHash), generation)
		return
	}
	conditions.Set(conds, v1alpha1.ConditionPromiseUpdatePending, metav1.ConditionFalse, v1alpha1.ReasonUpToDate,
		fmt.Sprintf("the request runs revision %s", orNone(c.revision)), generation)
}

// setRevisionStatus records the chosen revision in the request's status: status.promiseVersion
// (upstream's) and the engine's status.kratix.promiseRevision and promiseSpecHash.
func setRevisionStatus(obj *unstructured.Unstructured, c revisionChoice) error {
	if c.specHash == "" {
		return nil
	}
	if err := unstructured.SetNestedField(obj.Object, c.version, "status", "promiseVersion"); err != nil {
		return err
	}
	// A request that keeps its spec keeps the revision name it has: the cache may show the
	// spec under another name for a moment.
	if c.revision != "" && !c.waiting {
		if err := unstructured.SetNestedField(obj.Object, c.revision, "status", "kratix", "promiseRevision"); err != nil {
			return err
		}
	}
	return unstructured.SetNestedField(obj.Object, c.specHash, "status", "kratix", "promiseSpecHash")
}

// appliedPromise is the Promise with the spec the request last applied, for its delete
// workflow: as upstream Kratix, the version its ResourceBinding last applied (a failed upgrade
// does not count); else the revision of the digest in its status; else the Promise's current
// spec.
func (r *ResourceReconciler) appliedPromise(ctx context.Context, promise *v1alpha1.Promise, obj *unstructured.Unstructured) (*v1alpha1.Promise, error) {
	binding, err := r.bindingOf(ctx, obj)
	if err != nil {
		return nil, err
	}
	ran := requestSpecHash(obj)
	applied := ""
	if binding != nil {
		applied = binding.Status.LastAppliedVersion
	}
	if ran == "" && applied == "" {
		return promise, nil
	}
	revisions, err := listRevisions(ctx, r.Client, promise.Name)
	if err != nil {
		return nil, err
	}
	rev := revisionOfVersion(revisions, applied)
	if rev == nil || applied == "" {
		rev = revisionWithHash(revisions, ran)
	}
	if rev == nil {
		return promise, nil
	}
	hash, err := r.specHash.of(promise)
	if err != nil {
		return nil, err
	}
	return revisionOf(promise, rev, hash).promise, nil
}

// specHashMemo is the digest of the spec of the Promise a ResourceReconciler serves, remembered
// for the Promise's generation: every reconcile of a request needs it, and it is a canonical
// encoding of the whole spec (its API's schema included).
type specHashMemo struct {
	mu         sync.Mutex
	uid        types.UID
	generation int64
	hash       string
}

// of is pipeline.PromiseSpecHash of the Promise as read from the API server (or its cache): its
// generation changes with its spec. A copy whose spec was replaced in memory (a revision's,
// revisionOf) keeps the generation and must not be passed. A Promise without a generation
// (one built in memory) is hashed anew.
func (m *specHashMemo) of(promise *v1alpha1.Promise) (string, error) {
	if promise.Generation == 0 || promise.UID == "" {
		return pipeline.PromiseSpecHash(&promise.Spec)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.uid == promise.UID && m.generation == promise.Generation {
		return m.hash, nil
	}
	hash, err := pipeline.PromiseSpecHash(&promise.Spec)
	if err != nil {
		return "", err
	}
	m.uid, m.generation, m.hash = promise.UID, promise.Generation, hash
	return hash, nil
}
