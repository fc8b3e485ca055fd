// Package cli is the kratix command line for people: `kratix get files`, `kratix history` and
// `kratix status` (also `kubectl kratix ...` when the binary is installed as kubectl-kratix). It
// reads the same kubeconfig as kubectl, follows kubectl's flags and output formats, and reads
// Git state stores itself, with the store's own credentials, never the manager's disk.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Command is one subcommand of the CLI.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string, out Streams) error
}

// Streams are where a command writes: its result to Out, warnings to Err.
type Streams struct {
	Out io.Writer
	Err io.Writer
}

// Commands are the CLI's subcommands.
func Commands() []Command {
	return []Command{
		{Name: "get", Summary: "the files of a request, WorkPlacement or Destination in its state store (get files)", Run: printable(runGet)},
		{Name: "history", Summary: "the commits that touched a Destination or a request in its Git state store", Run: printable(runHistory)},
		{Name: "status", Summary: "a request's workflow runs, Works and where they landed, on one screen", Run: printable(runStatus)},
	}
}

// printable makes a command's error safe to print as it is: its text can hold what a Git server
// answered, a path a pipeline chose or an API server's message, so control characters in it are
// shown escaped (sanitize.go). errors.Is and errors.As see the error it wraps.
func printable(run func(ctx context.Context, args []string, out Streams) error) func(ctx context.Context, args []string, out Streams) error {
	return func(ctx context.Context, args []string, out Streams) error {
		if err := run(ctx, args, out); err != nil {
			return printableError{err: err}
		}
		return nil
	}
}

type printableError struct{ err error }

func (e printableError) Error() string { return blockText(e.err.Error()) }
func (e printableError) Unwrap() error { return e.err }

// UsageError is a mistake in the command line: the exit code is 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return UsageError{Err: fmt.Errorf(format, args...)}
}

// IsUsageError reports whether err is a mistake in the command line.
func IsUsageError(err error) bool { return errors.As(err, new(UsageError)) }
