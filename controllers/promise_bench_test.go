package controllers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/internal/memlimit"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/metrics/metricstest"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/pipeline/local"
)

// BenchmarkPromiseUpdate is the engine end to end in local mode (issue 7, Performance): the
// manager with the production defaults (cmd/kratix) and the local job runner with its default
// parallelism, which runs every pipeline Job as host processes. The Promise carries the
// workflows example's render pipeline (`sh`, one ConfigMap per request, stamped with
// RENDER_VERSION). A round creates n requests and waits until every ConfigMap is committed
// with version 1 and every request is Ready; then it bumps RENDER_VERSION in the Promise and
// waits until every request has re-run (its status says version 2) and every ConfigMap in Git
// says "2". Run it with -benchtime 1x; each round has its own Promise. It reports the manager's
// API requests, and among them its writes, per request of each round: the create round's are
// what a new request costs, the update round's what a re-run costs, and where the update
// round's time and CPU went. KRATIX_BENCH_PROCESS_STEPS=1 runs the engine's steps as processes
// (local.Runner.ProcessSteps), side by side with their default, the runner's process.
func BenchmarkPromiseUpdate(b *testing.B) {
	// 10,000 takes hours on a 2-core machine: make bench-scale, not bench-e2e. Other sizes:
	// KRATIX_BENCH_REQUESTS=3000 runs requests=3000 alone.
	sizes := []int{100, 1000, 10_000}
	if v := os.Getenv("KRATIX_BENCH_REQUESTS"); v != "" {
		sizes = []int{positiveEnv(b, "KRATIX_BENCH_REQUESTS", v)}
	}
	// KRATIX_BENCH_NAMESPACES=10 spreads the requests over 10 namespaces, as a platform's teams
	// would: the API server authorises a pipeline's request against every RoleBinding of its
	// namespace, one per request there (docs/scale.md §3).
	spread := 1
	if v := os.Getenv("KRATIX_BENCH_NAMESPACES"); v != "" {
		spread = positiveEnv(b, "KRATIX_BENCH_NAMESPACES", v)
	}
	for _, n := range sizes {
		name := fmt.Sprintf("requests=%d", n)
		if spread > 1 {
			name += fmt.Sprintf(",namespaces=%d", spread)
		}
		b.Run(name, func(b *testing.B) { benchmarkPromiseUpdate(b, n, spread) })
	}
}

