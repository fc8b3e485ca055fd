// Command kratix is the platform engine's one binary:
//
//	kratix manager            run the controllers against a Kubernetes API server
//	kratix pipeline-adapter   the engine's steps inside pipeline Jobs (reader, work-writer, status-writer)
//	kratix local              an embedded platform for a laptop or CI
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"kratix.dev/kratix/pipeline/local"
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{name: "manager", summary: "run the controllers against a Kubernetes API server", run: runManagerCommand},
		{name: "pipeline-adapter", summary: "the engine's steps inside a pipeline Job: reader, work-writer, status-writer", run: runPipelineAdapter},
		{name: "local", summary: "a whole platform on this machine: API server, engine and a Git state store", run: runLocalCommand},
	}
}

func main() {
	// When the local job runner started this binary to build a container's sandbox, this execs the
	// container's command and never returns.
	local.MaybeRunChild()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its result into an exit code: 0 success, 2 usage error,
// 1 any other failure.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "kratix %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "kratix %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "kratix: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kratix <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'kratix <command> -h' for the flags of a command.")
}

// usageError is a mistake in the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
