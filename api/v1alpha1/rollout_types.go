package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The rollout policy of a Promise is in annotations, not in its spec: the spec is hashed into
// every request's workflow (a policy change would itself re-run every request) and snapshotted in
// PromiseRevisions, and upstream Kratix ignores annotations, so a Promise carrying a policy stays
// valid on both engines. Without AnnotationRolloutBatchSize a spec change re-runs every request at
// once, as the documentation says.
const (
	// AnnotationRolloutBatchSize is how many requests re-run at once: a count ("10") or a
	// percentage of the requests that follow the latest revision ("10%", at least one).
	AnnotationRolloutBatchSize = "kratix.io/rollout-batch-size"
	// AnnotationRolloutMaxFailures stops the rollout once that many re-runs failed: a count
	// ("3") or a percentage of the requests in the rollout ("5%", at least one). Default 1.
	AnnotationRolloutMaxFailures = "kratix.io/rollout-max-failures"
	// AnnotationRolloutCanarySelector is a label selector of the requests that re-run first;
	// default kratix.io/canary=true.
	AnnotationRolloutCanarySelector = "kratix.io/rollout-canary-selector"
	// AnnotationRollout is "paused" (no new batch starts) or "abort" (admitted requests go back
	// to the revision the rollout started from); absent, the rollout runs.
	AnnotationRollout = "kratix.io/rollout"
	RolloutPaused     = "paused"
	RolloutAbort      = "abort"
	// DefaultCanarySelector marks the requests that re-run first.
	DefaultCanarySelector = "kratix.io/canary=true"
	// AnnotationRolloutSpec on a resource request is the spec hash (LabelSpecHash) of the
	// revision a rollout admitted it to; the engine writes it.
	AnnotationRolloutSpec = "kratix.io/rollout-spec"
)

// Phases of a rollout.
const (
	RolloutPhaseProgressing = "Progressing"
	RolloutPhasePaused      = "Paused"
	RolloutPhaseHalted      = "Halted"
	RolloutPhaseAborted     = "Aborted"
	RolloutPhaseComplete    = "Complete"
)

// The Promise's RolloutComplete condition, its reasons, and the reasons of rollout Events.
const (
	ConditionRolloutComplete = "RolloutComplete"
	ReasonRolloutProgressing = "RolloutProgressing"
	ReasonRolloutPaused      = "RolloutPaused"
	ReasonRolloutResumed     = "RolloutResumed"
	ReasonRolloutHalted      = "RolloutHalted"
	ReasonRolloutAborted     = "RolloutAborted"
	ReasonRolloutCompleted   = "RolloutCompleted"
	ReasonRolloutStarted     = "RolloutStarted"
	ReasonRolloutBatch       = "RolloutBatchStarted"
	ReasonRolloutBatchDone   = "RolloutBatchCompleted"
	ReasonRolloutInvalid     = "RolloutPolicyInvalid"
	// ReasonRolloutWaiting (a request's PromiseUpdatePending condition): the rollout has not
	// reached the request yet; it keeps its previous output.
	ReasonRolloutWaiting = "RolloutWaiting"
	// ReasonUpToDate (a request's PromiseUpdatePending condition): it runs the spec it should.
	ReasonUpToDate = "UpToDate"
	// ConditionPromiseUpdatePending on a request: a newer spec of its Promise has not run for it.
	ConditionPromiseUpdatePending = "PromiseUpdatePending"
)

// RolloutStatus is the progress of a Promise's spec change through its requests.
type RolloutStatus struct {
	// FromRevision is the PromiseRevision the requests ran before the change.
	// +optional
	FromRevision string `json:"fromRevision,omitempty"`
	// FromSpecHash is its spec's digest.
	// +optional
	FromSpecHash string `json:"fromSpecHash,omitempty"`
	// ToRevision is the revision the rollout brings the requests to.
	// +optional
	ToRevision string `json:"toRevision,omitempty"`
	// ToSpecHash is its spec's digest.
	// +optional
	ToSpecHash string `json:"toSpecHash,omitempty"`
	// Phase: Progressing, Paused, Halted, Aborted or Complete.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Total is how many requests the rollout covers (they follow the latest revision).
	Total int `json:"total"`
	// Updated is how many ran the new spec successfully.
	Updated int `json:"updated"`
	// Failed is how many failed with it.
	Failed int `json:"failed"`
	// Waiting is how many the rollout has not reached; they keep their previous output.
	Waiting int `json:"waiting"`
	// Summary is "updated/total", for kubectl get.
	// +optional
	Summary string `json:"summary,omitempty"`
	// Message for humans: why the rollout stopped, and how it goes on.
	// +optional
	Message string `json:"message,omitempty"`
	// Batches are the last batches, oldest first.
	// +optional
	Batches []RolloutBatch `json:"batches,omitempty"`
}

// RolloutBatch is one batch of a rollout.
type RolloutBatch struct {
	Index int `json:"index"`
	Size  int `json:"size"`
	// Failed is how many of the batch failed.
	Failed    int         `json:"failed"`
	StartedAt metav1.Time `json:"startedAt"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}
