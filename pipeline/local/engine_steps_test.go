package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// These tests run the engine's work-writer in the runner's process (engineSteps.run) on a
// pipeline's output that a step refuses, without an API server: the step's configuration is
// given (a ServiceAccount's would come from a TokenRequest), and the step fails before it
// makes a request.

// workWriterStep is the work-writer of a hand-made Job, with its output and metadata
// directories under dir, run by a runner whose steps run in its process.
func workWriterStep(t *testing.T, dir string) (*engineSteps, corev1.Container, map[string]string) {
	t.Helper()
	volumes := map[string]string{"output": filepath.Join(dir, "output"), "metadata": filepath.Join(dir, "metadata")}
	for _, v := range volumes {
		if err := os.MkdirAll(v, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hand-made", Namespace: "default"}}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Log: logr.Discard(), Self: self, AdapterEnv: []string{asAdapter + "=1"}}
	steps := &engineSteps{r: r, job: job, dir: filepath.Join(dir, "engine"),
		config: &rest.Config{Host: "https://127.0.0.1:1"}} // never reached
	env := map[string]string{
		pipeline.EnvWorkflowAction: v1alpha1.WorkflowActionConfigure, pipeline.EnvWorkflowType: v1alpha1.WorkflowTypePromise,
		pipeline.EnvPromiseName: "redis", pipeline.EnvPipelineName: "instance", pipeline.EnvObjectKind: "Redis",
		pipeline.EnvObjectVersion: "v1", pipeline.EnvObjectName: "redis", pipeline.EnvCRDPlural: "redises",
		pipeline.EnvClusterScoped: "true", pipeline.EnvPipelineNamespace: "kratix-platform-system", pipeline.EnvLastPipeline: "true",
	}
	c := corev1.Container{Name: pipeline.ContainerWorkWriter, VolumeMounts: []corev1.VolumeMount{
		{Name: "output", MountPath: pipeline.MountOutput}, {Name: "metadata", MountPath: pipeline.MountMetadata}}}
	for k, v := range env {
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
	}
	return steps, c, volumes
}

// TestEngineStepFailureIsBounded: a step's failure becomes the Job's failure message (twice in
// its status), which must stay small enough for the API server: a step run as a process fails
// with the last KiB of its log; one run in the runner's process with the first KiB of its error,
// its log holding all of it. An output of 200 refused files is small and its work-writer runs
// in the runner's process; one of 5,000 is not, and its work-writer is a process of its own.
func TestEngineStepFailureIsBounded(t *testing.T) {
	for _, tt := range []struct {
		files   int
		process bool
	}{{200, false}, {5000, true}} {
		t.Run(fmt.Sprintf("%d files", tt.files), func(t *testing.T) {
			dir := t.TempDir()
			steps, c, volumes := workWriterStep(t, dir)
			for i := range tt.files {
				f, err := os.Create(filepath.Join(volumes["output"], fmt.Sprintf(`bad\%s-%05d.yaml`, strings.Repeat("n", 100), i)))
				if err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
			}
			logFile := filepath.Join(dir, "logs", "00-work-writer.log")
			err := steps.run(t.Context(), c, volumes, logFile)
			if err == nil {
				t.Fatalf("the work-writer took an output of %d refused files", tt.files)
			}
			const most = 2 << 10
			if len(err.Error()) > most {
				t.Errorf("the work-writer's failure is %d bytes, want at most %d", len(err.Error()), most)
			}
			log, readErr := os.ReadFile(logFile)
			if readErr != nil {
				t.Fatal(readErr)
			}
			ranAsProcess := strings.HasPrefix(string(log), "kratix: the pipeline's output or metadata is large")
			if ranAsProcess != tt.process {
				t.Errorf("ran as a process: %t, want %t; its log starts %.200q", ranAsProcess, tt.process, log)
			}
			if want := fmt.Sprintf("and %d more files", tt.files-20); !strings.Contains(string(log), want) {
				t.Errorf("the step's log does not say %q: %.300q", want, log)
			}
		})
	}
}

// TestEngineStepHonoursTheJobDeadline: the walk of the output does not look at the context,
// and a chain of 3,000 directories costs it the square of its depth (50,000, hours): such an
// output is not small (adapter.Step.SmallInputs), its work-writer runs as a process, which the
// Job's deadline kills, and the Job's slot is free again.
func TestEngineStepHonoursTheJobDeadline(t *testing.T) {
	dir := t.TempDir()
	steps, c, volumes := workWriterStep(t, dir)
	fd, err := unix.Open(volumes["output"], unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 3000 { // level by level: no PATH_MAX, and linear to build
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		_ = unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	_ = unix.Close(fd)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_ = steps.run(ctx, c, volumes, filepath.Join(dir, "logs", "00-work-writer.log"))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the work-writer ran %s with a deadline of 1 s", took.Round(time.Millisecond))
	}
}
