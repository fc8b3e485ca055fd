package statestore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/manifests"
)

// aggregatedChange writes the Destination's one file with the workloads of every placement on
// it that is not being deleted: the Neighbours, with the placement at hand in place of its copy
// among them. It removes the file when none is left. The caller serializes the Destination's
// writes (SharesFile) until the change is applied, so that the last write always reflects the
// latest placements it has seen.
//
// The file holds at most v1alpha1.MaxDecodedContent bytes of workloads. The placements take
// their place in it in the order they were created (then by namespace/name): one that does not
// fit in what the older ones left is left out, and its own write says so, so a newcomer cannot
// crowd out the placements that were there first. In the file they appear by namespace/name.
func aggregatedChange(in PlacementInput) (PlacementChange, error) {
	dest := in.Destination
	file, err := AggregatedFile(dest.Spec.Path, dest.Spec.Filepath.Filename)
	if err != nil {
		return PlacementChange{}, err
	}
	wp := in.Placement
	placements := make([]*v1alpha1.WorkPlacement, 0, len(in.Neighbours)+1)
	for i := range in.Neighbours {
		other := &in.Neighbours[i]
		if other.Namespace == wp.Namespace && other.Name == wp.Name {
			continue // the placement at hand is newer than, or as new as, this copy
		}
		if other.DeletionTimestamp.IsZero() {
			placements = append(placements, other)
		}
	}
	if in.Action != ActionDelete {
		placements = append(placements, wp)
	}
	slices.SortFunc(placements, func(a, b *v1alpha1.WorkPlacement) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	included := make(map[*v1alpha1.WorkPlacement][]File, len(placements))
	budget := aggregatedBudget
	for _, p := range placements {
		files, left, err := decodeWithin(p, budget)
		if err == nil {
			err = aggregatable(files)
		}
		switch {
		case err != nil && p == wp && errors.Is(err, errOverBudget) && budget < aggregatedBudget:
			return PlacementChange{}, NewError(ErrInvalidContent, fmt.Sprintf("the aggregated file %q", file),
				fmt.Errorf("the placement does not fit: the Destination's older placements take %d of the file's %d bytes", aggregatedBudget-budget, aggregatedBudget))
		case err != nil && p == wp:
			return PlacementChange{}, err
		case err != nil:
			// Another placement reports its own invalid content, or that it does not fit, and
			// is left out.
			continue
		}
		budget = left
		included[p] = files
	}
	slices.SortFunc(placements, func(a, b *v1alpha1.WorkPlacement) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	var buf bytes.Buffer
	for _, p := range placements {
		for _, f := range included[p] {
			appendDocument(&buf, fmt.Sprintf("%s/%s: %s", p.Namespace, p.Name, f.Path), f.Content)
		}
	}
	pc := PlacementChange{Path: file}
	if buf.Len() == 0 {
		pc.Change.Remove = []string{file}
		return pc, nil
	}
	pc.Change.Files = []File{{Path: file, Content: buf.Bytes()}}
	return pc, nil
}

// aggregatedBudget is how many bytes of workloads an aggregated file holds: as many as one Work
// may (tests make it smaller).
var aggregatedBudget = v1alpha1.MaxDecodedContent

// aggregatable refuses workloads that cannot go into one YAML file: files that GitOps tools
// would not read as manifests, and documents that are not Kubernetes objects, which would break
// the whole Destination's file.
func aggregatable(files []File) error {
	for _, f := range files {
		if !manifests.IsManifestFile(f.Path) {
			return NewError(ErrInvalidContent, fmt.Sprintf("workload %q", f.Path),
				errors.New("filepath mode aggregatedYAML holds only .yaml, .yml and .json files"))
		}
		if err := manifests.CheckObjects(f.Content); err != nil {
			return NewError(ErrInvalidContent, fmt.Sprintf("workload %q", f.Path),
				fmt.Errorf("filepath mode aggregatedYAML holds only Kubernetes objects: %w", err))
		}
	}
	return nil
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

// DefaultAggregatedFilename is the file of filepath mode aggregatedYAML when the Destination
// names none.
const DefaultAggregatedFilename = "aggregated.yaml"

// AggregatedFile is the single file of a Destination in filepath mode aggregatedYAML.
func AggregatedFile(destPath, filename string) (string, error) {
	if filename == "" {
		filename = DefaultAggregatedFilename
	}
	if strings.Contains(filename, "/") {
		return "", invalidPath(filename, "is a path; the aggregated file's name must be a plain file name")
	}
	return Join(destPath, filename)
}
