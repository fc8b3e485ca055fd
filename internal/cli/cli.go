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
		{Name: "get", Summary: "the files of a request, WorkPlacement or Destination in its state store (get files)", Run: runGet},
		{Name: "history", Summary: "the commits that touched a Destination or a request in its Git state store", Run: runHistory},
		{Name: "status", Summary: "a request's workflow runs, Works and where they landed, on one screen", Run: runStatus},
	}
}

// UsageError is a mistake in the command line: the exit code is 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return UsageError{Err: fmt.Errorf(format, args...)}
}

// IsUsageError reports whether err is a mistake in the command line.
func IsUsageError(err error) bool { return errors.As(err, new(UsageError)) }
