package controllers

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kratix.dev/kratix/api/v1alpha1"
)

// maxRolloutBatches is how many batches a Promise's status keeps.
const maxRolloutBatches = 20

// rolloutPolicy is a Promise's rollout policy, from its annotations.
type rolloutPolicy struct {
	// batch and maxFailures are counts, or percentages of the rollout's requests when the
	// matching percent is set.
	batch, maxFailures               int
	batchPercent, maxFailuresPercent bool
	canaries                         labels.Selector
	paused, abort                    bool
}

// allAtOnce reports whether the policy re-runs every request at once, with nothing to pause or
// abort: a batch of 100% admits everyone in its first batch, so requests need no admission.
func (p rolloutPolicy) allAtOnce() bool {
	return p.batchPercent && p.batch == 100 && !p.paused && !p.abort
}

// parseRolloutPolicy reads the policy of the Promise's annotations.
func parseRolloutPolicy(annotations map[string]string) (rolloutPolicy, error) {
	p := rolloutPolicy{maxFailures: 1}
	var err error
	if p.batch, p.batchPercent, err = countOrPercent(annotations[v1alpha1.AnnotationRolloutBatchSize]); err != nil {
		return p, fmt.Errorf("%s: %w", v1alpha1.AnnotationRolloutBatchSize, err)
	}
	if v, ok := annotations[v1alpha1.AnnotationRolloutMaxFailures]; ok {
		if p.maxFailures, p.maxFailuresPercent, err = countOrPercent(v); err != nil {
			return p, fmt.Errorf("%s: %w", v1alpha1.AnnotationRolloutMaxFailures, err)
		}
	}
	selector := v1alpha1.DefaultCanarySelector
	if v, ok := annotations[v1alpha1.AnnotationRolloutCanarySelector]; ok {
		selector = v
	}
	if p.canaries, err = labels.Parse(selector); err != nil {
		return p, fmt.Errorf("%s: %w", v1alpha1.AnnotationRolloutCanarySelector, err)
	}
	switch v := annotations[v1alpha1.AnnotationRollout]; v {
	case "":
	case v1alpha1.RolloutPaused:
		p.paused = true
	case v1alpha1.RolloutAbort:
		p.abort = true
	default:
		return p, fmt.Errorf("%s: %q is neither %q nor %q", v1alpha1.AnnotationRollout, v, v1alpha1.RolloutPaused, v1alpha1.RolloutAbort)
	}
	return p, nil
}

// countOrPercent parses "10" or "10%" (a positive count, or a percentage from 1 to 100).
func countOrPercent(s string) (n int, percent bool, err error) {
	v := strings.TrimSpace(s)
	if percent = strings.HasSuffix(v, "%"); percent {
		v = strings.TrimSuffix(v, "%")
	}
	n, err = strconv.Atoi(v)
	if err != nil || n < 1 || (percent && n > 100) {
		return 0, false, fmt.Errorf("%q is not a positive count or a percentage from 1%% to 100%%", s)
	}
	return n, percent, nil
}

// of resolves a count or a percentage of total, at least one.
func of(n int, percent bool, total int) int {
	if !percent {
		return n
	}
	return max(1, int(math.Ceil(float64(n)*float64(total)/100)))
}

// rolloutRequest is what the rollout needs of one request that follows the latest revision.
type rolloutRequest struct {
	// key is namespace/name: the stable order of the rollout.
	key    string
	canary bool
	// admitted is the spec digest a rollout admitted the request to (kratix.io/rollout-spec).
	admitted string
	// ran is the spec digest its Configure workflow last ran or runs.
	ran string
	// done and failed: the workflow finished or failed for ran.
	done, failed bool
}

// rolloutPlan is what a rollout does next: the new status, the requests to admit (or send back,
// on an abort) with the digest to write on each, and the Events to record.
type rolloutPlan struct {
	status v1alpha1.RolloutStatus
	// admit maps a request's key to the digest to write in its kratix.io/rollout-spec.
	admit  map[string]string
	events []rolloutEvent
}

// rolloutEvent is an Event on the Promise.
type rolloutEvent struct {
	warning bool
	reason  string
	message string
}

// rolloutTarget is a revision at either end of a rollout.
type rolloutTarget struct {
	revision, hash string
}

