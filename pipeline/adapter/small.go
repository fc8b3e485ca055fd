package adapter

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"

	"kratix.dev/kratix/pipeline"
)

// What a step may read of a pipeline and still run in the process of a long-lived caller (the
// local job runner runs the engine's steps in the platform's process): checking the output's
// manifests costs about 100 times their bytes in memory, and walking a tree costs the square of
// its depth. Larger inputs are for a step of their own, in a process that the Job's deadline
// kills and whose memory is its own.
const (
	smallEntries = 1_000
	smallDepth   = 32
	smallBytes   = 256 << 10 // file sizes and path bytes
)

// SmallInputs says whether what the step reads of the pipeline's volumes (the work-writer its
// output and metadata, the status-writer its metadata; the reader none) is small enough for
// the process of a long-lived caller: at most 1,000 entries, 32 directories deep and 256 KiB of
// file sizes and paths. It reads no file and stops at the first bound passed, so its own cost
// is bounded whatever the volumes hold. A directory that cannot be read is not small: the
// step, in a process of its own, says what is wrong with it.
func (s Step) SmallInputs() bool {
	var dirs []string
	switch s.Name {
	case pipeline.ContainerWorkWriter:
		dirs = []string{s.OutputDir, s.MetadataDir}
	case pipeline.ContainerStatusWriter:
		dirs = []string{s.MetadataDir}
	}
	budget := treeBudget{entries: smallEntries, bytes: smallBytes}
	for _, dir := range dirs {
		if dir != "" && !budget.fits(dir) {
			return false
		}
	}
	return true
}

// treeBudget is what is left of the bounds of SmallInputs.
type treeBudget struct {
	entries, bytes int
}

// fits walks dir within the budget, taking what it finds from it; false once a bound is passed.
func (b *treeBudget) fits(dir string) bool {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true // nothing to read
	}
	if err != nil {
		return false
	}
	// Closing a directory opened for reading cannot lose anything.
	defer func() { _ = root.Close() }()
	type level struct {
		path  string
		depth int
	}
	pending := []level{{".", 0}}
	for len(pending) > 0 {
		d := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		subdirs, ok := b.take(root, d.path)
		if !ok || len(subdirs) > 0 && d.depth+1 > smallDepth {
			return false
		}
		for _, p := range subdirs {
			pending = append(pending, level{p, d.depth + 1})
		}
	}
	return true
}

// take takes the entries of the directory p of root from the budget, a few at a time (a
// directory of millions is not read whole), and returns its subdirectories; false once a bound
// is passed or the directory cannot be read.
func (b *treeBudget) take(root *os.Root, p string) (subdirs []string, ok bool) {
	f, err := root.Open(p)
	if err != nil {
		return nil, false
	}
	// Closing a directory opened for reading cannot lose anything.
	defer func() { _ = f.Close() }()
	for {
		entries, err := f.ReadDir(64)
		for _, e := range entries {
			name := path.Join(p, e.Name())
			b.entries--
			b.bytes -= len(name)
			switch {
			case e.IsDir():
				subdirs = append(subdirs, name)
			case e.Type().IsRegular():
				info, err := e.Info()
				if err != nil {
					return nil, false
				}
				b.bytes -= int(min(info.Size(), smallBytes+1))
			}
			if b.entries < 0 || b.bytes < 0 {
				return nil, false
			}
		}
		if errors.Is(err, io.EOF) {
			return subdirs, true
		}
		if err != nil {
			return nil, false
		}
	}
}