// positiveEnv is the value v of the environment variable name, which must be a positive number.
func positiveEnv(b *testing.B, name, v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func benchmarkPromiseUpdate(b *testing.B, n, spread int) {
	ensureNamespace(b, v1alpha1.DefaultPlatformNS)
	// As in the Deployment, whose container's limit is 1 GiB (config/manager, memlimit.Apply).
	defer debug.SetMemoryLimit(debug.SetMemoryLimit((1 << 30) / 100 * memlimit.Percent))
	resetPeakRSS(b)
	requests := &requestCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst, cfg.UserAgent = DefaultKubeAPIQPS, DefaultKubeAPIBurst, "kratix-manager"
	cfg.Wrap(requests.wrap)
	startBenchPlatform(b, cfg)
	own := &requestCounter{}
	c := countedBenchClient(b, own)
	f, store := benchGitStore(b, c)
	selector := map[string]string{"kratix-bench": uniqueName("promise")}
	benchDestination(b, c, store, "bench", selector)

	var create, update time.Duration
	var perRequest, apiPerRequest, createWrites, updateWrites float64
	var peak int64
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		r := promiseRound(b, c, f, selector, n, spread, requests, own)
		b.Logf("round: %d requests created, run and committed in %.1fs; Promise updated: every request re-ran and every ConfigMap committed again in %.1fs; "+
			"create round: manager %d API requests (%.1f per request), %d writes (%.1f per request); "+
			"update round: manager %d API requests (%.1f per request), %d writes (%.1f per request), API server %d requests in all, pipelines included, the benchmark's own left out (%.1f per request); peak RSS until the round's end %d MiB",
			n, r.create.Seconds(), r.update.Seconds(),
			r.createRequests, float64(r.createRequests)/float64(n), r.createWrites, float64(r.createWrites)/float64(n),
			r.managerRequests, float64(r.managerRequests)/float64(n), r.managerWrites, float64(r.managerWrites)/float64(n),
			r.apiRequests, float64(r.apiRequests)/float64(n), r.peakRSS>>20)
		b.Logf("manager API requests during the create round: %s", r.createByKind)
		b.Logf("manager API requests during the update round: %s", r.byKind)
		b.Logf("other API requests during the update round (the pipelines'): %s", r.othersByKind)
		b.Logf("Events recorded during the update round: %s", r.events)
		b.Logf("update round, CPU time: %s", r.cpu)
		b.Logf("update round, reconciles by controller (average time, average wait in the queue): %s", r.reconciles)
		b.Logf("update round, by phase (per request: median / 90th percentile / longest, from the objects' timestamps, to the second): %s", r.phases)
		// After the figures, which a run too long to wait for its cleanup has printed already.
		b.Logf("cleanup: the Promise and its requests deleted in %.1fs", deleteBenchPromise(b, c, r.promise, n).Seconds())
		create += r.create
		update += r.update
		perRequest += float64(r.managerRequests) / float64(n)
		createWrites += float64(r.createWrites) / float64(n)
		updateWrites += float64(r.managerWrites) / float64(n)
		apiPerRequest += float64(r.apiRequests) / float64(n)
		peak = max(peak, r.peakRSS)
	}
	rounds := float64(b.N)
	b.ReportMetric(create.Seconds()/rounds, "s/create-all")
	b.ReportMetric(update.Seconds()/rounds, "s/update-all")
	b.ReportMetric(perRequest/rounds, "manager-requests/request")
	b.ReportMetric(createWrites/rounds, "manager-writes/new-request")
	b.ReportMetric(updateWrites/rounds, "manager-writes/re-run")
	b.ReportMetric(apiPerRequest/rounds, "api-requests/request")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
}

// promiseRoundResult is what one round measured: the manager's requests and writes while the
// requests were created and first run, and while they re-ran after the update (with the API
// server's requests from every client).
type promiseRoundResult struct {
	create, update                 time.Duration
	createRequests, createWrites   int64
	createByKind                   string
	managerRequests, managerWrites int64
	apiRequests                    int64
	byKind                         string
	// othersByKind are the API server's requests from others than the manager and the
	// benchmark (the pipelines' steps), by kind.
	othersByKind string
	// events counts the Events recorded during the update round, by the kind of their object
	// and their reason.
	events string
	// phases is where the update round's time went (updatePhases).
	phases string
	// cpu is where the update round's CPU time went.
	cpu string
	// reconciles are the update round's reconciles by controller, with their queue wait.
	reconciles string
	// peakRSS is the process's peak RSS when the update round ended, before the benchmark's
	// own lists of every Work, placement and Job for the figures.
	peakRSS int64
	// promise is the round's Promise, for its cleanup (deleteBenchPromise).
	promise *v1alpha1.Promise
}

