package controllers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/scheduling"
)

// The figures that issue notes quote (issue 6, Performance): benchWorks Promise-level Works of one
// file each, each selecting benchDestinations Destinations on one Git store, created at once
// through the API server.
const (
	benchWorks        = 1000
	benchDestinations = 2
	// benchCreators is how many goroutines create the Works.
	benchCreators = 16
	// benchRoundTimeout bounds one round's wait for readiness and for its cleanup.
	benchRoundTimeout = 30 * time.Minute
)

// BenchmarkPlacement times benchWorks Works × benchDestinations Destinations on one Git store,
// from the first create until every WorkPlacement is Ready with a versionID, and counts the
// commits it took. Each iteration is one round in a fresh namespace; run it with -benchtime 1x.
//
// The defaults case runs the manager as production does by default (cmd/kratix: client QPS and
// burst, concurrency per controller); qps=50,concurrency=4 is the baseline of the engine's first
// defaults; qps=unlimited keeps the default concurrency and turns the client-side rate limiter
// off (as controller-runtime does when the config sets no QPS, leaving flow control to the API
// server), to show what limits the engine beyond it.
func BenchmarkPlacement(b *testing.B) {
	for _, c := range []struct {
		name        string
		qps         float32
		burst       int
		concurrency map[string]int
	}{
		{"defaults", DefaultKubeAPIQPS, DefaultKubeAPIBurst, DefaultMaxConcurrentReconciles()},
		{"qps=50,concurrency=4", 50, 100, map[string]int{"default": 4}},
		{"qps=unlimited", -1, 0, DefaultMaxConcurrentReconciles()},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkPlacement(b, c.qps, c.burst, c.concurrency) })
	}
}

func benchmarkPlacement(b *testing.B, qps float32, burst int, concurrency map[string]int) {
	ctrlmetrics.RegisterRESTClientMetrics(ctrlmetrics.MetricRateLimiterLatency)
	requests := &requestCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst, cfg.UserAgent = qps, burst, "kratix-manager"
	cfg.Wrap(requests.wrap)
	startManagerWithOptions(b, cfg, Options{
		MaxConcurrentReconciles:        concurrency,
		DefaultMaxConcurrentReconciles: concurrency["default"],
	})

	c, fastCfg := benchClient(b)

	f, store := benchGitStore(b, c)
	selector := map[string]string{"kratix-bench": uniqueName("placement")}
	for i := range benchDestinations {
		benchDestination(b, c, store, fmt.Sprintf("bench-%d", i), selector)
	}

	var total benchRound
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		r := placementRound(b, c, fastCfg, f, requests, selector)
		b.Logf("round: %d Works created in %.1fs (%.0f/s); %d WorkPlacements Ready in %.1fs; %d commits (%.1f placements/commit), %d pushes; "+
			"manager: %d API requests (%.0f/s), %.0fs waiting on the client-side rate limiter; cleanup %.1fs, %d commits",
			benchWorks, r.created.Seconds(), benchWorks/r.created.Seconds(), benchWorks*benchDestinations, r.ready.Seconds(),
			r.commits, float64(benchWorks*benchDestinations)/float64(max(r.commits, 1)), r.pushes,
			r.requests, float64(r.requests)/r.ready.Seconds(), r.throttled.Seconds(), r.cleanup.Seconds(), r.cleanupCommits)
		b.Logf("manager API requests until all Ready: %s", r.byKind)
		b.Logf("manager API requests during cleanup (%d): %s", r.cleanupRequests, r.cleanupByKind)
		total.add(r)
	}
	n := float64(b.N)
	b.ReportMetric(total.ready.Seconds()/n, "s/all-ready")
	b.ReportMetric(float64(total.commits)/n, "commits")
	b.ReportMetric(float64(benchWorks)*n/total.created.Seconds(), "creates/s")
	b.ReportMetric(float64(total.requests)/n, "api-requests")
	b.ReportMetric(total.throttled.Seconds()/n, "s-throttled")
	b.ReportMetric(total.cleanup.Seconds()/n, "s/cleanup")
}

// benchRound is what one round measured.
type benchRound struct {
	created, ready, cleanup time.Duration
	// throttled is the time the manager's requests (and the benchmark's, which are not limited)
	// waited on client-side rate limiters, summed over the requests.
	throttled               time.Duration
	commits, cleanupCommits int
	pushes                  int64
	requests                int64
	byKind                  string
	cleanupRequests         int64
	cleanupByKind           string
}

