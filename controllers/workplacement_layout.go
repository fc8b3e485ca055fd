package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline/adapter"
	"kratix.dev/kratix/statestore"
)

// A WorkPlacement's files are laid out in its Destination's filepath mode (CONTRACT.md §3):
//
//   - nestedByMetadata: the placement owns a directory named after its Promise, resource,
//     pipeline and workload group; a write replaces it, a delete removes it.
//   - none: the files go where the pipeline put them under the Destination's directory, and a
//     state file in .kratix/ lists them, so that a write removes the files its last write had
//     and this one lacks, and a delete removes exactly those files.
//   - aggregatedYAML: one file holds every placement of the Destination, sorted by namespace and
//     name; each write of a placement writes the whole file again.

// placementFile is one decoded workload of a placement.
type placementFile struct {
	path    string
	content []byte
}

// decodeWorkloads decodes the placement's workloads, in spec order.
func decodeWorkloads(wp *v1alpha1.WorkPlacement) ([]placementFile, error) {
	files := make([]placementFile, 0, len(wp.Spec.Workloads))
	for _, wl := range wp.Spec.Workloads {
		content, err := adapter.DecodeContent(wl.Content)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", wl.Filepath, err)
		}
		files = append(files, placementFile{path: wl.Filepath, content: content})
	}
	return files, nil
}

// placementChange builds the change that writes the placement's files in the Destination's
// filepath mode, or removes them when remove is set. It reports false, with the reason in the
// facts, when there is nothing it can do. An error means the API server could not be read.
func (r *WorkPlacementReconciler) placementChange(ctx context.Context, w statestore.Writer, wp *v1alpha1.WorkPlacement, dest *v1alpha1.Destination, f *placementFacts, remove bool) (statestore.Change, bool, error) {
	action := statestore.ActionUpdate
	if remove {
		action = statestore.ActionDelete
	}
	var files []placementFile
	if !remove {
		var err error
		if files, err = decodeWorkloads(wp); err != nil {
			f.invalidContent = err
			return statestore.Change{}, false, nil
		}
	}
	var (
		change statestore.Change
		err    error
	)
	switch dest.Spec.Filepath.Mode {
	case v1alpha1.FilepathModeNone:
		change, err = flatChange(ctx, w, wp, dest.Spec.Path, files, remove, f)
	case v1alpha1.FilepathModeAggregatedYAML:
		var wps v1alpha1.WorkPlacementList
		if err := r.Client.List(ctx, &wps, client.MatchingFields{indexTargetDestination: dest.Name}); err != nil {
			return statestore.Change{}, false, fmt.Errorf("list the WorkPlacements of Destination %s: %w", dest.Name, err)
		}
		change, err = aggregatedChange(wp, dest, wps.Items, f)
	default:
		change, err = nestedChange(wp, dest.Spec.Path, files, remove, f)
	}
	if err != nil {
		f.writeErr = err
		return statestore.Change{}, false, nil
	}
	change.Origin = originOf(wp, action)
	f.files = len(files)
	return change, true, nil
}

// nestedChange replaces (or removes) the placement's own directory.
func nestedChange(wp *v1alpha1.WorkPlacement, destPath string, files []placementFile, remove bool, f *placementFacts) (statestore.Change, error) {
	dir := wp.Status.Path
	if !remove || dir == "" {
		var err error
		if dir, err = statestore.NestedDir(destPath, placementOf(wp)); err != nil {
			return statestore.Change{}, err
		}
	}
	f.dir = dir
	change := statestore.Change{Dir: dir}
	for _, file := range files {
		change.Files = append(change.Files, statestore.File{Path: dir + "/" + file.path, Content: file.content})
	}
	return change, nil
}