func promiseRound(b *testing.B, c client.Client, f *gitFixture, selector map[string]string, n, spread int, requests, own *requestCounter) promiseRoundResult {
	ctx := context.Background()
	promise, gvk, ns, dir := benchPromise(b, c, selector, spread)
	r := promiseRoundResult{promise: promise}

	b.StartTimer()
	createBefore := requests.snapshot()
	start := time.Now()
	createRequests(b, c, gvk, ns, n)
	waitForRound(b, c, f, promise.Name, gvk, dir, n, "1", start)
	r.create = time.Since(start)
	after := requests.snapshot()
	r.createRequests, r.createByKind = after.minus(createBefore)
	r.createWrites = after.writesSince(createBefore)
	if testing.Verbose() {
		b.Logf("create round: %d requests created, run and committed in %.1fs; manager %d API requests (%.1f per request); peak RSS until the round's end %d MiB",
			n, r.create.Seconds(), r.createRequests, float64(r.createRequests)/float64(n), peakRSS(b)>>20)
	}

	managerBefore, ownBefore, apiBefore := requests.snapshot(), own.snapshot(), apiServerRequestsByKind(b)
	writesBefore := metricstest.Read(b, metrics.StateStoreWriteDurationName, nil)
	commitsBefore := metricstest.Read(b, metrics.CommitBatchSizeName, nil)
	cpuBefore, reconcilesBefore := readCPUTimes(b), readReconcileStats(b)
	start = time.Now()
	if err := updateRenderVersion(ctx, c, promise, "2"); err != nil {
		b.Fatal(err)
	}
	waitForRound(b, c, f, promise.Name, gvk, dir, n, "2", start)
	r.update = time.Since(start)
	r.cpu = readCPUTimes(b).since(cpuBefore)
	r.reconciles = readReconcileStats(b).since(reconcilesBefore)
	r.peakRSS = peakRSS(b)
	b.StopTimer()
	writeHeapProfile(b)
	after = requests.snapshot()
	r.managerRequests, r.byKind = after.minus(managerBefore)
	r.managerWrites = after.writesSince(managerBefore)
	others := apiServerRequestsByKind(b).minusKinds(apiBefore).minusKinds(after.normalised().minusKinds(managerBefore.normalised()))
	others = others.minusKinds(own.snapshot().normalised().minusKinds(ownBefore.normalised()))
	var othersTotal int64
	othersTotal, r.othersByKind = others.minus(nil)
	r.apiRequests = r.managerRequests + othersTotal
	r.events = eventsSince(b, c, start)
	writes := metricstest.Read(b, metrics.StateStoreWriteDurationName, nil)
	commits := metricstest.Read(b, metrics.CommitBatchSizeName, nil)
	r.phases = updatePhases(b, c, promise.Name, start) + fmt.Sprintf("; state store: %d writes of %.2fs on average (call to pushed), %d commits of %.1f changes on average",
		writes.Count-writesBefore.Count, (writes.Sum-writesBefore.Sum)/float64(max(writes.Count-writesBefore.Count, 1)),
		commits.Count-commitsBefore.Count, (commits.Sum-commitsBefore.Sum)/float64(max(commits.Count-commitsBefore.Count, 1)))
	return r
}

// deleteBenchPromise deletes a round's Promise and waits until it is gone, with its n requests;
// it returns how long that took.
func deleteBenchPromise(b *testing.B, c client.Client, promise *v1alpha1.Promise, n int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	if err := c.Delete(ctx, promise); err != nil {
		b.Fatal(err)
	}
	testenv.Eventually(b, "Promise "+promise.Name+" is deleted", roundTimeout(n), time.Second, func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(promise), promise)
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			b.Fatalf("Promise %s: %v", promise.Name, err)
		}
		return errors.New("still there")
	})
	return time.Since(start)
}

