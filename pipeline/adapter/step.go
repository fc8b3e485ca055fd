package adapter

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// Step is one run of one of the engine's steps, in a Job's container (Main) or in the local
// job runner's own process: the same code either way.
type Step struct {
	// Name is pipeline.ContainerReader, ContainerWorkWriter or ContainerStatusWriter.
	Name string
	// Env is what the Job says of its object and pipeline.
	Env Env
	// Config reaches the API server as the Job's ServiceAccount: the step can do what the
	// engine granted the pipeline, and no more.
	Config *rest.Config
	// The Job's volumes: the input (reader), output and metadata (writers), and the engine's
	// own directory, skipped when it does not exist.
	InputDir, OutputDir, MetadataDir, EngineDir string
	// WorkSizeBudget is the most bytes of encoded output one Work may hold (DefaultSizeBudget
	// when not positive).
	WorkSizeBudget int
	// Log receives what the step says, as its container's log.
	Log io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// IsStep says whether name is one of the engine's steps.
func IsStep(name string) bool {
	switch name {
	case pipeline.ContainerReader, pipeline.ContainerWorkWriter, pipeline.ContainerStatusWriter:
		return true
	}
	return false
}

// Run runs the step. A panic, which would otherwise end the process that runs it (the local
// platform, for the local job runner), fails the step instead, with the stack in its log.
func (s Step) Run(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if s.Log != nil {
				fmt.Fprintf(s.Log, "panic: %v\n%s", p, debug.Stack())
			}
			err = fmt.Errorf("the %s step failed unexpectedly: %v", s.Name, p)
		}
	}()
	if s.Log == nil {
		s.Log = io.Discard
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	cfg := rest.CopyConfig(s.Config)
	cfg.UserAgent = "kratix-pipeline-adapter/" + s.Name
	switch s.Name {
	case pipeline.ContainerReader:
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		return Read(ctx, dyn, s.Env, s.InputDir, s.EngineDir)
	case pipeline.ContainerStatusWriter:
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		return WriteStatus(ctx, dyn, s.Env, s.MetadataDir, s.EngineDir, now())
	case pipeline.ContainerWorkWriter:
		return s.writeWork(ctx, cfg)
	}
	return fmt.Errorf("unknown step %q: reader, work-writer or status-writer", s.Name)
}

// writeWork is the work-writer step.
func (s Step) writeWork(ctx context.Context, cfg *rest.Config) error {
	control, err := ReadWorkflowControl(s.MetadataDir)
	if err != nil {
		return err
	}
	if control.Suspends() {
		fmt.Fprintf(s.Log, "%s suspends the workflow (suspend: %t, retryAfter: %q): the output is not written\n", WorkflowControlFile, control.Suspend, control.RetryAfter)
		return nil
	}
	parts, err := workClientParts()
	if err != nil {
		return err
	}
	c, err := client.New(cfg, parts)
	if err != nil {
		return err
	}
	work, err := WriteWork(ctx, c, s.Env, s.OutputDir, s.MetadataDir, s.WorkSizeBudget)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Log, "wrote Work %s/%s with %d workload groups\n", work.Namespace, work.Name, len(work.Spec.WorkloadGroups))
	return nil
}

// workClientParts are the work-writer client's scheme and REST mapper, made once. The Work's
// resource is known: a mapper of its own spares the API server the discovery requests that a
// client would otherwise make in each Job.
var workClientParts = sync.OnceValues(func() (client.Options, error) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return client.Options{}, err
	}
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{v1alpha1.GroupVersion})
	mapper.Add(v1alpha1.GroupVersion.WithKind("Work"), meta.RESTScopeNamespace)
	return client.Options{Scheme: scheme, Mapper: mapper}, nil
})
