package statestore

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/manifests"
)

// aggregatedChange writes the Destination's one file with the workloads of every placement on
// it that is not being deleted: the Neighbours, with the placement at hand in place of its copy
// among them. It removes the file when none is left. The caller serializes the Destination's
// writes (SharesFile) until the change is applied, so that the last write always reflects the
// latest placements it has seen.
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
		placements = append(placements, other)
	}
	if in.Action != ActionDelete {
		placements = append(placements, wp)
	}
	sort.Slice(placements, func(i, j int) bool {
		if placements[i].Namespace != placements[j].Namespace {
			return placements[i].Namespace < placements[j].Namespace
		}
		return placements[i].Name < placements[j].Name
	})
	var buf bytes.Buffer
	budget := v1alpha1.MaxDecodedContent
	for _, p := range placements {
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		files, left, err := decodeWithin(p, budget)
		if err == nil {
			err = aggregatable(files)
		}
		switch {
		case err != nil && p == wp:
			return PlacementChange{}, err
		case errors.Is(err, errOverBudget) && budget < v1alpha1.MaxDecodedContent:
			// The placements before it fill the file: no write of the Destination can succeed.
			return PlacementChange{}, NewError(ErrInvalidContent, fmt.Sprintf("the aggregated file %q", file),
				fmt.Errorf("the Destination's placements decode to more than %d bytes in all", v1alpha1.MaxDecodedContent))
		case err != nil:
			// Another placement reports its own invalid content and is left out.
			continue
		}
		budget = left
		for _, f := range files {
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

// aggregatable refuses workloads that cannot go into one YAML file: files that GitOps tools
// would not read as manifests, and content that does not parse as YAML, which would break the
// whole Destination's file.
func aggregatable(files []File) error {
	for _, f := range files {
		if !manifests.IsManifestFile(f.Path) {
			return NewError(ErrInvalidContent, fmt.Sprintf("workload %q", f.Path),
				errors.New("filepath mode aggregatedYAML holds only .yaml, .yml and .json files"))
		}
		if err := manifests.CheckYAML(f.Content); err != nil {
			return NewError(ErrInvalidContent, fmt.Sprintf("workload %q", f.Path),
				fmt.Errorf("filepath mode aggregatedYAML holds only YAML: %w", err))
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