// benchPromise creates a Promise of the workflows example's render pipeline, scheduled to the
// Destinations of selector, waits until it is Available, and creates spread namespaces for its
// requests: it returns the Promise, the requests' kind, their namespaces and the directories of
// their files in the store (a pathspec).
func benchPromise(b *testing.B, c client.Client, selector map[string]string, spread int) (*v1alpha1.Promise, schema.GroupVersionKind, []string, string) {
	ctx := context.Background()
	name := uniqueName("appconfig")
	group := name + ".bench.example.com"
	promise := apiPromise(b, name, group, "AppConfig", "greeting")
	promise.Spec.DestinationSelectors = []v1alpha1.PromiseScheduling{{MatchLabels: selector}}
	promise.Spec.Workflows.Resource.Configure = examplePromise(b, "workflows/configmap-promise.yaml").Spec.Workflows.Resource.Configure
	if err := c.Create(ctx, promise); err != nil {
		b.Fatal(err)
	}
	benchPoll(b, "Promise "+name+" Available", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(promise), promise); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(promise.Status.Conditions, v1alpha1.ConditionAvailable) {
			return fmt.Errorf("conditions %+v", promise.Status.Conditions)
		}
		return nil
	})
	namespaces := make([]string, spread)
	for i := range namespaces {
		namespaces[i] = uniqueName("bench")
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i]}}); err != nil {
			b.Fatal(err)
		}
	}
	gvk := schema.GroupVersionKind{Group: group, Version: "v1", Kind: "AppConfig"}
	// The Promise's name is unique: its directory in every namespace's is the round's. (A
	// pathspec's * matches slashes too; a directory's trailing slash would match no file.)
	return promise, gvk, namespaces, "bench/resources/*/" + name + "/*"
}

// startBenchPlatform runs the engine with its production defaults and the local job runner
// until the benchmark ends.
func startBenchPlatform(b *testing.B, cfg *rest.Config) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	dataDir := b.TempDir()
	concurrency := DefaultMaxConcurrentReconciles()
	_, stop := runManager(b, cfg, Options{MaxConcurrentReconciles: concurrency, DefaultMaxConcurrentReconciles: concurrency["default"]},
		func(mgr ctrl.Manager) error {
			runner := &local.Runner{
				Client: mgr.GetClient(), Self: self, AdapterEnv: []string{asAdapter + "=1"},
				DataDir: dataDir, Log: mgr.GetLogger().WithName("local-job-runner"),
				// The engine's steps as processes, as before they ran in the runner's process.
				ProcessSteps: os.Getenv("KRATIX_BENCH_PROCESS_STEPS") == "1",
			}
			return runner.SetupWithManager(mgr)
		})
	b.Cleanup(stop)
}