// planRollout moves the rollout from prev (nil for none yet) towards the target: it starts a new
// rollout when the target changed (from the spec the previous one left the requests at), counts
// the requests updated, failed and waiting, stops on the failure gate, pauses, aborts by sending
// the admitted requests back, and otherwise admits the next batch once the last one settled:
// requests stuck at another revision first, then canaries, then the rest, each by key. It is
// pure; previous is the latest revision before the Promise's spec changed.
func planRollout(prev *v1alpha1.RolloutStatus, policy rolloutPolicy, invalid error, target, previous rolloutTarget, requests []rolloutRequest, now time.Time) rolloutPlan {
	plan := rolloutPlan{admit: map[string]string{}}
	s := &plan.status
	switch {
	case prev != nil && prev.ToSpecHash == target.hash:
		*s = *prev.DeepCopy()
	case prev != nil:
		s.FromRevision, s.FromSpecHash = prev.FromRevision, prev.FromSpecHash
		if prev.Phase == v1alpha1.RolloutPhaseComplete {
			s.FromRevision, s.FromSpecHash = prev.ToRevision, prev.ToSpecHash
		}
	case previous.hash != "":
		s.FromRevision, s.FromSpecHash = previous.revision, previous.hash
	default:
		s.FromRevision, s.FromSpecHash = target.revision, target.hash
	}
	started := s.ToSpecHash != target.hash
	s.ToRevision, s.ToSpecHash = target.revision, target.hash
	if started {
		s.Batches, s.Phase = nil, ""
	}
	t, h := target.hash, s.FromSpecHash
	var waiting []rolloutRequest
	running, admittedRunning := 0, 0
	s.Total, s.Updated, s.Failed, s.Waiting = len(requests), 0, 0, 0
	for _, r := range requests {
		switch {
		case r.ran == t && r.done:
			s.Updated++
		case r.ran == t && r.failed:
			s.Failed++
		case r.ran == t || r.admitted == t:
			running++
			if r.admitted == t {
				admittedRunning++
			}
		default:
			waiting = append(waiting, r)
		}
	}
	if admittedRunning > 0 && (len(s.Batches) == 0 || s.Batches[len(s.Batches)-1].FinishedAt != nil) {
		// Admitted by a reconcile whose status write was lost (a conflict, a restart): the
		// batch is under way all the same.
		s.Batches = append(s.Batches, v1alpha1.RolloutBatch{Index: lastBatchIndex(s) + 1, Size: admittedRunning, StartedAt: metav1.NewTime(now)})
	}
	s.Waiting = len(waiting)
	s.Summary = fmt.Sprintf("%d/%d", s.Updated, s.Total)
	if started && s.Total > 0 && s.Updated < s.Total {
		plan.event(false, v1alpha1.ReasonRolloutStarted, "rollout from %s to %s started: %d requests", orNone(s.FromRevision), s.ToRevision, s.Total)
	}
	settleBatch(s, running, now, &plan)
	maxFailures := of(policy.maxFailures, policy.maxFailuresPercent, s.Total)
	phase, message := s.Phase, ""
	switch {
	case invalid != nil:
		phase, message = v1alpha1.RolloutPhasePaused, fmt.Sprintf("the rollout policy is invalid, so no batch starts: %v", invalid)
	case policy.abort && t != h:
		phase, message = v1alpha1.RolloutPhaseAborted, fmt.Sprintf("aborted: the requests the rollout reached go back to %s; change the Promise to start a new rollout", orNone(s.FromRevision))
		for _, r := range requests {
			if (r.admitted == t || r.ran == t) && r.admitted != h {
				plan.admit[r.key] = h
			}
		}
	case s.Failed >= maxFailures && s.Failed > 0:
		phase, message = v1alpha1.RolloutPhaseHalted, fmt.Sprintf("halted after %d failed requests (at most %d may fail): %d requests keep the output of %s; fix the Promise to start a new rollout, or fix the failed requests", s.Failed, maxFailures, s.Waiting, orNone(s.FromRevision))
	case s.Waiting == 0 && running == 0:
		phase, message = v1alpha1.RolloutPhaseComplete, fmt.Sprintf("%d requests run %s", s.Updated, s.ToRevision)
		if s.Failed > 0 {
			message += fmt.Sprintf("; %d failed", s.Failed)
		}
	case policy.paused:
		phase, message = v1alpha1.RolloutPhasePaused, fmt.Sprintf("paused by %s=%s: %d requests wait", v1alpha1.AnnotationRollout, v1alpha1.RolloutPaused, s.Waiting)
	default:
		phase = v1alpha1.RolloutPhaseProgressing
		if running == 0 && len(waiting) > 0 {
			next := nextBatch(waiting, of(policy.batch, policy.batchPercent, s.Total), h)
			for _, r := range next {
				plan.admit[r.key] = t
			}
			s.Batches = append(s.Batches, v1alpha1.RolloutBatch{Index: lastBatchIndex(s) + 1, Size: len(next), StartedAt: metav1.NewTime(now)})
			if len(s.Batches) > maxRolloutBatches {
				s.Batches = s.Batches[len(s.Batches)-maxRolloutBatches:]
			}
			plan.event(false, v1alpha1.ReasonRolloutBatch, "batch %d: %d requests run %s (%s); %d updated, %d failed, %d waiting", lastBatchIndex(s), len(next), s.ToRevision, keysOf(next), s.Updated, s.Failed, s.Waiting-len(next))
			s.Waiting -= len(next)
		}
		message = fmt.Sprintf("%d of %d requests updated, %d failed, %d waiting", s.Updated, s.Total, s.Failed, s.Waiting)
	}
	plan.transition(s.Phase, phase, s, message)
	s.Phase, s.Message = phase, message
	return plan
}

