package local

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/go-logr/logr/testr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/metrics/metricstest"
	"kratix.dev/kratix/pipeline"
)

// startRunner runs a local job runner with at most maxParallel Jobs at once in a manager until the
// test ends, and returns it.
func startRunner(t testing.TB, maxParallel int) *Runner {
	r, stop := startRunnerWithStop(t, maxParallel)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return r
}

// startRunnerWithStop runs a local job runner in a manager and returns it and what stops it.
func startRunnerWithStop(t testing.TB, maxParallel int) (*Runner, func() error) {
	t.Helper()
	return startRunnerWith(t, maxParallel, nil)
}

// startRunnerWith is startRunnerWithStop with change, when given, applied to the runner before it
// is set up.
func startRunnerWith(t testing.TB, maxParallel int, change func(*Runner)) (*Runner, func() error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	skip := true // each test starts its own manager with the same controller
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip}})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Client: mgr.GetClient(), Self: self, AdapterEnv: []string{asAdapter + "=1"},
		DataDir: t.TempDir(), MaxParallel: maxParallel, Log: testr.NewWithInterface(t, testr.Options{})}
	if change != nil {
		change(r)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	var stopErr error
	return r, func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
}

// waitFor polls check until it returns nil, failing the test with its last error after a minute.
func waitFor(t testing.TB, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, what, time.Minute, 50*time.Millisecond, check)
}

// jobDone reads job back and reports, as an error, that it has not finished yet, or why it cannot
// be read.
func jobDone(ctx context.Context, job *batchv1.Job, done func(*batchv1.Job) bool) error {
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
		return err
	}
	if !done(job) {
		return fmt.Errorf("Job %s: conditions %+v", job.Name, job.Status.Conditions)
	}
	return nil
}

// jobComplete reports whether job has completed successfully.
func jobComplete(job *batchv1.Job) bool { return condition(job, batchv1.JobComplete) != nil }

// appConfigAPI installs the AppConfig CRD and returns it as a Promise's API.
func appConfigAPI(t testing.TB, ctx context.Context) *runtime.RawExtension {
	t.Helper()
	crd, err := env.InstallResourceCRD(ctx, "example.platform.io", "AppConfig", "appconfigs")
	if err != nil {
		t.Fatal(err)
	}
	api, err := json.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	return &runtime.RawExtension{Raw: api}
}

// requestJob creates an AppConfig request named from prefix in the default namespace and builds,
// without creating it, the Job for it of a Promise named promise whose one pipeline is p.
func requestJob(t testing.TB, ctx context.Context, api *runtime.RawExtension, promise, prefix string, p v1alpha1.Pipeline) *batchv1.Job {
	t.Helper()
	request := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.platform.io/v1", "kind": "AppConfig",
		"metadata": map[string]any{"generateName": prefix, "namespace": "default"},
	}}
	if err := env.Client.Create(ctx, request); err != nil {
		t.Fatal(err)
	}
	pr := &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: promise}, Spec: v1alpha1.PromiseSpec{
		API:       api,
		Workflows: v1alpha1.Workflows{Resource: v1alpha1.WorkflowTriggers{Configure: []v1alpha1.Pipeline{p}}},
	}}
	w := pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: pr, Object: request}
	job, err := pipeline.BuildJob(w, 0, 1, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	grantAccess(t, ctx, w, 0)
	return job
}

// grantAccess creates the ServiceAccount and RBAC of the workflow's pipeline, as the engine does
// before it creates the Job: the engine's steps run as that ServiceAccount.
func grantAccess(t testing.TB, ctx context.Context, w pipeline.Workflow, index int) {
	t.Helper()
	access, err := pipeline.BuildAccess(w, index, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range access.Objects() {
		if err := env.Client.Create(ctx, obj); client.IgnoreAlreadyExists(err) != nil {
			t.Fatal(err)
		}
	}
}

func shPipeline(name, script string) v1alpha1.Pipeline {
	return v1alpha1.Pipeline{Metadata: v1alpha1.PipelineMetadata{Name: name}, Spec: v1alpha1.PipelineSpec{
		Containers: []v1alpha1.Container{{Name: name, Image: "busybox", Command: []string{"sh", "-c"}, Args: []string{script}}},
	}}
}

// createJob creates the Job and deletes it when the test ends, so that no later test's runner
// picks up a Job left unfinished.
func createJob(t *testing.T, ctx context.Context, job *batchv1.Job) {
	t.Helper()
	if err := env.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), job); client.IgnoreNotFound(err) != nil {
			t.Errorf("delete Job %s: %v", job.Name, err)
		}
	})
}