// createRequests creates n requests of the kind, spread evenly over the namespaces, from
// benchCreators goroutines.
func createRequests(b *testing.B, c client.Client, gvk schema.GroupVersionKind, namespaces []string, n int) {
	next := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range benchCreators {
		wg.Go(func() {
			for i := range next {
				obj := &unstructured.Unstructured{}
				obj.SetGroupVersionKind(gvk)
				obj.SetNamespace(namespaces[i%len(namespaces)])
				obj.SetName(fmt.Sprintf("app-%04d", i))
				obj.Object["spec"] = map[string]any{"greeting": "hi"}
				if err := c.Create(context.Background(), obj); err != nil {
					err = fmt.Errorf("create %s: %w", obj.GetName(), err)
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// roundTimeout bounds a round of n requests, or its cleanup: benchRoundTimeout and half a second
// more per request (N=3,000's update round took 22 minutes).
func roundTimeout(n int) time.Duration {
	return benchRoundTimeout + time.Duration(n)*500*time.Millisecond
}

// waitForRound waits until n ConfigMaps matched by dir on main say renderVersion version, and then
// until every request's status says it was rendered by that version, that it ran the Promise's
// current spec, and it is Ready: the engine has written its outcome (a re-run of a Ready request
// is Ready all along). It allows roundTimeout(n), and looks every half second, or less often
// past 1,000 requests: each look greps every file, a cost that grows with n and would otherwise
// take a growing share of the machine from the engine.
func waitForRound(b *testing.B, c client.Client, f *gitFixture, promise string, gvk schema.GroupVersionKind, dir string, n int, version string, start time.Time) {
	lastLog := start
	want := "rendered by version " + version
	poll := max(500*time.Millisecond, time.Duration(n)*500*time.Microsecond)
	testenv.Eventually(b, "version "+version+" is rendered", time.Until(start.Add(roundTimeout(n))), poll, func() error {
		committed := committedWith(b, f, dir, `renderVersion: "`+version+`"`)
		done := 0
		if committed == n {
			done = requestsDone(b, c, promise, gvk, want)
		}
		if committed == n && done == n {
			return nil
		}
		if now := time.Now(); testing.Verbose() && now.Sub(lastLog) >= 10*time.Second {
			b.Logf("%.0fs: version %s: %d of %d ConfigMaps committed", now.Sub(start).Seconds(), version, committed, n)
			lastLog = now
		}
		return fmt.Errorf("%d of %d ConfigMaps committed, %d requests done", committed, n, done)
	})
}

// committedWith counts the files on main matched by the pathspec dir that contain text.
func committedWith(b *testing.B, f *gitFixture, dir, text string) int {
	out, err := f.server.Git(context.Background(), f.repo, "grep", "-l", "-F", text, "main", "--", dir)
	if err != nil {
		// git grep exits 1 when nothing matches.
		if strings.TrimSpace(out) == "" {
			return 0
		}
		b.Fatalf("git grep: %v: %s", err, out)
	}
	return len(strings.Fields(out))
}

// requestsDone counts the requests that are Ready with the status message, for the Promise's
// current spec, in every namespace (the kind is the round's alone).
func requestsDone(b *testing.B, c client.Client, promise string, gvk schema.GroupVersionKind, message string) int {
	p := &v1alpha1.Promise{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: promise}, p); err != nil {
		b.Fatal(err)
	}
	hash, err := pipeline.PromiseSpecHash(&p.Spec)
	if err != nil {
		b.Fatal(err)
	}
	// In pages: the whole list at once would be the process's largest object at N=10,000 (about
	// 30 KB per request decoded), and would count in the manager's peak RSS.
	done, next := 0, ""
	for {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(context.Background(), list, client.Limit(500), client.Continue(next)); err != nil {
			b.Fatal(err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			msg, _, _ := unstructured.NestedString(obj.Object, "status", "message")
			conds, err := conditions.FromUnstructured(obj)
			if err == nil && msg == message && meta.IsStatusConditionTrue(conds, v1alpha1.ConditionReady) && requestSpecHash(obj) == hash {
				done++
			}
		}
		if next = list.GetContinue(); next == "" {
			return done
		}
	}
}

// updateRenderVersion sets RENDER_VERSION in the Promise's render pipeline.
func updateRenderVersion(ctx context.Context, c client.Client, promise *v1alpha1.Promise, version string) error {
	if err := c.Get(ctx, client.ObjectKeyFromObject(promise), promise); err != nil {
		return err
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

// apiServerRequests is the number of requests the API server has served (its
// apiserver_request_total counter, summed), from every client: the manager, the pipeline
// containers and the benchmark.
// apiServerRequestsByKind reads the API server's count of the requests it served
// (apiserver_request_total), by kind as normalised does.
func apiServerRequestsByKind(b *testing.B) requestCounts {
	data, err := apiServerClient(b, time.Minute).Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatalf("read the API server's metrics: %v", err)
	}
	out := requestCounts{}
	label := regexp.MustCompile(`(\w+)="([^"]*)"`)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			b.Fatalf("apiserver_request_total: %q: %v", line, err)
		}
		labels := map[string]string{}
		for _, m := range label.FindAllStringSubmatch(line, -1) {
			labels[m[1]] = m[2]
		}
		verb := labels["verb"]
		if verb == "LIST" {
			verb = http.MethodGet
		}
		kind := labels["resource"]
		if s := labels["subresource"]; s != "" {
			kind += "/" + s
		}
		out[verb+" "+kind] += int64(v)
	}
	return out
}

// normalised is the counts by "VERB resource[/subresource]" alone, without the status codes
// of refusals, as the API server's metrics give them.
func (c requestCounts) normalised() requestCounts {
	out := requestCounts{}
	for k, v := range c {
		if i := strings.IndexByte(k, '('); i > 0 {
			k = k[:i]
		}
		out[k] += v
	}
	return out
}

// minusKinds is c less other, kind by kind.
func (c requestCounts) minusKinds(other requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		if d := v - other[k]; d != 0 {
			out[k] = d
		}
	}
	for k, v := range other {
		if _, ok := c[k]; !ok {
			out[k] = -v
		}
	}
	return out
}

// countedBenchClient is benchClient whose requests are counted.
func countedBenchClient(b *testing.B, counter *requestCounter) client.Client {
	_, cfg := benchClient(b)
	cfg.Wrap(counter.wrap)
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// resetPeakRSS resets the process's peak resident set size (VmHWM), so that a sub-benchmark
// reports its own.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): the figure is the process's since it started", err)
	}
}

// peakRSS is the process's peak resident set size in bytes (VmHWM): the manager and the local
// job runner, with the benchmark's own client; the pipeline containers are processes of their
// own.
func peakRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM: %q: %v", line, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// writeHeapProfile writes the heap profile into the file that $KRATIX_BENCH_HEAPPROFILE names,
// if set: what the manager holds at the end of an update round (go tool pprof -sample_index
// inuse_space controllers.test <file>).
func writeHeapProfile(b *testing.B) {
	path := os.Getenv("KRATIX_BENCH_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// eventsSince counts the Events of every namespace created since start, by their object's kind
// and their reason, most first: which transitions cost the API server a write.
func eventsSince(b *testing.B, c client.Client, start time.Time) string {
	var list corev1.EventList
	if err := c.List(context.Background(), &list); err != nil {
		b.Fatal(err)
	}
	counts := requestCounts{}
	for _, e := range list.Items {
		if !e.CreationTimestamp.Time.Before(start.Truncate(time.Second)) {
			counts[e.InvolvedObject.Kind+"/"+e.Reason]++
		}
	}
	_, byReason := counts.minus(nil)
	return byReason
}

// updatePhases says where the update round that began at start went, request by request, from
// the timestamps of its objects (to the second): from the Promise's update until the engine
// created the request's Job, the Job's wait for the local runner, its run until the
// work-writer wrote the Work, the rest of the Job (the status-writer), and from the Work until
// its placement was written to the store.
func updatePhases(b *testing.B, c client.Client, promise string, start time.Time) string {
	ctx := context.Background()
	var jobs batchv1.JobList
	if err := c.List(ctx, &jobs, client.MatchingLabels{v1alpha1.LabelPromiseName: promise, v1alpha1.LabelWorkflowAction: v1alpha1.WorkflowActionConfigure}); err != nil {
		b.Fatal(err)
	}
	var works v1alpha1.WorkList
	if err := c.List(ctx, &works, client.MatchingLabels{v1alpha1.LabelPromiseName: promise}); err != nil {
		b.Fatal(err)
	}
	var placements v1alpha1.WorkPlacementList
	if err := c.List(ctx, &placements, client.MatchingLabels{v1alpha1.LabelPromiseName: promise}); err != nil {
		b.Fatal(err)
	}
	rendered := map[string]time.Time{} // by request
	for _, w := range works.Items {
		rendered[w.Spec.ResourceName] = w.Spec.LastExecutionTimestamp.Time
	}
	written := map[string]time.Time{} // by request
	for _, wp := range placements.Items {
		if wp.Status.LastWriteTime != nil {
			written[wp.Labels[v1alpha1.LabelResourceName]] = wp.Status.LastWriteTime.Time
		}
	}
	phases := map[string][]time.Duration{}
	order := []string{"Promise update to Job", "Job waits for the runner", "Job runs until its Work is written", "Job ends (status-writer)", "Work to placement written", "in all"}
	for _, j := range jobs.Items {
		if j.CreationTimestamp.Time.Before(start.Truncate(time.Second)) || j.Status.StartTime == nil {
			continue
		}
		request := j.Labels[v1alpha1.LabelResourceName]
		var done time.Time
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				done = cond.LastTransitionTime.Time
			}
		}
		work, wrote := rendered[request], written[request]
		if done.IsZero() || work.IsZero() || wrote.IsZero() {
			continue
		}
		started := j.Status.StartTime.Time
		for i, d := range []time.Duration{j.CreationTimestamp.Sub(start), started.Sub(j.CreationTimestamp.Time), work.Sub(started), done.Sub(work), wrote.Sub(work), wrote.Sub(start)} {
			phases[order[i]] = append(phases[order[i]], max(d, 0))
		}
	}
	parts := make([]string, 0, len(order))
	for _, name := range order {
		ds := phases[name]
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		parts = append(parts, fmt.Sprintf("%s %.0fs/%.0fs/%.0fs", name, ds[len(ds)/2].Seconds(), ds[len(ds)*9/10].Seconds(), ds[len(ds)-1].Seconds()))
	}
	return fmt.Sprintf("%d requests: %s", len(phases["in all"]), strings.Join(parts, ", "))
}

// cpuTimes is CPU time (user and system) spent so far: by this process (the manager, the local
// job runner and the engine's steps in its process, the benchmark's client), by its children
// that have ended (the runner's sandboxes and their containers, the engine's step processes),
// and by the children still running (the API server and etcd).
type cpuTimes struct {
	self, ended, servers time.Duration
}

func readCPUTimes(b *testing.B) cpuTimes {
	var self, children syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children); err != nil {
		b.Fatal(err)
	}
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return cpuTimes{self: tv(self.Utime) + tv(self.Stime), ended: tv(children.Utime) + tv(children.Stime), servers: runningChildrenCPU(b)}
}

// runningChildrenCPU sums the CPU time of this process's running children from /proc.
func runningChildrenCPU(b *testing.B) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	var ticks int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // it ended meanwhile
		}
		// Fields after the command's closing parenthesis: state ppid ... utime (14th) stime (15th).
		i := strings.LastIndexByte(string(data), ')')
		fields := strings.Fields(string(data[i+1:]))
		if len(fields) < 13 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks += utime + stime
	}
	return time.Duration(ticks) * time.Second / ticksPerSecond
}

