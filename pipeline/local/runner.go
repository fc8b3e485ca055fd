package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/turns"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/pipeline/local/image"
)

// Runner is the Job controller of the local platform: it runs the pipeline Jobs that the engine
// creates (label app.kubernetes.io/managed-by=kratix), the init containers in order and then
// the main container, and writes each Job's status as Kubernetes' Job controller would.
//
// A user's container runs from its image (pulled into Images, as a kubelet would) in a sandbox
// of its own (see Command); an image listed in HostTools runs on the host's tools instead, and
// the Job's Events and the container's log say so. The engine's own steps (reader, work-writer,
// status-writer: container names that no Promise may use) run in the runner's process, the code
// of `kratix pipeline-adapter`, with the Job's volumes as directories and as the Job's
// ServiceAccount, as in a cluster: their client holds a token of that ServiceAccount and nothing
// of the runner's own identity. A step whose inputs are large (adapter.Step.SmallInputs: more
// than 1,000 entries, 32 levels or 256 KiB of output or metadata), which could cost the
// platform's process much memory or time, runs as a process of its own instead, which the Job's
// deadline kills.
type Runner struct {
	// Client reads Jobs, ConfigMaps and Secrets and writes Job status.
	Client client.Client
	// Recorder records Events on Jobs: the images that ran on the host's tools, pull failures.
	Recorder record.EventRecorder
	// Self is this binary: it builds the sandboxes (see MaybeRunChild).
	Self string
	// ProcessSteps runs each of the engine's steps as a process, `<Adapter...> pipeline-adapter
	// <step>` with a kubeconfig of the Job's ServiceAccount, as a Job's container runs it in a
	// cluster, instead of in the runner's process. The processes cost a start of the binary
	// each: with them, BenchmarkPromiseUpdate's update round of 100 re-runs took 40 s and 77 s
	// of CPU, against 20 s and 40 s in the runner's process.
	ProcessSteps bool
	// Adapter is the command line prefix of ProcessSteps; default [Self].
	Adapter []string
	// AdapterEnv is added to the environment of ProcessSteps' processes.
	AdapterEnv []string
	// Config is the API server the engine's steps reach (its address and CA; never its
	// credentials); default: the manager's.
	Config *rest.Config
	// DataDir holds each Job's volumes and container logs, under jobs/<namespace>/<name>.
	DataDir string
	// Images is the image cache; nil opens one under DataDir/images.
	Images *image.Cache
	// HostTools lists images (repositories, e.g. "busybox" or "docker.io/library/bash") that run
	// on a root of the host's program directories instead of being pulled, for machines without
	// registry access; nil means DefaultHostToolsImages, empty none.
	HostTools []string
	// Mirrors maps registry hosts to mirrors tried first (see image.Cache.Mirrors).
	Mirrors map[string]string
	// ImageCacheBytes is the image cache's size budget: images and root filesystems that no
	// recent Job used are removed past it; default DefaultImageCacheBytes.
	ImageCacheBytes int64
	// IsolateNetwork gives every container a network namespace with loopback only.
	IsolateNetwork bool
	// DefaultDeadline bounds a Job that sets no activeDeadlineSeconds; default DefaultDeadline.
	DefaultDeadline time.Duration
	// MaxParallel bounds the Jobs running at once; default 16. Pipelines on a laptop are mostly
	// small renderers that wait on the API server: with 1,000 requests to re-run, 16 Jobs at once
	// finished the round in 10 s per 100 requests where 4 took 13 s (BenchmarkPromiseUpdate).
	MaxParallel int
	// Log receives the runner's logs.
	Log logr.Logger
	// StartStatusDelay overrides StartStatusDelay (tests).
	StartStatusDelay time.Duration

	credentials *credentials
	// hostToolsNoted holds the images that ran on the host's tools and have had their Event.
	hostToolsNoted sync.Map

	mu sync.Mutex
	// running holds what stops each running Job, by namespace/name.
	running map[string]context.CancelCauseFunc
	// slots is the runner's one line of Jobs waiting for a slot, first come first served: a
	// Job that finds every slot busy is not requeued but woken when a slot is handed to it
	// (with 1,000 Jobs waiting, a requeue every half second was 19,000 reconciles of an update
	// round, BenchmarkPromiseUpdate).
	slots *turns.Lines[types.NamespacedName]
	wake  chan event.TypedGenericEvent[*batchv1.Job]
	// base ends when the manager stops, which kills running containers.
	base   context.Context
	cancel context.CancelFunc
	jobs   sync.WaitGroup
}

// DefaultImageCacheBytes is the image cache's default size budget.
const DefaultImageCacheBytes int64 = 10 << 30

// pruneEvery is how often the runner trims the image cache to its budget.
const pruneEvery = 10 * time.Minute

// DefaultDeadline is how long a Job without activeDeadlineSeconds may run.
const DefaultDeadline = time.Hour

// DefaultHostToolsImages are shell images that the local runner runs on the host's tools.
var DefaultHostToolsImages = []string{"busybox", "bash", "alpine"}

