package controllers

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

func TestParseRolloutPolicy(t *testing.T) {
	for _, tt := range []struct {
		name        string
		annotations map[string]string
		wantErr     string
		check       func(rolloutPolicy) bool
	}{
		{"count", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "10"}, "", func(p rolloutPolicy) bool {
			return p.batch == 10 && !p.batchPercent && p.maxFailures == 1
		}},
		{"percentages", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "10%", v1alpha1.AnnotationRolloutMaxFailures: "5%"}, "", func(p rolloutPolicy) bool {
			return p.batch == 10 && p.batchPercent && p.maxFailures == 5 && p.maxFailuresPercent
		}},
		{"paused", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "1", v1alpha1.AnnotationRollout: "paused"}, "", func(p rolloutPolicy) bool { return p.paused && !p.abort }},
		{"abort", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "1", v1alpha1.AnnotationRollout: "abort"}, "", func(p rolloutPolicy) bool { return p.abort }},
		{"zero batch", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "0"}, v1alpha1.AnnotationRolloutBatchSize, nil},
		{"over 100%", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "150%"}, v1alpha1.AnnotationRolloutBatchSize, nil},
		{"words", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "2", v1alpha1.AnnotationRolloutMaxFailures: "few"}, v1alpha1.AnnotationRolloutMaxFailures, nil},
		{"bad selector", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "2", v1alpha1.AnnotationRolloutCanarySelector: "a=(b"}, v1alpha1.AnnotationRolloutCanarySelector, nil},
		{"bad state", map[string]string{v1alpha1.AnnotationRolloutBatchSize: "2", v1alpha1.AnnotationRollout: "stop"}, v1alpha1.AnnotationRollout, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseRolloutPolicy(tt.annotations)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one naming %s", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.check != nil && !tt.check(p):
				t.Errorf("policy %+v", p)
			}
		})
	}
}

