package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// Runner is the Job controller of the local platform: it runs the pipeline Jobs that the engine
// creates (label app.kubernetes.io/managed-by=kratix) as host processes, the init containers in
// order and then the main container, and writes each Job's status as Kubernetes' Job controller
// would. The engine's own containers (`kratix pipeline-adapter ...`) run as this binary, outside
// the sandbox, with the Job's volumes passed as directories; the user's containers run in the
// sandbox.
type Runner struct {
	// Client reads Jobs, ConfigMaps and Secrets and writes Job status.
	Client client.Client
	// Self is this binary: it builds the sandboxes (see MaybeRunChild).
	Self string
	// Adapter is the command line prefix that runs the engine's containers
	// (`<Adapter...> pipeline-adapter <step>`); default [Self].
	Adapter []string
	// AdapterEnv is added to the environment of the engine's containers.
	AdapterEnv []string
	// Kubeconfig is given to the adapter containers.
	Kubeconfig string
	// DataDir holds each Job's volumes and container logs, under jobs/<namespace>/<name>.
	DataDir string
	// MaxParallel bounds the Jobs running at once; default 16. Pipelines on a laptop are mostly
	// small renderers that wait on the API server: with 1,000 requests to re-run, 16 Jobs at once
	// finished the round in 10 s per 100 requests where 4 took 13 s (BenchmarkPromiseUpdate).
	MaxParallel int
	// Log receives the runner's logs.
	Log logr.Logger

	mu      sync.Mutex
	running map[string]bool
	slots   chan struct{}
	// base ends when the manager stops, which kills running containers.
	base   context.Context
	cancel context.CancelFunc
	jobs   sync.WaitGroup
}

// SetupWithManager makes the runner a controller of the engine's Jobs.
func (r *Runner) SetupWithManager(mgr ctrl.Manager) error {
	if r.MaxParallel <= 0 {
		r.MaxParallel = 16
	}
	r.slots = make(chan struct{}, r.MaxParallel)
	r.running = map[string]bool{}
	r.base, r.cancel = context.WithCancel(context.Background())
	// Stopping the manager kills the containers that are running and waits for their Jobs to
	// end; a Job left unfinished runs again from the start next time.
	stopper := manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
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
		Complete(r)
}

// Reconcile starts a Job that has not run yet, when a slot is free.
func (r *Runner) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	job := &batchv1.Job{}
	if err := r.Client.Get(ctx, req.NamespacedName, job); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if finished(job) || !job.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	key := req.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[key] {
		return ctrl.Result{}, nil
	}
	select {
	case r.slots <- struct{}{}:
	default:
		return ctrl.Result{RequeueAfter: 500 * time.Millisecond}, nil // every slot busy: try again soon
	}
	r.running[key] = true
	r.jobs.Add(1)
	go func() {
		defer func() {
			<-r.slots
			r.mu.Lock()
			delete(r.running, key)
			r.mu.Unlock()
			r.jobs.Done()
		}()
		r.run(r.base, job)
	}()
	return ctrl.Result{}, nil
}

// finished reports whether the Job completed or failed, as the workflow engine reads it.
func finished(job *batchv1.Job) bool {
	return pipeline.ObserveJob(job).Phase != pipeline.JobRunning
}

// run executes the Job and records the outcome in its status.
func (r *Runner) run(ctx context.Context, job *batchv1.Job) {
	log := r.Log.WithValues("job", client.ObjectKeyFromObject(job))
	start := metav1.Now()
	if err := r.patchStatus(ctx, job, func(s *batchv1.JobStatus) {
		// A Job that a stopped runner left unfinished keeps its start time: the API server
		// refuses to change it.
		if s.StartTime == nil {
			s.StartTime = &start
		}
		s.Active = 1
	}); err != nil {
		log.Error(err, "record the Job's start")
		return
	}
	failure := r.execute(ctx, job)
	now := metav1.Now()
	err := r.patchStatus(ctx, job, func(s *batchv1.JobStatus) {
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
			batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: failure.Error(), LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: failure.Error(), LastProbeTime: now, LastTransitionTime: now})
	})
	if err != nil {
		log.Error(err, "record the Job's result")
	}
}

func (r *Runner) patchStatus(ctx context.Context, job *batchv1.Job, change func(*batchv1.JobStatus)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current := &batchv1.Job{}
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), current); err != nil {
			return err
		}
		change(&current.Status)
		return r.Client.Status().Update(ctx, current)
	})
}

