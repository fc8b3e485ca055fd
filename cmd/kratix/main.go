// Command kratix is the platform engine's one binary:
//
//	kratix manager            run the controllers against a Kubernetes API server
//	kratix pipeline-adapter   the engine's steps inside pipeline Jobs (reader, work-writer, status-writer)
//	kratix local              an embedded platform for a laptop or CI
//	kratix get files          the files of a request, WorkPlacement or Destination in its store
//	kratix history            the commits that touched a Destination or a request
//	kratix status             a request's workflow runs, Works and placements on one screen
//
// Installed as kubectl-kratix, it is a kubectl plugin (`kubectl kratix get files ...`) with the
// last three commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"kratix.dev/kratix/internal/cli"
	"kratix.dev/kratix/pipeline/local"
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stderr io.Writer) error
}

// pluginName is the binary's name as a kubectl plugin: kubectl runs it for `kubectl kratix`.
const pluginName = "kubectl-kratix"

// program is how the binary is called in messages: "kubectl kratix" as a kubectl plugin.
var program = "kratix"

// asPlugin reports whether the binary runs as a kubectl plugin, and sets program.
func asPlugin(arg0 string) bool {
	if filepath.Base(arg0) == pluginName {
		program = "kubectl kratix"
		return true
	}
	return false
}

func commands() []command {
	engine := []command{
		{name: "manager", summary: "run the controllers against a Kubernetes API server", run: runManagerCommand},
		{name: "pipeline-adapter", summary: "the engine's steps inside a pipeline Job: reader, work-writer, status-writer", run: runPipelineAdapter},
		{name: "local", summary: "a whole platform on this machine: API server, engine and a Git state store", run: runLocalCommand},
	}
	if program != "kratix" {
		engine = nil
	}
	for _, c := range cli.Commands() {
		engine = append(engine, command{name: c.Name, summary: c.Summary, run: cliCommand(c)})
	}
	return engine
}

// cliCommand runs a command of the CLI, its result on standard output; its usage errors are
// this binary's.
func cliCommand(c cli.Command) func(ctx context.Context, args []string, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stderr io.Writer) error {
		err := c.Run(ctx, args, cli.Streams{Out: os.Stdout, Err: stderr})
		if cli.IsUsageError(err) {
			return usageError{err: err}
		}
		return err
	}
}

func main() {
	// When the local job runner started this binary to build a container's sandbox, this execs the
	// container's command and never returns.
	local.MaybeRunChild()
	asPlugin(os.Args[0])
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
			fmt.Fprintf(stderr, "%s %s: %v\n", program, c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "%s %s: %v\n", program, c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", program, args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", program)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for the flags of a command.\n", program)
}

// usageError is a mistake in the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