func TestPlanRollout(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	from := rolloutTarget{revision: "p-v1", hash: "h1"}
	to := rolloutTarget{revision: "p-v2", hash: "h2"}
	policy := func(batch, maxFailures int) rolloutPolicy {
		p, err := parseRolloutPolicy(map[string]string{v1alpha1.AnnotationRolloutBatchSize: itoa(batch), v1alpha1.AnnotationRolloutMaxFailures: itoa(maxFailures)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	at := func(hash string, keys ...string) []rolloutRequest {
		var out []rolloutRequest
		for _, k := range keys {
			out = append(out, rolloutRequest{key: k, ran: hash, done: true})
		}
		return out
	}
	inProgress := &v1alpha1.RolloutStatus{FromRevision: from.revision, FromSpecHash: from.hash, ToRevision: to.revision, ToSpecHash: to.hash,
		Phase: v1alpha1.RolloutPhaseProgressing, Batches: []v1alpha1.RolloutBatch{{Index: 1, Size: 2, StartedAt: metav1.NewTime(now)}}}
	for _, tt := range []struct {
		name     string
		prev     *v1alpha1.RolloutStatus
		policy   rolloutPolicy
		invalid  error
		previous rolloutTarget
		requests []rolloutRequest
		// want: phase, the admissions, updated/failed/waiting and the Event reasons.
		phase                    string
		admit                    map[string]string
		updated, failed, waiting int
		events                   []string
		// batches, when set, is how many batches the status must hold.
		batches int
	}{{
		name: "a new Promise has nothing to roll out", policy: policy(2, 1), phase: v1alpha1.RolloutPhaseComplete,
		admit: map[string]string{},
	}, {
		name: "a change starts with the first batch in key order", policy: policy(2, 1), previous: from,
		requests: at("h1", "ns/c", "ns/a", "ns/b"), phase: v1alpha1.RolloutPhaseProgressing,
		admit: map[string]string{"ns/a": "h2", "ns/b": "h2"}, waiting: 1,
		events: []string{v1alpha1.ReasonRolloutStarted, v1alpha1.ReasonRolloutBatch},
	}, {
		name: "canaries go first", policy: policy(1, 1), previous: from,
		requests: append(at("h1", "ns/a"), rolloutRequest{key: "ns/z", ran: "h1", done: true, canary: true}), phase: v1alpha1.RolloutPhaseProgressing,
		admit: map[string]string{"ns/z": "h2"}, waiting: 1,
		events: []string{v1alpha1.ReasonRolloutStarted, v1alpha1.ReasonRolloutBatch},
	}, {
		name: "a batch under way admits nobody", prev: inProgress, policy: policy(2, 1),
		requests: append(at("h1", "ns/c"), rolloutRequest{key: "ns/a", admitted: "h2", ran: "h2"}, rolloutRequest{key: "ns/b", admitted: "h2", ran: "h1", done: true}),
		phase:    v1alpha1.RolloutPhaseProgressing, admit: map[string]string{}, waiting: 1,
	}, {
		name: "a settled batch under the gate lets the next one start", prev: inProgress, policy: policy(2, 2),
		requests: append(at("h1", "ns/c", "ns/d", "ns/e"), rolloutRequest{key: "ns/a", admitted: "h2", ran: "h2", failed: true}, rolloutRequest{key: "ns/b", admitted: "h2", ran: "h2", done: true}),
		phase:    v1alpha1.RolloutPhaseProgressing, admit: map[string]string{"ns/c": "h2", "ns/d": "h2"}, updated: 1, failed: 1, waiting: 1,
		events: []string{v1alpha1.ReasonRolloutBatchDone, v1alpha1.ReasonRolloutBatch},
	}, {
		name: "the failure gate halts", prev: inProgress, policy: policy(2, 2),
		requests: append(at("h1", "ns/c"), rolloutRequest{key: "ns/a", admitted: "h2", ran: "h2", failed: true}, rolloutRequest{key: "ns/b", admitted: "h2", ran: "h2", failed: true}),
		phase:    v1alpha1.RolloutPhaseHalted, admit: map[string]string{}, failed: 2, waiting: 1,
		events: []string{v1alpha1.ReasonRolloutBatchDone, v1alpha1.ReasonRolloutHalted},
	}, {
		name: "paused: no batch starts", prev: inProgress, policy: func() rolloutPolicy { p := policy(2, 1); p.paused = true; return p }(),
		requests: append(at("h1", "ns/c"), at("h2", "ns/a", "ns/b")...),
		phase:    v1alpha1.RolloutPhasePaused, admit: map[string]string{}, updated: 2, waiting: 1,
		events: []string{v1alpha1.ReasonRolloutBatchDone, v1alpha1.ReasonRolloutPaused},
	}, {
		name: "abort sends the reached requests back", prev: inProgress, policy: func() rolloutPolicy { p := policy(2, 1); p.abort = true; return p }(),
		requests: append(at("h1", "ns/c"), rolloutRequest{key: "ns/a", admitted: "h2", ran: "h2", done: true}, rolloutRequest{key: "ns/b", ran: "h2"}),
		phase:    v1alpha1.RolloutPhaseAborted, admit: map[string]string{"ns/a": "h1", "ns/b": "h1"}, updated: 1, waiting: 1,
		events: []string{v1alpha1.ReasonRolloutAborted},
	}, {
		name: "a new target after a halt keeps the baseline and takes the failed first", policy: policy(1, 1),
		prev:     &v1alpha1.RolloutStatus{FromRevision: "p-v1", FromSpecHash: "h1", ToRevision: "p-v2", ToSpecHash: "h2", Phase: v1alpha1.RolloutPhaseHalted},
		requests: append(at("h1", "ns/a"), rolloutRequest{key: "ns/b", admitted: "h2", ran: "h2", failed: true}),
		phase:    v1alpha1.RolloutPhaseProgressing, admit: map[string]string{"ns/b": "h3"}, waiting: 1,
		events: []string{v1alpha1.ReasonRolloutStarted, v1alpha1.ReasonRolloutBatch},
	}, {
		name: "an invalid policy pauses", prev: inProgress, policy: policy(2, 1), invalid: errors.New("bad"),
		requests: at("h1", "ns/a", "ns/b", "ns/c"), phase: v1alpha1.RolloutPhasePaused, admit: map[string]string{}, waiting: 3,
		events: []string{v1alpha1.ReasonRolloutBatchDone, v1alpha1.ReasonRolloutPaused},
	}, {
		name: "admissions whose status write was lost are the batch under way", policy: policy(2, 1), previous: from,
		prev:     &v1alpha1.RolloutStatus{FromRevision: "p-v0", FromSpecHash: "h0", ToRevision: "p-v1", ToSpecHash: "h1", Phase: v1alpha1.RolloutPhaseComplete},
		requests: append(at("h1", "ns/c"), rolloutRequest{key: "ns/a", admitted: "h2", ran: "h1", done: true}, rolloutRequest{key: "ns/b", admitted: "h2", ran: "h2"}),
		phase:    v1alpha1.RolloutPhaseProgressing, admit: map[string]string{}, waiting: 1, batches: 1,
		events: []string{v1alpha1.ReasonRolloutStarted},
	}, {
		name: "all updated completes", prev: inProgress, policy: policy(2, 1),
		requests: at("h2", "ns/a", "ns/b"), phase: v1alpha1.RolloutPhaseComplete, admit: map[string]string{}, updated: 2,
		events: []string{v1alpha1.ReasonRolloutBatchDone, v1alpha1.ReasonRolloutCompleted},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			target := to
			if strings.Contains(tt.name, "new target") {
				target = rolloutTarget{revision: "p-v3", hash: "h3"}
			}
			plan := planRollout(tt.prev, tt.policy, tt.invalid, target, tt.previous, tt.requests, now)
			s := plan.status
			if s.Phase != tt.phase {
				t.Errorf("phase %s (%s), want %s", s.Phase, s.Message, tt.phase)
			}
			if !maps.Equal(plan.admit, tt.admit) {
				t.Errorf("admit %v, want %v", plan.admit, tt.admit)
			}
			if s.Updated != tt.updated || s.Failed != tt.failed || s.Waiting != tt.waiting || s.Total != len(tt.requests) {
				t.Errorf("updated %d failed %d waiting %d total %d, want %d %d %d %d", s.Updated, s.Failed, s.Waiting, s.Total, tt.updated, tt.failed, tt.waiting, len(tt.requests))
			}
			var reasons []string
			for _, e := range plan.events {
				reasons = append(reasons, e.reason)
			}
			if tt.batches > 0 && len(s.Batches) != tt.batches {
				t.Errorf("batches %+v, want %d", s.Batches, tt.batches)
			}
			if !slices.Equal(reasons, tt.events) {
				t.Errorf("events %v, want %v", reasons, tt.events)
			}
			if strings.Contains(tt.name, "new target") && (s.FromSpecHash != "h1" || s.ToSpecHash != "h3") {
				t.Errorf("from %s to %s, want h1 to h3", s.FromSpecHash, s.ToSpecHash)
			}
		})
	}
}

func TestRolloutPercentages(t *testing.T) {
	for _, tt := range []struct {
		n       int
		percent bool
		total   int
		want    int
	}{{10, true, 25, 3}, {10, true, 5, 1}, {100, true, 7, 7}, {4, false, 2, 4}} {
		if got := of(tt.n, tt.percent, tt.total); got != tt.want {
			t.Errorf("of(%d, %v, %d) = %d, want %d", tt.n, tt.percent, tt.total, got, tt.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
