package main

import (
	"context"
	"errors"
	"io"

	"kratix.dev/kratix/pipeline/adapter"
)

// runPipelineAdapter runs one of the engine's steps inside a pipeline Job (see adapter.Main).
func runPipelineAdapter(ctx context.Context, args []string, stderr io.Writer) error {
	err := adapter.Main(ctx, args, stderr)
	if errors.Is(err, adapter.ErrUsage) {
		return usageError{err}
	}
	return err
}