// errJobDeleted ends the containers of a Job that was deleted while it ran.
var errJobDeleted = errors.New("the Job was deleted")

// SetupWithManager makes the runner a controller of the engine's Jobs.
func (r *Runner) SetupWithManager(mgr ctrl.Manager) error {
	if r.MaxParallel <= 0 {
		r.MaxParallel = 16
	}
	if r.DefaultDeadline <= 0 {
		r.DefaultDeadline = DefaultDeadline
	}
	if r.HostTools == nil {
		r.HostTools = DefaultHostToolsImages
	}
	// A Job's directory holds its Secrets' keys, logs and ServiceAccount's kubeconfig; the cache
	// what private registries served: only this user reaches them, whatever the data directory's
	// own mode.
	for _, d := range []string{"jobs", "images"} {
		if err := privateDir(filepath.Join(r.DataDir, d)); err != nil {
			return err
		}
	}
	if r.Images == nil {
		images, err := image.OpenCache(filepath.Join(r.DataDir, "images"))
		if err != nil {
			return err
		}
		r.Images = images
	}
	if r.Mirrors != nil {
		r.Images.Mirrors = r.Mirrors
	}
	if r.ImageCacheBytes <= 0 {
		r.ImageCacheBytes = DefaultImageCacheBytes
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorderFor("local-job-runner")
	}
	if r.Config == nil {
		r.Config = mgr.GetConfig()
	}
	r.credentials = newCredentials(r.Config, r.Client)
	r.running = map[string]context.CancelCauseFunc{}
	r.wake = make(chan event.TypedGenericEvent[*batchv1.Job])
	r.base, r.cancel = context.WithCancel(context.Background())
	r.slots = turns.New[types.NamespacedName](r.MaxParallel)
	r.slots.SetWake(func(next types.NamespacedName) {
		wake := event.TypedGenericEvent[*batchv1.Job]{Object: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: next.Namespace, Name: next.Name}}}
		go func() { // the controller reads the channel as it can
			select {
			case r.wake <- wake:
			case <-r.base.Done():
			}
		}()
	})
	// Stopping the manager kills the containers that are running and waits for their Jobs to
	// end; a Job left unfinished runs again from the start next time.
	stopper := manager.RunnableFunc(func(ctx context.Context) error {
		tick := time.NewTicker(pruneEvery)
		defer tick.Stop()
		for {
			r.prune()
			select {
			case <-tick.C:
				continue
			case <-ctx.Done():
			}
			break
		}
		r.cancel()
		r.jobs.Wait()
		return nil
	})
	if err := mgr.Add(stopper); err != nil {
		return err
	}
	managed, err := predicate.LabelSelectorPredicate(metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.LabelManagedByValue}})
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("local-job-runner").
		For(&batchv1.Job{}, builder.WithPredicates(managed)).
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*batchv1.Job]{})).
		Complete(r)
}

// Reconcile starts a Job that has not run yet, when a slot is free, and kills the containers of
// a running Job that is being deleted. A Job that finds every slot busy waits its turn, first
// come first served, and costs no reconcile until a slot is handed to it.
func (r *Runner) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	since := r.slots.Since()
	key := req.String()
	job := &batchv1.Job{}
	err := r.Client.Get(ctx, req.NamespacedName, job)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err // a slot handed to the Job stays for the retry
	}
	// A slot handed to the Job and not taken (it has ended, or is gone) goes to the next.
	defer r.slots.Forfeit(req.NamespacedName, since)
	r.mu.Lock()
	defer r.mu.Unlock()
	stop, running := r.running[key]
	switch {
	case apierrors.IsNotFound(err) || !job.DeletionTimestamp.IsZero():
		if running {
			stop(errJobDeleted)
		}
	case finished(job) || running:
	default:
		if release, ok := r.slots.Take(lineOfJobs, req.NamespacedName); ok {
			r.start(key, job, release)
		}
		return ctrl.Result{}, nil
	}
	r.slots.Leave(req.NamespacedName) // nothing to start
	return ctrl.Result{}, nil
}

// lineOfJobs is the runner's one line.
const lineOfJobs = "jobs"

// start runs the Job in the slot it holds; release frees the slot when the Job ends. r.mu is
// held.
func (r *Runner) start(key string, job *batchv1.Job, release func()) {
	jobCtx, stop := context.WithCancelCause(r.base)
	r.running[key] = stop
	r.jobs.Add(1)
	go func() {
		defer func() {
			stop(nil)
			r.mu.Lock()
			delete(r.running, key)
			r.mu.Unlock()
			release()
			r.jobs.Done()
		}()
		r.run(jobCtx, job)
	}()
}

// privateDir makes dir, or gives an existing one, mode 0700.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// prune trims the image cache to its budget; what a running container uses stays.
func (r *Runner) prune() {
	freed, err := r.Images.Prune(r.ImageCacheBytes)
	if err != nil {
		r.Log.Error(err, "trim the image cache to its budget", "budget", r.ImageCacheBytes)
		return
	}
	if freed > 0 {
		r.Log.Info("trimmed the image cache to its budget: removed what no recent Job used", "freedBytes", freed, "budget", r.ImageCacheBytes)
	}
}