// flatChange writes the files at their own paths under the Destination's directory with the
// placement's state file, and removes those that its previous state file lists and this write
// lacks; when remove is set it removes every file the state file lists, and the state file.
func flatChange(ctx context.Context, w statestore.Writer, wp *v1alpha1.WorkPlacement, destPath string, files []placementFile, remove bool, f *placementFacts) (statestore.Change, error) {
	dest, err := statestore.CleanPath(destPath)
	if err != nil {
		return statestore.Change{}, err
	}
	f.dir = dest
	stateName := wp.Namespace + "." + wp.Name
	stateFile, err := statestore.StateFile(dest, stateName)
	if err != nil {
		return statestore.Change{}, err
	}
	previous, err := w.Read(ctx, stateFile)
	var written []string
	switch {
	case errors.Is(err, statestore.ErrNotFound):
	case err != nil:
		return statestore.Change{}, fmt.Errorf("read the state file %q: %w", stateFile, err)
	default:
		if written, err = statestore.ParseStateFile(dest, previous); err != nil {
			return statestore.Change{}, fmt.Errorf("the state file %q: %w", stateFile, err)
		}
	}
	change := statestore.Change{}
	keep := make(map[string]bool, len(files))
	paths := make([]string, 0, len(files))
	for _, file := range files {
		p, err := statestore.FlatFile(dest, file.path)
		if err != nil {
			return statestore.Change{}, err
		}
		keep[p] = true
		paths = append(paths, p)
		change.Files = append(change.Files, statestore.File{Path: p, Content: file.content})
	}
	for _, p := range written {
		if !keep[p] {
			change.Remove = append(change.Remove, p)
		}
	}
	if remove {
		change.Remove = append(change.Remove, stateFile)
		return change, nil
	}
	state, err := statestore.EncodeStateFile(dest, stateName, paths)
	if err != nil {
		return statestore.Change{}, err
	}
	change.Files = append(change.Files, statestore.File{Path: stateFile, Content: state})
	return change, nil
}

// aggregatedChange writes the Destination's one file with the workloads of every placement on
// it (onDestination, from the cache, with wp in place of its cached copy) that is not being
// deleted; it removes the file when none is left. The
// caller holds the Destination's lock until the change is applied, so that the last write
// always reflects the latest placements the cache has seen.
func aggregatedChange(wp *v1alpha1.WorkPlacement, dest *v1alpha1.Destination, onDestination []v1alpha1.WorkPlacement, f *placementFacts) (statestore.Change, error) {
	file, err := statestore.AggregatedFile(dest.Spec.Path, dest.Spec.Filepath.Filename)
	if err != nil {
		return statestore.Change{}, err
	}
	f.dir = file
	placements := make([]*v1alpha1.WorkPlacement, 0, len(onDestination)+1)
	for i := range onDestination {
		other := &onDestination[i]
		if other.Namespace == wp.Namespace && other.Name == wp.Name {
			continue // the placement at hand is newer than, or as new as, the cache's copy
		}
		placements = append(placements, other)
	}
	placements = append(placements, wp)
	sort.Slice(placements, func(i, j int) bool {
		if placements[i].Namespace != placements[j].Namespace {
			return placements[i].Namespace < placements[j].Namespace
		}
		return placements[i].Name < placements[j].Name
	})
	var buf bytes.Buffer
	for _, p := range placements {
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		files, err := decodeWorkloads(p)
		if err != nil {
			// That placement reports its own invalid content and is left out.
			continue
		}
		for _, file := range files {
			appendDocument(&buf, fmt.Sprintf("%s/%s: %s", p.Namespace, p.Name, file.path), file.content)
		}
	}
	if buf.Len() == 0 {
		return statestore.Change{Remove: []string{file}}, nil
	}
	return statestore.Change{Files: []statestore.File{{Path: file, Content: buf.Bytes()}}}, nil
}

// appendDocument adds one workload file to an aggregated YAML file as its own document(s),
// preceded by a comment that says where it comes from. A leading document separator in the
// content is dropped, so that no empty document appears.
func appendDocument(buf *bytes.Buffer, source string, content []byte) {
	content = bytes.TrimLeft(content, "\n")
	if rest, ok := bytes.CutPrefix(content, []byte("---\n")); ok {
		content = rest
	}
	if len(bytes.TrimSpace(content)) == 0 {
		return
	}
	fmt.Fprintf(buf, "---\n# %s\n", source)
	buf.Write(content)
	if !bytes.HasSuffix(content, []byte("\n")) {
		buf.WriteByte('\n')
	}
}

// destinationLocks serializes the writes of placements that share one file: those of a
// Destination in filepath mode aggregatedYAML.
type destinationLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// lock locks the Destination's writes and returns the unlock function; a no-op unless the
// Destination's placements share a file.
func (l *destinationLocks) lock(dest *v1alpha1.Destination) func() {
	if dest.Spec.Filepath.Mode != v1alpha1.FilepathModeAggregatedYAML {
		return func() {}
	}
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
	}
	m, ok := l.locks[dest.Name]
	if !ok {
		m = &sync.Mutex{}
		l.locks[dest.Name] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}
