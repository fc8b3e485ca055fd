package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/pipeline/adapter"
)

// isEngineStep tells the engine's own containers by their names, which the Job builder gives
// them and refuses for a Promise's containers (pipeline.checkReserved). What such a container
// says it runs is not looked at: the runner runs its own adapter step of that name.
func isEngineStep(c corev1.Container) bool {
	return adapter.IsStep(c.Name)
}

// engineSteps runs the engine's steps of one Job, as the Job's ServiceAccount: in the runner's
// own process (adapter.Step), or, with Runner.ProcessSteps, as `pipeline-adapter` processes of
// this binary given a kubeconfig.
type engineSteps struct {
	r   *Runner
	job *batchv1.Job
	// dir holds the processes' kubeconfig, removed by cleanup.
	dir string

	config     *rest.Config // the ServiceAccount's, once asked for
	kubeconfig string       // its file, once written (ProcessSteps)
}

// run runs the engine's step c with the Job's volumes, its log in logFile.
func (s *engineSteps) run(ctx context.Context, c corev1.Container, volumes map[string]string, logFile string) error {
	env, err := plainEnv(c)
	if err != nil {
		return err
	}
	for _, e := range env {
		// Only the engine's own variables: in a process of this binary on the host, a variable of
		// a hand-made Job's choosing (LD_PRELOAD, GODEBUG, the sandbox's spec file) would run code
		// there; in the runner's process, none has a use.
		if !pipeline.IsAdapterEnv(e.Name) {
			return fmt.Errorf("env %s: the engine's steps run on the host and take only the engine's KRATIX_* variables", e.Name)
		}
	}
	step := adapter.Step{Name: c.Name}
	for _, m := range c.VolumeMounts {
		switch m.MountPath {
		case pipeline.MountInput:
			step.InputDir = volumes[m.Name]
		case pipeline.MountOutput:
			step.OutputDir = volumes[m.Name]
		case pipeline.MountMetadata:
			step.MetadataDir = volumes[m.Name]
		case pipeline.MountEngine:
			step.EngineDir = volumes[m.Name]
		}
	}
	if s.config == nil {
		if s.config, err = s.r.credentials.restConfig(ctx, s.job); err != nil {
			return fmt.Errorf("credentials of the Job's ServiceAccount: %w", err)
		}
	}
	if s.r.ProcessSteps {
		return s.process(ctx, step, env, logFile, "")
	}
	if !step.SmallInputs() {
		// What the step would read could cost the platform's process much memory or time: it
		// gets a process of its own, which the Job's deadline kills.
		return s.process(ctx, step, env, logFile, "the pipeline's output or metadata is large: this step runs as a process of its own")
	}
	vars := map[string]string{}
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	if step.Env, err = adapter.LoadEnv(func(name string) string { return vars[name] }); err != nil {
		return fmt.Errorf("the Job's environment: %w", err)
	}
	step.Config = s.config
	log, err := openLog(logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	step.Log = log
	if err := step.Run(ctx); err != nil {
		// As the adapter's command prints it: the log says why the step failed, whole; the
		// Job's status gets its start, as it gets the end of a process's log.
		fmt.Fprintln(log, err)
		return shortError{err}
	}
	return nil
}

// shortError is a step's error cut to its first KiB, which the Job's status can hold; its log
// has all of it.
type shortError struct{ err error }

func (e shortError) Error() string {
	const most = 1 << 10
	msg := e.err.Error()
	if len(msg) <= most {
		return msg
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + " … (cut: the step's log has all of it)"
}

func (e shortError) Unwrap() error { return e.err }

// process runs the step as `pipeline-adapter <step>` of this binary (or Runner.Adapter), with
// a kubeconfig of the ServiceAccount; its log starts with the note, when there is one.
func (s *engineSteps) process(ctx context.Context, step adapter.Step, env []corev1.EnvVar, logFile, note string) error {
	if s.kubeconfig == "" {
		path := filepath.Join(s.dir, "kubeconfig")
		if err := writeKubeconfig(path, s.config, s.job); err != nil {
			return err
		}
		s.kubeconfig = path
	}
	args := []string{pipeline.AdapterSubcommand, step.Name, "--kubeconfig", s.kubeconfig}
	for _, f := range []struct{ flag, dir string }{{"--input-dir", step.InputDir}, {"--output-dir", step.OutputDir},
		{"--metadata-dir", step.MetadataDir}, {"--engine-dir", step.EngineDir}} {
		if f.dir != "" {
			args = append(args, f.flag, f.dir)
		}
	}
	prefix := s.r.Adapter
	if len(prefix) == 0 {
		prefix = []string{s.r.Self}
	}
	cmd := exec.CommandContext(ctx, prefix[0], append(append([]string{}, prefix[1:]...), args...)...)
	cmd.Env = []string{"PATH=" + defaultPath, "HOME=" + os.TempDir()}
	for _, e := range env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	cmd.Env = append(cmd.Env, s.r.AdapterEnv...)
	return runLogged(cmd, logFile, note)
}

// cleanup removes the kubeconfig of the processes, if one was written: its token stays valid
// until it expires (a TokenRequest cannot be bound to a Job), its file does not outlive the Job.
func (s *engineSteps) cleanup() {
	if err := os.RemoveAll(s.dir); err != nil {
		s.r.Log.Error(err, "remove the engine steps' kubeconfig", "dir", s.dir)
	}
}
