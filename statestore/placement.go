package statestore

import (
	"context"
	"errors"
	"fmt"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/manifests"
)

// A WorkPlacement's files are laid out in its Destination's filepath mode (CONTRACT.md §3):
//
//   - nestedByMetadata (mode_nested.go): the placement owns a directory named after its Promise,
//     resource, pipeline and workload group; a write replaces it, a delete removes it.
//   - none (mode_none.go): the files go where the pipeline put them under the Destination's
//     directory, and a state file in .kratix/ lists them, so that a write removes the files its
//     last write had and this one lacks, and a delete removes exactly those files.
//   - aggregatedYAML (mode_aggregated.go): one file holds every placement of the Destination,
//     sorted by namespace and name; each write of a placement writes the whole file again.

// FileReader reads one file of a store; every Writer is one. Filepath mode none reads the
// placement's state file through it.
type FileReader interface {
	// Read returns the content of one file, path relative to the store's root. A missing file is
	// an error that matches ErrNotFound.
	Read(ctx context.Context, path string) ([]byte, error)
}

// PlacementInput is what the layout of a WorkPlacement's files depends on.
type PlacementInput struct {
	// Action is ActionUpdate to write the placement's files, ActionDelete to remove them.
	Action Action
	// Placement is the WorkPlacement whose files the change writes or removes.
	Placement *v1alpha1.WorkPlacement
	// Destination is the placement's Destination: its path and filepath mode.
	Destination *v1alpha1.Destination
	// Neighbours are the WorkPlacements on the Destination, Placement's older copy included or
	// not; read only when NeedsNeighbours(Destination). In aggregatedYAML mode those being
	// deleted are left out of the file; in mode none their claims on paths are checked.
	Neighbours []v1alpha1.WorkPlacement
}

// PlacementChange is the change that writes or removes a placement's files, and where they are.
type PlacementChange struct {
	Change Change
	// Path is where the placement's files are, as its status records it: its own directory
	// (nestedByMetadata), the Destination's directory (none) or the aggregated file.
	Path string
	// Workloads is how many workload files the change writes.
	Workloads int
}

// SharesFile reports whether the Destination's placements share one file (filepath mode
// aggregatedYAML): their writes must then be serialized, and each needs the others'
// workloads (PlacementInput.Neighbours).
func SharesFile(dest *v1alpha1.Destination) bool {
	return dest.Spec.Filepath.Mode == v1alpha1.FilepathModeAggregatedYAML
}

// NeedsNeighbours reports whether a placement's change depends on the Destination's other
// placements (PlacementInput.Neighbours): in aggregatedYAML mode they share one file, in mode
// none one directory, where two may claim one path (claims.go).
func NeedsNeighbours(dest *v1alpha1.Destination) bool {
	return SharesFile(dest) || dest.Spec.Filepath.Mode == v1alpha1.FilepathModeNone
}

// BuildPlacementChange turns a WorkPlacement's workloads into the change that writes them into
// its Destination's directory in the Destination's filepath mode, or, for ActionDelete, into
// the change that removes what the placement wrote. Filepath mode none reads the placement's
// state file through r. An error matches ErrInvalidContent when a workload cannot be decoded,
// ErrInvalidPath when a path would leave the Destination's directory, ErrClaimed when another
// placement is first to one of its paths (filepath mode none), and is the store's own error
// when a state file could not be read.
func BuildPlacementChange(ctx context.Context, r FileReader, in PlacementInput) (PlacementChange, error) {
	var files []File
	if in.Action != ActionDelete {
		var err error
		if files, err = DecodeWorkloads(in.Placement); err != nil {
			return PlacementChange{}, err
		}
		// The work-writer checks a pipeline's output; a Work written through the API is
		// checked here: one file that does not parse breaks the Destination's whole directory
		// for its GitOps agent. (aggregatedChange checks more, for every placement it writes.)
		for _, f := range files {
			if in.Destination.Spec.Filepath.Mode == v1alpha1.FilepathModeAggregatedYAML {
				break
			}
			if problem := manifests.Problem(f.Path, f.Content); problem != "" {
				return PlacementChange{}, NewError(ErrInvalidContent, fmt.Sprintf("workload %q", f.Path), errors.New(problem))
			}
		}
	}
	var (
		pc  PlacementChange
		err error
	)
	switch in.Destination.Spec.Filepath.Mode {
	case v1alpha1.FilepathModeNone:
		pc, err = flatChange(ctx, r, in, files)
	case v1alpha1.FilepathModeAggregatedYAML:
		pc, err = aggregatedChange(in)
	default:
		pc, err = nestedChange(in, files)
	}
	if err != nil {
		return PlacementChange{}, err
	}
	pc.Change.Origin = OriginOf(in.Placement, in.Action)
	pc.Workloads = len(files)
	return pc, nil
}

