package adapter

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

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
	step := Step{Name: args[0], Log: stderr}
	if !IsStep(step.Name) {
		return fmt.Errorf("%w: unknown step %q: reader, work-writer or status-writer", ErrUsage, step.Name)
	}
	fs := flag.NewFlagSet("kratix pipeline-adapter "+step.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfigPath := fs.String("kubeconfig", "", "kubeconfig of the API server; default: $KUBECONFIG, then in-cluster")
	fs.StringVar(&step.InputDir, "input-dir", "/kratix/input", "where the reader writes object.yaml")
	fs.StringVar(&step.OutputDir, "output-dir", "/kratix/output", "the pipeline's output")
	fs.StringVar(&step.MetadataDir, "metadata-dir", "/kratix/metadata", "the pipeline's metadata")
	fs.StringVar(&step.EngineDir, "engine-dir", "/kratix/engine", "the engine's steps' own directory, where the reader leaves the object for the status-writer; skipped when it does not exist")
	fs.IntVar(&step.WorkSizeBudget, "work-size-budget", DefaultSizeBudget, "most bytes of encoded output one Work may hold")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	var err error
	if step.Env, err = LoadEnv(os.Getenv); err != nil {
		return fmt.Errorf("the Job's environment: %w", err)
	}
	if step.Config, err = kubeconfig.Load(*kubeconfigPath); err != nil {
		return err
	}
	return step.Run(ctx)
}