func (t *benchRound) add(r benchRound) {
	t.created += r.created
	t.ready += r.ready
	t.cleanup += r.cleanup
	t.throttled += r.throttled
	t.commits += r.commits
	t.cleanupCommits += r.cleanupCommits
	t.pushes += r.pushes
	t.requests += r.requests
}

// placementRound creates the Works in a fresh namespace, waits until all their placements are
// Ready, and deletes them again; only the first part is timed.
func placementRound(b *testing.B, c client.Client, cfg *rest.Config, f *gitFixture, requests *requestCounter, selector map[string]string) benchRound {
	ctx := context.Background()
	ns := uniqueName("bench")
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	// Polling reads a watch-fed cache of the namespace: listing 2,000 placements from the API
	// server every 200 ms would cost the API server and this process more than the manager.
	objects, err := cache.New(cfg, cache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		b.Fatal(err)
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	go func() { _ = objects.Start(cacheCtx) }()
	for _, obj := range []client.Object{&v1alpha1.WorkPlacement{}, &v1alpha1.Work{}} {
		if _, err := objects.GetInformer(ctx, obj); err != nil {
			b.Fatal(err)
		}
	}
	if !objects.WaitForCacheSync(ctx) {
		b.Fatal("the benchmark's cache did not sync")
	}
	works := make([]*v1alpha1.Work, benchWorks)
	for i := range works {
		// Each Work is one resource request's, in the namespace where its workflows would run.
		name := fmt.Sprintf("%s-%04d", ns, i)
		content, err := v1alpha1.EncodeContent([]byte(namespaceManifest(name)))
		if err != nil {
			b.Fatal(err)
		}
		works[i] = &v1alpha1.Work{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha1.WorkSpec{
				PromiseName:       "bench",
				ResourceName:      name,
				ResourceNamespace: ns,
				WorkloadGroups: []v1alpha1.WorkloadGroup{{
					ID:        scheduling.GroupID(v1alpha1.RootDirectory),
					Directory: v1alpha1.RootDirectory,
					Workloads: []v1alpha1.Workload{{Filepath: "manifest.yaml", Content: content}},
					DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
						{MatchLabels: selector, Source: v1alpha1.SelectorSourcePromise},
					},
				}},
			},
		}
	}
	var r benchRound
	commitsBefore := f.commits(b)
	pushesBefore := f.server.Stats().ReceivePacks
	requestsBefore := requests.snapshot()
	throttledBefore := rateLimiterWait(b)

	profiled := profileAPIServer(b, 15*time.Second)
	defer profiled()
	b.StartTimer()
	start := time.Now()
	createAll(b, c, works)
	r.created = time.Since(start)
	want := benchWorks * benchDestinations
	lastLog := start
	testenv.Eventually(b, "the WorkPlacements are Ready", time.Until(start.Add(benchRoundTimeout)), 200*time.Millisecond, func() error {
		var list v1alpha1.WorkPlacementList
		if err := objects.List(ctx, &list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			b.Fatal(err)
		}
		ready := 0
		for i := range list.Items {
			wp := &list.Items[i]
			if meta.IsStatusConditionTrue(wp.Status.Conditions, v1alpha1.ConditionReady) && wp.Status.VersionID != "" {
				ready++
			}
		}
		if ready == want {
			return nil
		}
		if now := time.Now(); testing.Verbose() && now.Sub(lastLog) >= 10*time.Second {
			b.Logf("%.0fs: %d WorkPlacements exist, %d Ready, %d commits", now.Sub(start).Seconds(), len(list.Items), ready, f.commits(b)-commitsBefore)
			lastLog = now
		}
		return fmt.Errorf("%d of %d WorkPlacements (%d exist) Ready", ready, want, len(list.Items))
	})
	r.ready = time.Since(start)
	b.StopTimer()
	r.commits = f.commits(b) - commitsBefore
	if got := benchFilesOf(b, f, ns); got != want {
		b.Errorf("%d files of the round's Works on main, want %d", got, want)
	}
	r.pushes = f.server.Stats().ReceivePacks - pushesBefore
	after := requests.snapshot()
	r.requests, r.byKind = after.minus(requestsBefore)
	r.throttled = rateLimiterWait(b) - throttledBefore

	// Cleanup: the Works' finalizers delete their placements, whose finalizers remove the files.
	cleanupStart := time.Now()
	commitsBefore = f.commits(b)
	if err := c.DeleteAllOf(ctx, &v1alpha1.Work{}, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	testenv.Eventually(b, "cleanup", time.Until(cleanupStart.Add(benchRoundTimeout)), 500*time.Millisecond, func() error {
		var wps v1alpha1.WorkPlacementList
		var ws v1alpha1.WorkList
		if err := objects.List(ctx, &wps, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		if err := objects.List(ctx, &ws, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		if len(wps.Items) != 0 || len(ws.Items) != 0 {
			return fmt.Errorf("%d Works and %d WorkPlacements left", len(ws.Items), len(wps.Items))
		}
		return nil
	})
	r.cleanup = time.Since(cleanupStart)
	r.cleanupCommits = f.commits(b) - commitsBefore
	r.cleanupRequests, r.cleanupByKind = requests.snapshot().minus(after)
	return r
}

// createAll creates the Works from benchCreators goroutines.
func createAll(b *testing.B, c client.Client, works []*v1alpha1.Work) {
	next := make(chan *v1alpha1.Work)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range benchCreators {
		wg.Go(func() {
			for w := range next {
				if err := c.Create(context.Background(), w); err != nil {
					err = fmt.Errorf("create Work %s: %w", w.Name, err)
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	for _, w := range works {
		next <- w
	}
	close(next)
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// benchClient is the benchmark's own client, which is never the bottleneck, and its config.
func benchClient(b *testing.B) (client.Client, *rest.Config) {
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 10000, 20000
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	return c, cfg
}

// benchGitStore starts a Git server with a repository and creates a GitStateStore on it, Ready.
func benchGitStore(b *testing.B, c client.Client) (*gitFixture, *v1alpha1.GitStateStore) {
	f := &gitFixture{server: gitserver.NewHTTP(b, gitserver.HTTPOptions{}), repo: "state.git"}
	if _, err := f.server.CreateRepo(f.repo, "main"); err != nil {
		b.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: storeSecretMeta(b, uniqueName("git-creds")),
		Data: map[string][]byte{
			v1alpha1.SecretKeyUsername: []byte(f.server.Username()),
			v1alpha1.SecretKeyPassword: []byte(f.server.Password()),
		},
	}
	store := f.gitStore(uniqueName("git"), secret.Name)
	benchCreate(b, c, secret)
	benchCreate(b, c, store)
	benchWaitReady(b, c, store, v1alpha1.ReasonStateStoreReady)
	return f, store
}

// benchDestination creates a Destination with the labels on the store, at path, and waits until
// its canary files are written.
func benchDestination(b *testing.B, c client.Client, store *v1alpha1.GitStateStore, path string, labels map[string]string) *v1alpha1.Destination {
	dest := &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("bench-dest"), Labels: labels},
		Spec: v1alpha1.DestinationSpec{
			StateStoreRef: v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: store.Name},
			Path:          path,
		},
	}
	benchCreate(b, c, dest)
	benchWaitReady(b, c, dest, v1alpha1.ReasonTestDocumentsWritten)
	return dest
}

// benchCreate creates obj and deletes it when the benchmark ends, waiting until it is gone.
func benchCreate(b *testing.B, c client.Client, obj client.Object) {
	b.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		b.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
	b.Cleanup(func() {
		ctx := context.Background()
		if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			b.Errorf("delete %T %s: %v", obj, obj.GetName(), err)
			return
		}
		probe := obj.DeepCopyObject().(client.Object)
		benchPoll(b, fmt.Sprintf("%T %s is gone", obj, obj.GetName()), func() error {
			err := c.Get(ctx, client.ObjectKeyFromObject(obj), probe)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("still there, finalizers %v", probe.GetFinalizers())
		})
	})
}

// benchWaitReady waits until the store or Destination is Ready=True with the reason.
func benchWaitReady(b *testing.B, c client.Client, obj client.Object, reason string) {
	b.Helper()
	benchPoll(b, fmt.Sprintf("%T %s Ready", obj, obj.GetName()), func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *v1alpha1.GitStateStore:
			conds = o.Status.Conditions
		case *v1alpha1.Destination:
			conds = o.Status.Conditions
		}
		cond := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != reason {
			return fmt.Errorf("Ready condition %+v", cond)
		}
		return nil
	})
}

// benchPoll is waitFor for benchmarks, with a minute for the slower setup under load.
func benchPoll(b *testing.B, what string, check func() error) {
	b.Helper()
	testenv.Eventually(b, what, time.Minute, 100*time.Millisecond, check)
}

// benchFilesOf counts the files on main whose path names the round's namespace (the Promises'
// names start with it).
func benchFilesOf(b *testing.B, f *gitFixture, ns string) int {
	b.Helper()
	out, err := f.server.Git(context.Background(), f.repo, "ls-tree", "-r", "--name-only", "main")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, p := range strings.Fields(out) {
		if strings.Contains(p, "/"+ns+"-") {
			n++
		}
	}
	return n
}

// rateLimiterWait is the total time requests in this process have waited on client-side rate
// limiters (controller-runtime's rest_client_rate_limiter_duration_seconds).
func rateLimiterWait(b *testing.B) time.Duration {
	b.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, mf := range families {
		if mf.GetName() != "rest_client_rate_limiter_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetHistogram().GetSampleSum()
		}
	}
	return time.Duration(sum * float64(time.Second))
}

// requestCounter counts the manager's API requests by verb and resource.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int64
}

type requestCounts map[string]int64

func (c *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		key := requestKind(req)
		if err == nil && resp.StatusCode >= 400 {
			key += fmt.Sprintf("(%d)", resp.StatusCode)
		}
		c.mu.Lock()
		if c.counts == nil {
			c.counts = map[string]int64{}
		}
		c.counts[key]++
		c.mu.Unlock()
		return resp, err
	})
}

