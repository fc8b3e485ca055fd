package statestore

// nestedChange replaces the placement's own directory with its files, or removes the directory
// its status records (the one it computes when the status has none).
func nestedChange(in PlacementInput, files []File) (PlacementChange, error) {
	wp := in.Placement
	dir := wp.Status.Path
	if in.Action != ActionDelete || dir == "" {
		var err error
		if dir, err = NestedDir(in.Destination.Spec.Path, PlacementOf(wp)); err != nil {
			return PlacementChange{}, err
		}
	}
	pc := PlacementChange{Path: dir, Change: Change{Dir: dir}}
	for _, f := range files {
		pc.Change.Files = append(pc.Change.Files, File{Path: dir + "/" + f.Path, Content: f.Content})
	}
	return pc, nil
}