// settleBatch closes the last batch once none of the rollout's requests runs.
func settleBatch(s *v1alpha1.RolloutStatus, running int, now time.Time, plan *rolloutPlan) {
	if len(s.Batches) == 0 || running > 0 {
		return
	}
	last := &s.Batches[len(s.Batches)-1]
	if last.FinishedAt != nil {
		return
	}
	failedBefore := 0
	for _, b := range s.Batches[:len(s.Batches)-1] {
		failedBefore += b.Failed
	}
	last.Failed = max(0, s.Failed-failedBefore)
	finished := metav1.NewTime(now)
	last.FinishedAt = &finished
	plan.event(false, v1alpha1.ReasonRolloutBatchDone, "batch %d completed: %d requests, %d failed", last.Index, last.Size, last.Failed)
}

// lastBatchIndex is the index of the last batch, 0 for none.
func lastBatchIndex(s *v1alpha1.RolloutStatus) int {
	if len(s.Batches) == 0 {
		return 0
	}
	return s.Batches[len(s.Batches)-1].Index
}

// nextBatch picks up to n waiting requests: those at neither end of the rollout first (a
// previous rollout left them at another revision, often failed), then canaries, then the rest,
// each group by key.
func nextBatch(waiting []rolloutRequest, n int, from string) []rolloutRequest {
	rank := func(r rolloutRequest) int {
		switch {
		case r.ran != "" && r.ran != from:
			return 0
		case r.canary:
			return 1
		default:
			return 2
		}
	}
	sort.SliceStable(waiting, func(i, j int) bool {
		ri, rj := rank(waiting[i]), rank(waiting[j])
		if ri != rj {
			return ri < rj
		}
		return waiting[i].key < waiting[j].key
	})
	return waiting[:min(n, len(waiting))]
}

// keysOf lists the first requests of a batch for an Event.
func keysOf(batch []rolloutRequest) string {
	const shown = 10
	keys := make([]string, 0, shown)
	for _, r := range batch[:min(shown, len(batch))] {
		keys = append(keys, r.key)
	}
	if len(batch) > shown {
		keys = append(keys, fmt.Sprintf("and %d more", len(batch)-shown))
	}
	return strings.Join(keys, ", ")
}

// transition records the Event of a change of phase.
func (p *rolloutPlan) transition(from, to string, s *v1alpha1.RolloutStatus, message string) {
	if from == to {
		return
	}
	switch to {
	case v1alpha1.RolloutPhaseComplete:
		if from != "" || s.Total > 0 {
			p.event(false, v1alpha1.ReasonRolloutCompleted, "rollout to %s complete: %s", s.ToRevision, message)
		}
	case v1alpha1.RolloutPhaseHalted:
		p.event(true, v1alpha1.ReasonRolloutHalted, "rollout to %s %s", s.ToRevision, message)
	case v1alpha1.RolloutPhaseAborted:
		p.event(true, v1alpha1.ReasonRolloutAborted, "rollout to %s %s", s.ToRevision, message)
	case v1alpha1.RolloutPhasePaused:
		p.event(false, v1alpha1.ReasonRolloutPaused, "rollout to %s %s", s.ToRevision, message)
	case v1alpha1.RolloutPhaseProgressing:
		if from == v1alpha1.RolloutPhasePaused || from == v1alpha1.RolloutPhaseHalted {
			p.event(false, v1alpha1.ReasonRolloutResumed, "rollout to %s resumed", s.ToRevision)
		}
	}
}

func (p *rolloutPlan) event(warning bool, reason, format string, args ...any) {
	p.events = append(p.events, rolloutEvent{warning: warning, reason: reason, message: fmt.Sprintf(format, args...)})
}

// orNone names a revision, or says there is none.
func orNone(name string) string {
	if name == "" {
		return "(no revision)"
	}
	return name
}
