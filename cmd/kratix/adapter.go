package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/pipeline/adapter"
)

// runPipelineAdapter runs one of the engine's steps inside a pipeline Job:
//
//	reader         writes the object to /kratix/input/object.yaml
//	work-writer    turns /kratix/output into the Work of this object and pipeline
//	status-writer  merges /kratix/metadata/status.yaml into the object's status
//
// The Job's environment (KRATIX_*) says which object and pipeline it is.
func runPipelineAdapter(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{fmt.Errorf("which step? reader, work-writer or status-writer")}
	}
	step := args[0]
	switch step {
	case "reader", "work-writer", "status-writer":
	default:
		return usageError{fmt.Errorf("unknown step %q: reader, work-writer or status-writer", step)}
	}
	fs := flag.NewFlagSet("kratix pipeline-adapter "+step, flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the API server; default: $KUBECONFIG, then in-cluster")
	inputDir := fs.String("input-dir", "/kratix/input", "where the reader writes object.yaml")
	outputDir := fs.String("output-dir", "/kratix/output", "the pipeline's output")
	metadataDir := fs.String("metadata-dir", "/kratix/metadata", "the pipeline's metadata")
	budget := fs.Int("work-size-budget", adapter.DefaultSizeBudget, "most bytes of encoded output one Work may hold")
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	env, err := adapter.LoadEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("the Job's environment: %w", err)
	}
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	cfg.UserAgent = "kratix-pipeline-adapter/" + step

	switch step {
	case "reader":
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		return adapter.Read(ctx, dyn, env, *inputDir)
	case "work-writer":
		scheme, err := newScheme()
		if err != nil {
			return err
		}
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return err
		}
		work, err := adapter.WriteWork(ctx, c, env, *outputDir, *metadataDir, *budget)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote Work %s/%s with %d workload groups\n", work.Namespace, work.Name, len(work.Spec.WorkloadGroups))
		return nil
	default: // status-writer, the only step left after the check above
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		return adapter.WriteStatus(ctx, dyn, env, *metadataDir, time.Now())
	}
}
