package adapter

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"kratix.dev/kratix/api/v1alpha1"
)

// DefaultSizeBudget is the default limit on a Work's encoded workloads: 1 MiB, leaving room
// under the API server's limit of about 1.5 MiB per object for the rest of the Work.
const DefaultSizeBudget = 1 << 20

// largestShown is how many of the largest files a TooLargeError names.
const largestShown = 3

// TooLargeError says that a pipeline's output would make a Work larger than its budget.
type TooLargeError struct {
	// Size is the encoded size of the output: workload contents and file paths, in bytes.
	Size int
	// Budget it exceeds, in bytes.
	Budget int
	// Largest files, biggest first, as "<directory>/<filepath> (<size>)".
	Largest []string
}

// Error says how large the output is, what the budget is, and which files are the largest.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the pipeline's output is %s once compressed and encoded, over the budget of %s for one Work "+
		"(the API server refuses objects larger than about 1.5 MiB); the largest files: %s. Write fewer or smaller files, "+
		"or split the output across pipelines",
		formatSize(e.Size), formatSize(e.Budget), strings.Join(e.Largest, ", "))
}

// EncodedSize is how many bytes a WorkSpec's workloads take: contents as encoded, plus paths.
func EncodedSize(spec v1alpha1.WorkSpec) int {
	size := 0
	for _, g := range spec.WorkloadGroups {
		for _, w := range g.Workloads {
			size += len(w.Content) + len(w.Filepath)
		}
	}
	return size
}

// CheckSize returns a *TooLargeError when the WorkSpec's EncodedSize exceeds budget bytes
// (DefaultSizeBudget when budget is not positive).
func CheckSize(spec v1alpha1.WorkSpec, budget int) error {
	if budget <= 0 {
		budget = DefaultSizeBudget
	}
	size := EncodedSize(spec)
	if size <= budget {
		return nil
	}
	return &TooLargeError{Size: size, Budget: budget, Largest: largestFiles(spec, largestShown)}
}

// largestFiles names the n largest workloads, biggest first, with their encoded sizes.
func largestFiles(spec v1alpha1.WorkSpec, n int) []string {
	type file struct {
		name string
		size int
	}
	var files []file
	for _, g := range spec.WorkloadGroups {
		for _, w := range g.Workloads {
			files = append(files, file{name: path.Join(g.Directory, w.Filepath), size: len(w.Content) + len(w.Filepath)})
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].size > files[j].size })
	names := make([]string, 0, n)
	for _, f := range files[:min(n, len(files))] {
		names = append(names, fmt.Sprintf("%s (%s)", f.name, formatSize(f.size)))
	}
	return names
}

// formatSize writes a byte count for people.
func formatSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/(1<<10), n)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