// runJob builds the Job of pipeline index of the workflow, creates it and waits for its end.
func runJob(t *testing.T, ctx context.Context, w pipeline.Workflow, index int) *batchv1.Job {
	t.Helper()
	job, err := pipeline.BuildJob(w, index, 1, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	grantAccess(t, ctx, w, index)
	createJob(t, ctx, job)
	defer func() {
		if t.Failed() {
			t.Logf("Job status: %+v", job.Status)
		}
	}()
	waitFor(t, "Job "+job.Name+" finishes", func() error { return jobDone(ctx, job, finished) })
	return job
}

func condition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == t && job.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

// TestRunnerRunsAResourceWorkflow runs the Jobs of a two-pipeline resource workflow, built by the
// engine's own Job builder, through the local runner: the first pipeline writes output and a
// status message, the second reads that message from object.yaml; then a failing container and
// a 200 KiB output. The engine's steps run in the runner's process, and as processes of the
// adapter's command (Runner.ProcessSteps).
func TestRunnerRunsAResourceWorkflow(t *testing.T) {
	for _, processSteps := range []bool{false, true} {
		t.Run(fmt.Sprintf("ProcessSteps=%t", processSteps), func(t *testing.T) { runResourceWorkflow(t, processSteps) })
	}
}

func runResourceWorkflow(t *testing.T, processSteps bool) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	runner, stop := startRunnerWith(t, 0, func(r *Runner) { r.ProcessSteps = processSteps })
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	request := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.platform.io/v1", "kind": "AppConfig",
		"metadata": map[string]any{"generateName": "hello-", "namespace": "default"},
		"spec":     map[string]any{"greeting": "hi"},
	}}
	if err := env.Client.Create(ctx, request); err != nil {
		t.Fatal(err)
	}
	promise := &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: "appconfig"}, Spec: v1alpha1.PromiseSpec{
		API:                  api,
		DestinationSelectors: []v1alpha1.PromiseScheduling{{MatchLabels: map[string]string{"environment": "dev"}}},
		Workflows: v1alpha1.Workflows{Resource: v1alpha1.WorkflowTriggers{Configure: []v1alpha1.Pipeline{
			shPipeline("first", `set -eu
greeting=$(grep -m1 'greeting:' /kratix/input/object.yaml | awk '{print $2}')
printf 'kind: ConfigMap\napiVersion: v1\nmetadata: {name: hello}\ndata: {greeting: %s}\n' "$greeting" > /kratix/output/cm.yaml
echo 'message: first pipeline done' > /kratix/metadata/status.yaml`),
			shPipeline("second", `set -eu
grep -q 'message: first pipeline done' /kratix/input/object.yaml
printf 'seen: "%s"\n' "$(grep -m1 'message:' /kratix/input/object.yaml | cut -d: -f2- | xargs)" > /kratix/output/seen.yaml
printf 'big: %s\n' "$(head -c 204800 /dev/zero | tr '\0' x)" > /kratix/output/big.yaml`),
			shPipeline("third", `echo boom >&2; exit 4`),
			{Metadata: v1alpha1.PipelineMetadata{Name: "fourth"}, Spec: v1alpha1.PipelineSpec{Containers: []v1alpha1.Container{{Name: "entrypoint-only", Image: "127.0.0.1:1/tool:1"}}}},
		}}},
	}}
	w := pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: promise, Object: request}

	for i, name := range []string{"first", "second"} {
		job := runJob(t, ctx, w, i)
		if condition(job, batchv1.JobComplete) == nil {
			t.Fatalf("pipeline %s: Job %s did not complete: %+v", name, job.Name, job.Status.Conditions)
		}
		if job.Status.StartTime == nil || job.Status.CompletionTime == nil || job.Status.Succeeded != 1 {
			t.Errorf("Job status %+v lacks what the Job controller writes", job.Status)
		}
	}
	works := &v1alpha1.WorkList{}
	if err := env.Client.List(ctx, works, client.InNamespace("default"), client.MatchingLabels{v1alpha1.LabelPromiseName: "appconfig", v1alpha1.LabelResourceName: request.GetName()}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, work := range works.Items {
		for _, g := range work.Spec.WorkloadGroups {
			for _, wl := range g.Workloads {
				data, err := v1alpha1.DecodeContent(wl.Content)
				if err != nil {
					t.Fatal(err)
				}
				files[work.Spec.PipelineName+"/"+wl.Filepath] = string(data)
			}
		}
	}
	if !strings.Contains(files["first/cm.yaml"], "greeting: hi") {
		t.Errorf("the first pipeline's ConfigMap: %q", files["first/cm.yaml"])
	}
	if files["second/seen.yaml"] != "seen: \"first pipeline done\"\n" {
		t.Errorf("the second pipeline did not see the first's status: %q", files["second/seen.yaml"])
	}
	if len(files["second/big.yaml"]) < 200*1024 {
		t.Errorf("the 200 KiB output holds %d bytes", len(files["second/big.yaml"]))
	}

	failed := runJob(t, ctx, w, 2)
	c := condition(failed, batchv1.JobFailed)
	if c == nil || !strings.Contains(c.Message, `"third"`) || !strings.Contains(c.Message, "boom") || !strings.Contains(c.Message, "status 4") {
		t.Errorf("the failing Job's Failed condition: %+v", c)
	}
	logFile := filepath.Join(runner.DataDir, "jobs", failed.Namespace, failed.Name, "logs", "01-third.log")
	if data, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(data), "boom") {
		t.Errorf("the failing container's log %s: %q, %v", logFile, data, err)
	}
	unpulled := runJob(t, ctx, w, 3)
	if c := condition(unpulled, batchv1.JobFailed); c == nil || !strings.Contains(c.Message, "ErrImagePull") || !strings.Contains(c.Message, `"127.0.0.1:1/tool:1"`) ||
		!strings.Contains(c.Message, "connection refused") || !strings.Contains(c.Message, `"entrypoint-only"`) {
		t.Errorf("a container whose image cannot be pulled: %+v", unpulled.Status.Conditions)
	}
	record := pipeline.ObserveJob(failed)
	if record.Phase != pipeline.JobFailed {
		t.Errorf("the workflow engine sees the failed Job as %v", record.Phase)
	}
}