func (r *Runner) startStatusDelay() time.Duration {
	if r.StartStatusDelay > 0 {
		return r.StartStatusDelay
	}
	return StartStatusDelay
}

// finished reports whether the Job completed or failed, as the workflow engine reads it.
func finished(job *batchv1.Job) bool {
	return pipeline.ObserveJob(job).Phase != pipeline.JobRunning
}

// StartStatusDelay is how long a Job runs before the runner records that it started (startTime,
// active). Most pipelines finish sooner, and their one status write then says both: at 1,000
// requests re-run, that is 1,000 writes fewer. With 16 Jobs at once on 2 cores, a trivial
// pipeline's four processes took 2 to 8 seconds (BenchmarkPromiseUpdate); a person who looks at a
// Job sooner than this sees it without status, as one still pending.
const StartStatusDelay = 10 * time.Second

// run executes the Job and records the outcome in its status; its start too, if it runs longer
// than StartStatusDelay.
func (r *Runner) run(ctx context.Context, job *batchv1.Job) {
	log := r.Log.WithValues("job", client.ObjectKeyFromObject(job))
	// A Job that a stopped runner left unfinished keeps its start time (the API server refuses to
	// change it), and its deadline counts from there.
	start := metav1.Now()
	if job.Status.StartTime != nil {
		start = *job.Status.StartTime
	}
	startStatus := func(s *batchv1.JobStatus) {
		if s.StartTime == nil {
			s.StartTime = &start
		}
	}
	var startMu sync.Mutex // held while the start is written; the result waits for it
	ended := false
	startTimer := time.AfterFunc(r.startStatusDelay(), func() {
		startMu.Lock()
		defer startMu.Unlock()
		if ended {
			return
		}
		err := r.patchStatus(ctx, job, func(s *batchv1.JobStatus) { startStatus(s); s.Active = 1 })
		if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			log.Error(err, "record the Job's start")
		}
	})
	deadline := r.DefaultDeadline
	if d := job.Spec.ActiveDeadlineSeconds; d != nil && *d > 0 {
		deadline = time.Duration(*d) * time.Second
	}
	runCtx, cancel := context.WithDeadline(ctx, start.Add(deadline))
	defer cancel()
	failure := r.execute(runCtx, job)
	startTimer.Stop()
	startMu.Lock()
	ended = true
	startMu.Unlock()
	reason := batchv1.JobReasonBackoffLimitExceeded
	switch {
	case errors.Is(context.Cause(ctx), errJobDeleted):
		log.V(1).Info("the Job was deleted while it ran: its containers were killed")
		return
	case ctx.Err() != nil:
		return // the runner is stopping: the Job runs again at the next start
	case failure != nil && errors.Is(runCtx.Err(), context.DeadlineExceeded):
		reason = batchv1.JobReasonDeadlineExceeded
		failure = fmt.Errorf("Job was active longer than specified deadline (%s): every process of its containers was killed", deadline)
	}
	now := metav1.Now()
	err := r.patchStatus(ctx, job, func(s *batchv1.JobStatus) {
		startStatus(s)
		s.Active = 0
		if failure == nil {
			s.Succeeded, s.CompletionTime = 1, &now
			s.Conditions = append(s.Conditions,
				batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
				batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now})
			return
		}
		s.Failed = 1
		s.Conditions = append(s.Conditions,
			batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: reason, Message: failure.Error(), LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: failure.Error(), LastProbeTime: now, LastTransitionTime: now})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		log.Error(err, "record the Job's result")
	}
}

// patchStatus writes the Job's status as it was when the run started (job), changed: a merge
// patch without a resourceVersion, so that it never meets a conflict, and never depends on the
// cache having seen the runner's previous write (a start written moments before the result).
// Only the runner writes a local Job's status. A field the change zeroes is removed.
func (r *Runner) patchStatus(ctx context.Context, job *batchv1.Job, change func(*batchv1.JobStatus)) error {
	status := job.Status.DeepCopy()
	change(status)
	raw, err := json.Marshal(status)
	if err != nil {
		return err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return err
	}
	for name, zero := range map[string]bool{"active": status.Active == 0, "succeeded": status.Succeeded == 0, "failed": status.Failed == 0} {
		if zero {
			fields[name] = nil
		}
	}
	body, err := json.Marshal(map[string]any{"status": fields})
	if err != nil {
		return err
	}
	transient := func(err error) bool { return !apierrors.IsNotFound(err) && ctx.Err() == nil }
	return retry.OnError(retry.DefaultBackoff, transient, func() error {
		// The answer is read as metadata only: nothing uses the Job the API server returns.
		written := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: job.Name}}
		written.SetGroupVersionKind(batchv1.SchemeGroupVersion.WithKind("Job"))
		return r.Client.Status().Patch(ctx, written, client.RawPatch(types.MergePatchType, body))
	})
}
