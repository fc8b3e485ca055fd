package statestore

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"kratix.dev/kratix/api/v1alpha1"
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
	for _, p := range placements {
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		files, err := DecodeWorkloads(p)
		if err != nil {
			// The placement at hand was decoded already; another one reports its own invalid
			// content and is left out.
			continue
		}
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