// TestStoppingTheRunnerKillsContainers stops the runner while a container runs: the container's
// process must not outlive it.
func TestStoppingTheRunnerKillsContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	_, stop := startRunnerWithStop(t, 0)
	defer stop()
	const marker = "sleep 4242"
	createJob(t, ctx, requestJob(t, ctx, api, "slow", "slow-", shPipeline("slow", marker)))
	waitFor(t, "the container starts", func() error {
		if !processRunning(marker) {
			return fmt.Errorf("no process runs %q", marker)
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if processRunning(marker) {
		t.Error("the container's process outlived the runner")
	}
}

// processRunning reports whether a process's command line contains s.
func processRunning(s string) bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline") // a fixed pattern cannot be malformed
	for _, d := range dirs {
		data, err := os.ReadFile(d)
		if err == nil && strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), s) {
			return true
		}
	}
	return false
}

// TestRunnerBoundsParallelJobs gives the runner one slot and two Jobs: they run one after the
// other, never together.
func TestRunnerBoundsParallelJobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	startRunner(t, 1)
	markers := []string{"sleep 1.101", "sleep 1.102"}
	var jobs []*batchv1.Job
	for i, marker := range markers {
		job := requestJob(t, ctx, api, fmt.Sprintf("bounded-%d", i), "bounded-", shPipeline("slow", marker))
		createJob(t, ctx, job)
		jobs = append(jobs, job)
	}
	seen := map[string]bool{}
	waitFor(t, "both Jobs complete", func() error {
		running := 0
		for _, m := range markers {
			if processRunning(m) {
				running++
				seen[m] = true
			}
		}
		if running > 1 {
			t.Fatal("two Jobs ran at once with one slot")
		}
		for _, job := range jobs {
			if err := jobDone(ctx, job, jobComplete); err != nil {
				return err
			}
		}
		return nil
	})
	if len(seen) != 2 {
		t.Errorf("saw %d of the 2 containers running; the check above proved nothing", len(seen))
	}
}