func (c *requestCounter) snapshot() requestCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(requestCounts, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// minus returns the number of requests since before, and them by kind, most first.
func (c requestCounts) minus(before requestCounts) (int64, string) {
	type kv struct {
		k string
		v int64
	}
	var total int64
	var kinds []kv
	for k, v := range c {
		if d := v - before[k]; d > 0 {
			kinds = append(kinds, kv{k, d})
			total += d
		}
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].v > kinds[j].v })
	parts := make([]string, 0, len(kinds))
	for _, e := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", e.k, e.v))
	}
	return total, strings.Join(parts, " ")
}

// writesSince is the number of writes (POST, PUT, PATCH, DELETE) since before, refused ones
// included.
func (c requestCounts) writesSince(before requestCounts) int64 {
	var n int64
	for k, v := range c {
		verb, _, _ := strings.Cut(k, " ")
		switch verb {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			n += v - before[k]
		}
	}
	return n
}

// requestKind is "VERB resource[/subresource]" of an API request.
func requestKind(req *http.Request) string {
	segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		rest = segs[3:]
	default:
		return req.Method + " " + req.URL.Path
	}
	if len(rest) > 2 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	kind := rest[0]
	if len(rest) >= 3 {
		kind += "/" + rest[2]
	}
	verb := req.Method
	if req.URL.Query().Get("watch") == "true" {
		verb = "WATCH"
	}
	return verb + " " + kind
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// profileAPIServer takes a CPU profile of the API server for d into the file that
// $KRATIX_BENCH_APISERVER_CPUPROFILE names, if set, and returns a function that waits for it
// (go tool pprof bin/kube-apiserver <file> reads it).
func profileAPIServer(b *testing.B, d time.Duration) func() {
	path := os.Getenv("KRATIX_BENCH_APISERVER_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	rc := apiServerClient(b, d+time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		data, err := rc.Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(int(d.Seconds()))).DoRaw(context.Background())
		if err == nil {
			err = os.WriteFile(path, data, 0o644)
		}
		if err != nil {
			b.Errorf("profile the API server: %v", err)
		}
	}()
	return func() { <-done }
}

// apiServerClient is a client of the API server's own paths (/metrics, /debug/pprof).
func apiServerClient(b *testing.B, timeout time.Duration) *rest.RESTClient {
	rc, err := rest.RESTClientFor(&rest.Config{Host: env.Config.Host, TLSClientConfig: env.Config.TLSClientConfig, BearerToken: env.Config.BearerToken,
		ContentConfig: rest.ContentConfig{NegotiatedSerializer: scheme.Codecs.WithoutConversion(), GroupVersion: &schema.GroupVersion{}}, Timeout: timeout})
	if err != nil {
		b.Fatal(err)
	}
	return rc
}
