package statestore

import (
	"context"
	"fmt"
	"slices"
)

// Writer writes files into one state store. Implementations are safe for concurrent use: calls
// from many goroutines are queued and may be combined into one commit or one batch of uploads.
type Writer interface {
	// Apply makes the change and returns the store's version that contains it. A change that
	// leaves the store as it was writes nothing and returns the current version with
	// Changed false. Apply returns once the change is durable in the store (pushed, uploaded).
	Apply(ctx context.Context, change Change) (Result, error)

	// Read returns the content of one file, path relative to the store's root. A missing file is
	// an error that matches ErrNotFound.
	Read(ctx context.Context, path string) ([]byte, error)

	// Validate proves that the store is reachable and writable with the configured credentials,
	// without leaving anything behind.
	Validate(ctx context.Context) error

	// Close stops the writer. Calls in flight return errors; later calls fail at once.
	Close() error
}

// DriftReporter is a Writer that notices when its store was changed by someone else's hand (files
// deleted, the branch deleted or rewritten) and drops what it remembered of the store's content.
// The handler then has whoever owns the content apply it again: a Writer only knows the changes
// it was given, not what the store should hold.
type DriftReporter interface {
	// OnDrift sets the function called on each drift that touched the store's root; it must be
	// quick and must not call the writer.
	OnDrift(handler func(Drift))
}

// ReportsDrift reports whether the writer, or the writer it wraps (an Unwrap method, as
// errors.Unwrap has), is a DriftReporter.
func ReportsDrift(w Writer) bool {
	for w != nil {
		if _, ok := w.(DriftReporter); ok {
			return true
		}
		u, ok := w.(interface{ Unwrap() Writer })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
	return false
}

// Drift is what a DriftReporter found changed by someone else's hand.
type Drift struct {
	// Why says what the writer saw, e.g. "the branch was deleted".
	Why string
	// All: anything may have changed (the branch is gone, or the writer could not tell what
	// changed). Paths is then empty.
	All bool
	// Paths, relative to the store's root, are where the store differs from what the writer
	// last knew: files added, changed or removed, and directories added or removed whole.
	Paths []string
}

// Touches reports whether the drift may have changed anything at or below path, or a directory
// above it.
func (d Drift) Touches(path string) bool {
	if d.All || path == "" {
		return true
	}
	return slices.ContainsFunc(d.Paths, func(p string) bool { return PathsOverlap(path, p) })
}

// Action is what a change does, as it appears in commit messages.
type Action string

const (
	// ActionUpdate writes files.
	ActionUpdate Action = "update"
	// ActionDelete removes files.
	ActionDelete Action = "delete"
	// ActionRestore writes files again that someone else removed or changed in the store: the
	// writes of the engine's objects gathered after a writer reported a drift.
	ActionRestore Action = "restore"
)

// File is one file to write.
type File struct {
	// Path relative to the store's root (the store's spec.path), slash-separated.
	Path string
	// Content of the file.
	Content []byte
}

// Change is one unit of writing: typically one WorkPlacement's files, or a Destination's canary
// files. All paths are relative to the store's root.
type Change struct {
	// Dir, when set, is a directory that the change replaces: afterwards it holds exactly the
	// Files (each of which must be inside it). A Dir with no Files removes the directory.
	Dir string
	// Files to write.
	Files []File
	// Remove lists files to delete. A directory at one of these paths is left alone, and so is
	// every file below it: in filepath mode none it may hold another placement's files.
	Remove []string
	// Origin says who the change is for; Git writers turn it into the commit message.
	Origin Origin
}

// Origin says what a change is for: the WorkPlacement (or Destination) and why.
type Origin struct {
	Action            Action
	Destination       string
	Promise           string
	ResourceNamespace string
	Resource          string
	Pipeline          string
	WorkPlacement     string
}

// Result is what a store holds after a change.
type Result struct {
	// Version of the store that contains the change: a commit SHA for Git, a digest of the
	// objects' versions for S3.
	Version string
	// Changed is false when the change left the store as it was.
	Changed bool
}

// Validate checks every path of the change and returns the change with cleaned paths. It refuses
// paths that escape the store's root and files outside Dir.
func (c Change) Validate() (Change, error) {
	out := Change{Origin: c.Origin}
	if c.Dir != "" {
		dir, err := CleanPath(c.Dir)
		if err != nil {
			return Change{}, fmt.Errorf("directory: %w", err)
		}
		out.Dir = dir
	}
	out.Files = make([]File, 0, len(c.Files))
	seen := make(map[string]bool, len(c.Files))
	for _, f := range c.Files {
		p, err := CleanPath(f.Path)
		if err != nil {
			return Change{}, fmt.Errorf("file: %w", err)
		}
		if out.Dir != "" && (p == out.Dir || !IsWithin(out.Dir, p)) {
			return Change{}, invalidPath(f.Path, fmt.Sprintf("is outside the directory %q that the change replaces", out.Dir))
		}
		if seen[p] {
			return Change{}, invalidPath(f.Path, "is written twice")
		}
		seen[p] = true
		out.Files = append(out.Files, File{Path: p, Content: f.Content})
	}
	for _, r := range c.Remove {
		p, err := CleanPath(r)
		if err != nil {
			return Change{}, fmt.Errorf("remove: %w", err)
		}
		out.Remove = append(out.Remove, p)
	}
	return out, nil
}