// execute runs the Job's containers in order; it returns why the Job failed, or nil.
func (r *Runner) execute(ctx context.Context, job *batchv1.Job) error {
	dir := filepath.Join(r.DataDir, "jobs", job.Namespace, job.Name)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	volumes, err := r.volumes(ctx, job, filepath.Join(dir, "volumes"))
	if err != nil {
		return err
	}
	pod := job.Spec.Template.Spec
	containers := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
	for i, c := range containers {
		if err := r.container(ctx, c, volumes, filepath.Join(dir, "logs", fmt.Sprintf("%02d-%s.log", i, c.Name)), filepath.Join(dir, "roots", c.Name)); err != nil {
			return fmt.Errorf("container %q: %w", c.Name, err)
		}
	}
	return nil
}

// volumes makes a host directory for each volume of the Job: empty for an emptyDir, holding the
// keys of a ConfigMap or Secret.
func (r *Runner) volumes(ctx context.Context, job *batchv1.Job, root string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range job.Spec.Template.Spec.Volumes {
		dir := filepath.Join(root, v.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var data map[string][]byte
		switch {
		case v.EmptyDir != nil:
		case v.ConfigMap != nil:
			cm := &corev1.ConfigMap{}
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: v.ConfigMap.Name}, cm); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
		case v.Secret != nil:
			s := &corev1.Secret{}
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: v.Secret.SecretName}, s); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
			data = s.Data
		default:
			return nil, fmt.Errorf("volume %q: the local job runner supports emptyDir, configMap and secret volumes only", v.Name)
		}
		for k, content := range data {
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(k)), content, 0o644); err != nil {
				return nil, err
			}
		}
		out[v.Name] = dir
	}
	return out, nil
}

// container runs one container to its end, its output in logFile.
func (r *Runner) container(ctx context.Context, c corev1.Container, volumes map[string]string, logFile, root string) error {
	if len(c.Command) == 0 {
		return fmt.Errorf("image %s has no command: the local job runner cannot read an image's entrypoint; give the container a `command`", c.Image)
	}
	if len(c.EnvFrom) > 0 {
		return errors.New("envFrom: the local job runner supports plain env values only")
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return fmt.Errorf("env %s: the local job runner supports plain values only", e.Name)
		}
		env = append(env, e.Name+"="+e.Value)
	}
	var cmd *exec.Cmd
	if isAdapter(c) {
		args := append(append([]string{}, c.Args...), "--kubeconfig", r.Kubeconfig)
		for _, m := range c.VolumeMounts {
			switch m.MountPath {
			case pipeline.MountInput:
				args = append(args, "--input-dir", volumes[m.Name])
			case pipeline.MountOutput:
				args = append(args, "--output-dir", volumes[m.Name])
			case pipeline.MountMetadata:
				args = append(args, "--metadata-dir", volumes[m.Name])
			}
		}
		prefix := r.Adapter
		if len(prefix) == 0 {
			prefix = []string{r.Self}
		}
		cmd = exec.CommandContext(ctx, prefix[0], append(append([]string{}, prefix[1:]...), args...)...)
		cmd.Env = append(env, r.AdapterEnv...)
	} else {
		spec := Spec{Args: append(append([]string{}, c.Command...), c.Args...), Env: env, WorkDir: c.WorkingDir, Root: root}
		for _, m := range c.VolumeMounts {
			src, ok := volumes[m.Name]
			if !ok {
				return fmt.Errorf("volume mount %q names no volume", m.Name)
			}
			if m.SubPath != "" {
				src = filepath.Join(src, m.SubPath)
			}
			spec.Binds = append(spec.Binds, Bind{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly})
		}
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		var err error
		if cmd, err = Command(ctx, r.Self, spec); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		return err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if err := os.WriteFile(logFile, out.Bytes(), 0o644); err != nil {
		return err
	}
	if runErr != nil {
		var exit *exec.ExitError
		if errors.As(runErr, &exit) {
			return fmt.Errorf("exited with status %d: %s", exit.ExitCode(), tail(out.String(), 1024))
		}
		return runErr
	}
	return nil
}

// isAdapter tells the engine's own containers: `kratix pipeline-adapter <step>`.
func isAdapter(c corev1.Container) bool {
	return len(c.Args) > 0 && c.Args[0] == pipeline.AdapterSubcommand && filepath.Base(c.Command[0]) == pipeline.DefaultAdapterCommand
}

// tail keeps the end of a container's output for the Job's failure message.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
