package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// BenchmarkRollout measures the progressive rollout against today's update (issue 17,
// Performance), side by side in one run on one Promise and its n requests: an update without a
// rollout policy (every request re-runs at once, as the documentation says), an update with
// kratix.io/rollout-batch-size=100% (the rollout's machinery, everything at once) and one with
// 10% (ten batches). Each round bumps RENDER_VERSION and waits until every ConfigMap is
// committed again and every request is Ready with the new version. It reports each round's wall
// time, its ratio to the round without a policy, and the manager's API requests per request.
func BenchmarkRollout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("requests=%d", n), func(b *testing.B) { benchmarkRollout(b, n) })
	}
}

// rolloutRound is one update round of BenchmarkRollout: the policy it sets.
type rolloutRound struct {
	name  string
	batch string // the rollout-batch-size annotation; empty for no policy
}

func benchmarkRollout(b *testing.B, n int) {
	ensureNamespace(b, v1alpha1.DefaultPlatformNS)
	requests := &requestCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst, cfg.UserAgent = DefaultKubeAPIQPS, DefaultKubeAPIBurst, "kratix-manager"
	cfg.Wrap(requests.wrap)
	startBenchPlatform(b, cfg)
	c, _ := benchClient(b)
	f, store := benchGitStore(b, c)
	selector := map[string]string{"kratix-bench": uniqueName("rollout")}
	benchDestination(b, c, store, "bench", selector)
	rounds := []rolloutRound{{"no-policy", ""}, {"batch-100%", "100%"}, {"batch-10%", "10%"}}

	ctx := context.Background()
	promise, gvk, ns, dir := benchPromise(b, c, selector, 1)
	start := time.Now()
	createRequests(b, c, gvk, ns, n)
	waitForRound(b, c, f, promise.Name, gvk, dir, n, "1", start)
	b.Logf("%d requests created, run and committed in %.1fs", n, time.Since(start).Seconds())

	b.ResetTimer()
	took := map[string]time.Duration{}
	for i, round := range rounds {
		version := fmt.Sprint(i + 2)
		before := requests.snapshot()
		start := time.Now()
		b.StartTimer()
		if err := updateWithPolicy(ctx, c, promise, version, round.batch); err != nil {
			b.Fatal(err)
		}
		waitForRound(b, c, f, promise.Name, gvk, dir, n, version, start)
		b.StopTimer()
		took[round.name] = time.Since(start)
		after := requests.snapshot()
		total, byKind := after.minus(before)
		batches := 0
		if err := c.Get(ctx, client.ObjectKeyFromObject(promise), promise); err != nil {
			b.Fatal(err)
		}
		if ro := promise.Status.Rollout; ro != nil && round.batch != "" {
			batches = len(ro.Batches)
		}
		b.Logf("round %s: every request re-ran and every ConfigMap committed again in %.1fs (%.2f× the round without a policy); %d batches; manager %d API requests (%.1f per request), %d writes (%.1f per request): %s",
			round.name, took[round.name].Seconds(), took[round.name].Seconds()/took["no-policy"].Seconds(), batches,
			total, float64(total)/float64(n), after.writesSince(before), float64(after.writesSince(before))/float64(n), byKind)
		b.ReportMetric(took[round.name].Seconds(), "s/update-"+round.name)
		b.ReportMetric(float64(total)/float64(n), "manager-requests/request-"+round.name)
	}
	b.ReportMetric(took["batch-100%"].Seconds()/took["no-policy"].Seconds(), "ratio-batch-100%")
	b.ReportMetric(took["batch-10%"].Seconds()/took["no-policy"].Seconds(), "ratio-batch-10%")
}

// updateWithPolicy sets RENDER_VERSION in the Promise's render pipeline and its rollout batch
// size (none when empty) in one update.
func updateWithPolicy(ctx context.Context, c client.Client, promise *v1alpha1.Promise, version, batch string) error {
	if err := c.Get(ctx, client.ObjectKeyFromObject(promise), promise); err != nil {
		return err
	}
	if promise.Annotations == nil {
		promise.Annotations = map[string]string{}
	}
	delete(promise.Annotations, v1alpha1.AnnotationRolloutBatchSize)
	if batch != "" {
		promise.Annotations[v1alpha1.AnnotationRolloutBatchSize] = batch
		promise.Annotations[v1alpha1.AnnotationRolloutMaxFailures] = "10%"
	}
	env := promise.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Env
	for i := range env {
		if env[i].Name == "RENDER_VERSION" {
			env[i].Value = version
			return c.Update(ctx, promise)
		}
	}
	return fmt.Errorf("the Promise's render pipeline has no RENDER_VERSION")
}
