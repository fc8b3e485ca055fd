package adapter

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/kubeconfig"
)

// ErrUsage marks a mistake in the command line.
var ErrUsage = errors.New("usage")

// Main runs one of the engine's steps inside a pipeline Job, as `kratix pipeline-adapter <step>`:
//
//	reader         writes the object to /kratix/input/object.yaml
//	work-writer    turns /kratix/output into the Work of this object and pipeline
//	status-writer  merges /kratix/metadata/status.yaml into the object's status
//
// args are what follows `pipeline-adapter`. The Job's environment (KRATIX_*) says which object
// and pipeline it is. Errors wrapping ErrUsage are mistakes in the command line.
func Main(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%w: which step? reader, work-writer or status-writer", ErrUsage)
	}
	step := args[0]
	switch step {
	case "reader", "work-writer", "status-writer":
	default:
		return fmt.Errorf("%w: unknown step %q: reader, work-writer or status-writer", ErrUsage, step)
	}
	fs := flag.NewFlagSet("kratix pipeline-adapter "+step, flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfigPath := fs.String("kubeconfig", "", "kubeconfig of the API server; default: $KUBECONFIG, then in-cluster")
	inputDir := fs.String("input-dir", "/kratix/input", "where the reader writes object.yaml")
	outputDir := fs.String("output-dir", "/kratix/output", "the pipeline's output")
	metadataDir := fs.String("metadata-dir", "/kratix/metadata", "the pipeline's metadata")
	engineDir := fs.String("engine-dir", "/kratix/engine", "the engine's steps' own directory, where the reader leaves the object for the status-writer; skipped when it does not exist")
	budget := fs.Int("work-size-budget", DefaultSizeBudget, "most bytes of encoded output one Work may hold")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	env, err := LoadEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("the Job's environment: %w", err)
	}
	cfg, err := kubeconfig.Load(*kubeconfigPath)
	if err != nil {
		return err
	}
	cfg.UserAgent = "kratix-pipeline-adapter/" + step

	if step == "work-writer" {
		control, err := ReadWorkflowControl(*metadataDir)
		if err != nil {
			return err
		}
		if control.Suspends() {
			fmt.Fprintf(stderr, "%s suspends the workflow (suspend: %t, retryAfter: %q): the output is not written\n", WorkflowControlFile, control.Suspend, control.RetryAfter)
			return nil
		}
		scheme := runtime.NewScheme()
		if err := v1alpha1.AddToScheme(scheme); err != nil {
			return err
		}
		// The Work's resource is known: a mapper of its own spares the API server the discovery
		// requests that a client would otherwise make in each Job.
		mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{v1alpha1.GroupVersion})
		mapper.Add(v1alpha1.GroupVersion.WithKind("Work"), meta.RESTScopeNamespace)
		c, err := client.New(cfg, client.Options{Scheme: scheme, Mapper: mapper})
		if err != nil {
			return err
		}
		work, err := WriteWork(ctx, c, env, *outputDir, *metadataDir, *budget)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote Work %s/%s with %d workload groups\n", work.Namespace, work.Name, len(work.Spec.WorkloadGroups))
		return nil
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if step == "reader" {
		return Read(ctx, dyn, env, *inputDir, *engineDir)
	}
	return WriteStatus(ctx, dyn, env, *metadataDir, *engineDir, time.Now())
}