// DecodeWorkloads decodes the placement's workloads, in spec order; paths are as the pipeline
// wrote them, relative to the workload group's directory. They may decode to
// v1alpha1.MaxDecodedContent bytes in all.
func DecodeWorkloads(wp *v1alpha1.WorkPlacement) ([]File, error) {
	files, _, err := decodeWithin(wp, v1alpha1.MaxDecodedContent)
	return files, err
}

// errOverBudget marks workloads that decode to more than the budget they were decoded within.
var errOverBudget = errors.New("over the budget of decoded bytes")

// decodeWithin decodes the placement's workloads within a budget of decoded bytes and returns
// what is left of it; past the budget, the error names the workload and the limit.
func decodeWithin(wp *v1alpha1.WorkPlacement, budget int) ([]File, int, error) {
	files := make([]File, 0, len(wp.Spec.Workloads))
	for _, wl := range wp.Spec.Workloads {
		content, err := v1alpha1.DecodeContentWithin(wl.Content, budget)
		if errors.Is(err, v1alpha1.ErrContentTooLarge) {
			return nil, 0, NewError(ErrInvalidContent, fmt.Sprintf("workload %q", wl.Filepath),
				fmt.Errorf("%w: the workloads decode to more than %d bytes in all", errOverBudget, v1alpha1.MaxDecodedContent))
		}
		if err != nil {
			return nil, 0, NewError(ErrInvalidContent, fmt.Sprintf("workload %q", wl.Filepath), err)
		}
		budget -= len(content)
		files = append(files, File{Path: wl.Filepath, Content: content})
	}
	return files, budget, nil
}

// PlacementOf says whose files the placement's directory holds.
func PlacementOf(wp *v1alpha1.WorkPlacement) Placement {
	return Placement{
		Promise:           wp.Spec.PromiseName,
		ResourceNamespace: wp.Spec.ResourceNamespace,
		Resource:          wp.Spec.ResourceName,
		Pipeline:          wp.Spec.PipelineName,
		GroupID:           wp.Spec.ID,
	}
}

// OriginOf is the origin of a change to the placement's files, for the commit message.
func OriginOf(wp *v1alpha1.WorkPlacement, action Action) Origin {
	return Origin{
		Action:            action,
		Destination:       wp.Spec.TargetDestinationName,
		Promise:           wp.Spec.PromiseName,
		ResourceNamespace: wp.Spec.ResourceNamespace,
		Resource:          wp.Spec.ResourceName,
		Pipeline:          wp.Spec.PipelineName,
		WorkPlacement:     wp.Name,
	}
}

// WorkloadPath is where one of the placement's workloads (its path as the pipeline wrote it)
// lands, relative to the store's root, in its Destination's filepath mode: in the placement's
// directory (nestedByMetadata), at its own path under the Destination's directory (none), or in
// the Destination's one file (aggregatedYAML), as BuildPlacementChange writes it.
func WorkloadPath(dest *v1alpha1.Destination, wp *v1alpha1.WorkPlacement, filePath string) (string, error) {
	switch dest.Spec.Filepath.Mode {
	case v1alpha1.FilepathModeNone:
		return FlatFile(dest.Spec.Path, filePath)
	case v1alpha1.FilepathModeAggregatedYAML:
		return AggregatedFile(dest.Spec.Path, dest.Spec.Filepath.Filename)
	default:
		dir, err := NestedDir(dest.Spec.Path, PlacementOf(wp))
		if err != nil {
			return "", err
		}
		return dir + "/" + filePath, nil
	}
}