// TestRunnerStartsWaitingJobsInTurn: with one slot and four Jobs created one after the other,
// the Jobs run in the order they came, and a Job waiting for the slot costs no reconciles until
// it is its turn (a requeue every half second made 19,000 reconciles of 1,000 waiting Jobs).
func TestRunnerStartsWaitingJobsInTurn(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	reconciles := func() float64 {
		return metricstest.Read(t, "controller_runtime_reconcile_total", map[string]string{"controller": "local-job-runner"}).Value
	}
	// A runner that starts reconciles every Job there is, those of earlier tests too: count from
	// when it has gone through them.
	var existing batchv1.JobList
	if err := env.Client.List(ctx, &existing, client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.LabelManagedByValue}); err != nil {
		t.Fatal(err)
	}
	before := reconciles()
	r := startRunner(t, 1)
	last, since := before, time.Now()
	waitFor(t, "the runner goes through the Jobs there are", func() error {
		now := reconciles()
		if now != last {
			last, since = now, time.Now()
		}
		// All of them, or as many as there were before it stopped for 2 s (some may be gone).
		if n := now - before; n < float64(len(existing.Items)) && time.Since(since) < 2*time.Second || n == 0 && len(existing.Items) > 0 {
			return fmt.Errorf("%.0f reconciles of %d Jobs", n, len(existing.Items))
		}
		return nil
	})
	before = reconciles()
	var jobs []*batchv1.Job
	for i := range 4 {
		job := requestJob(t, ctx, api, fmt.Sprintf("turn-%d", i), fmt.Sprintf("turn-%d-", i), shPipeline("slow", "sleep 2"))
		createJob(t, ctx, job)
		jobs = append(jobs, job)
		time.Sleep(100 * time.Millisecond) // the order they came in, as the runner sees it
	}
	waitFor(t, "every Job completes", func() error {
		for _, job := range jobs {
			if err := jobDone(ctx, job, jobComplete); err != nil {
				return err
			}
		}
		return nil
	})
	var ended []time.Time // when each Job's container ended: its log's last write
	for _, job := range jobs {
		info, err := os.Stat(filepath.Join(r.DataDir, "jobs", job.Namespace, job.Name, "logs", "01-slow.log"))
		if err != nil {
			t.Fatal(err)
		}
		ended = append(ended, info.ModTime())
	}
	for i := 1; i < len(ended); i++ {
		if !ended[i].After(ended[i-1]) {
			t.Errorf("Job %d ran before Job %d, which came first: %v", i, i-1, ended)
		}
	}
	// Each Job is reconciled when it is created, when its slot is handed to it and when its
	// status is written, give or take an event: polling the 6 s that the last one waited would
	// be 12 more.
	if n := reconciles() - before; n > 6*float64(len(jobs)) {
		t.Errorf("%.0f reconciles of the runner for %d Jobs, want at most %d", n, len(jobs), 6*len(jobs))
	}
}

// A Job that a stopped runner left unfinished (started, active, no result) runs again, to
// completion, when a runner starts.
func TestRunnerRunsAJobLeftUnfinished(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	job := requestJob(t, ctx, appConfigAPI(t, ctx), "left", "left-", shPipeline("quick", "true"))
	createJob(t, ctx, job)
	started := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	job.Status.StartTime, job.Status.Active = &started, 1
	if err := env.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}

	startRunner(t, 0)
	waitFor(t, "the Job completes", func() error { return jobDone(ctx, job, jobComplete) })
	if !job.Status.StartTime.Equal(&started) {
		t.Errorf("start time %v, want the first attempt's %v", job.Status.StartTime, started)
	}
}

// The runner writes a quick Job's status once, start and result together; a Job that runs past
// the runner's StartStatusDelay shows that it runs (startTime, active) until its result, which
// keeps that start time.
func TestRunnerWritesAQuickJobsStatusOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	api := appConfigAPI(t, ctx)
	for _, c := range []struct {
		name, script string
		delay        time.Duration
		wantWrites   int
	}{
		// A minute: under a loaded make test a trivial Job took 12 s, past the default delay.
		{name: "quick", script: "true", delay: time.Minute, wantWrites: 1},
		{name: "slow", script: "sleep 3", delay: 300 * time.Millisecond, wantWrites: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stop := startRunnerWith(t, 0, func(r *Runner) { r.StartStatusDelay = c.delay })
			defer func() {
				if err := stop(); err != nil {
					t.Error(err)
				}
			}()
			job := requestJob(t, ctx, api, "status-"+c.name, c.name+"-", shPipeline(c.name, c.script))
			job.Name = "status-" + c.name
			w, err := watcher.Watch(ctx, &batchv1.JobList{}, client.InNamespace(job.Namespace), client.MatchingFields{"metadata.name": job.Name})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			createJob(t, ctx, job)
			var statuses []batchv1.JobStatus
			for ev := range w.ResultChan() {
				seen, ok := ev.Object.(*batchv1.Job)
				if !ok {
					t.Fatalf("watch: %+v", ev.Object)
				}
				if n := len(statuses); (n == 0 && seen.Status.StartTime != nil) || (n > 0 && !equality.Semantic.DeepEqual(statuses[n-1], seen.Status)) {
					statuses = append(statuses, seen.Status)
				} else if n == 0 && ev.Type == watch.Added {
					continue
				}
				if condition(seen, batchv1.JobComplete) != nil || condition(seen, batchv1.JobFailed) != nil {
					break
				}
			}
			if len(statuses) != c.wantWrites {
				t.Fatalf("%d status writes, want %d: %+v", len(statuses), c.wantWrites, statuses)
			}
			first, last := statuses[0], statuses[len(statuses)-1]
			if condition(&batchv1.Job{Status: last}, batchv1.JobComplete) == nil || last.StartTime == nil || last.Active != 0 {
				t.Errorf("the last status %+v is not a completed Job's", last)
			}
			if c.wantWrites == 2 && (first.Active != 1 || first.StartTime == nil || !first.StartTime.Equal(last.StartTime)) {
				t.Errorf("while it ran, the Job's status was %+v; at the end %+v", first, last)
			}
		})
	}
}