// since says where the CPU time went since before, in seconds.
func (c cpuTimes) since(before cpuTimes) string {
	return fmt.Sprintf("manager and runner process %.0fs, ended processes (sandboxes, containers, step processes) %.0fs, API server and etcd %.0fs",
		(c.self - before.self).Seconds(), (c.ended - before.ended).Seconds(), (c.servers - before.servers).Seconds())
}

// reconcileStats are, by controller, the reconciles so far with their total time, and the time
// their requests waited in the work queue.
type reconcileStats map[string]struct {
	reconciles, queued       uint64
	reconcileTime, queueTime float64
}

func readReconcileStats(b *testing.B) reconcileStats {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	stats := reconcileStats{}
	for _, f := range families {
		var label string
		switch f.GetName() {
		case "controller_runtime_reconcile_time_seconds":
			label = "controller"
		case "workqueue_queue_duration_seconds":
			label = "name"
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != label {
					continue
				}
				s := stats[l.GetValue()]
				h := m.GetHistogram()
				if label == "controller" {
					s.reconciles += h.GetSampleCount()
					s.reconcileTime += h.GetSampleSum()
				} else {
					s.queued += h.GetSampleCount()
					s.queueTime += h.GetSampleSum()
				}
				stats[l.GetValue()] = s
			}
		}
	}
	return stats
}

// since says, for each controller that reconciled since before, how many reconciles it ran and
// their average time, and how long a request waited in its queue on average.
func (s reconcileStats) since(before reconcileStats) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(s)) {
		now, then := s[name], before[name]
		n, q := now.reconciles-then.reconciles, now.queued-then.queued
		if n == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d reconciles of %.0f ms, queued %.1f s", name, n,
			1000*(now.reconcileTime-then.reconcileTime)/float64(n), (now.queueTime-then.queueTime)/float64(max(q, 1))))
	}
	return strings.Join(parts, "; ")
}
