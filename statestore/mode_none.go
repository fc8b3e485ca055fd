package statestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// flatChange writes the files at their own paths under the Destination's directory with the
// placement's state file, and removes those that its previous state file lists and this write
// lacks; a delete removes every file the state file lists, and the state file. A path that
// another of the Destination's placements (in.Neighbours) is first to refuses the write with
// ErrClaimed, a file that another placement not being deleted claims is never removed, and the
// files of refused claims in the way of the write are (claims.go).
func flatChange(ctx context.Context, r FileReader, in PlacementInput, files []File) (PlacementChange, error) {
	dest, err := DestinationDir(in.Destination.Spec.Path)
	if err != nil {
		return PlacementChange{}, err
	}
	stateName := in.Placement.Namespace + "." + in.Placement.Name
	stateFile, err := StateFile(dest, stateName)
	if err != nil {
		return PlacementChange{}, err
	}
	written, err := readStateFile(ctx, r, dest, stateFile)
	if err != nil {
		return PlacementChange{}, err
	}
	pc := PlacementChange{Path: dest}
	keep := make(map[string]bool, len(files))
	paths := make([]string, 0, len(files))
	for _, f := range files {
		p, err := FlatFile(dest, f.Path)
		if err != nil {
			return PlacementChange{}, err
		}
		keep[p] = true
		paths = append(paths, p)
		pc.Change.Files = append(pc.Change.Files, File{Path: p, Content: f.Content})
	}
	idx := newClaimIndex(dest, in.Placement, in.Neighbours)
	if in.Action != ActionDelete {
		if err := checkClaims(ctx, r, dest, in.Placement, written, paths, idx); err != nil {
			return PlacementChange{}, err
		}
	}
	for _, p := range written {
		if !keep[p] && !idx.claimedByLive(p) {
			pc.Change.Remove = append(pc.Change.Remove, p)
		}
	}
	if in.Action == ActionDelete {
		pc.Change.Remove = append(pc.Change.Remove, stateFile)
		return pc, nil
	}
	for _, p := range idx.inTheWay(paths) {
		if !slices.Contains(pc.Change.Remove, p) {
			pc.Change.Remove = append(pc.Change.Remove, p)
		}
	}
	state, err := EncodeStateFile(dest, stateName, paths)
	if err != nil {
		return PlacementChange{}, err
	}
	pc.Change.Files = append(pc.Change.Files, File{Path: stateFile, Content: state})
	return pc, nil
}

// readStateFile returns the files that the state file lists; none when there is no state file.
func readStateFile(ctx context.Context, r FileReader, dest, stateFile string) ([]string, error) {
	data, err := r.Read(ctx, stateFile)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the state file %q: %w", stateFile, err)
	}
	written, err := ParseStateFile(dest, data)
	if err != nil {
		return nil, fmt.Errorf("the state file %q: %w", stateFile, err)
	}
	return written, nil
}

// StateFile is the bookkeeping file of a WorkPlacement in filepath mode none: it lists the files
// the placement wrote, so that a delete removes exactly those.
func StateFile(destPath, workPlacement string) (string, error) {
	return Join(destPath, StateDir, workPlacement+".state")
}

// FlatFile is where a workload file goes in filepath mode none: <dest>/<file path>. Paths in
// the engine's StateDir are refused.
func FlatFile(destPath, filePath string) (string, error) {
	dest, err := DestinationDir(destPath)
	if err != nil {
		return "", err
	}
	p, err := Join(dest, filePath)
	if err != nil {
		return "", err
	}
	if p == dest {
		return "", invalidPath(filePath, "names the Destination's directory, not a file in it")
	}
	if IsWithin(Under(dest, StateDir), p) {
		return "", invalidPath(filePath, fmt.Sprintf("is in %s/, which holds the engine's own files", StateDir))
	}
	for _, dir := range []string{DependenciesDir, ResourcesDir} {
		if p == Under(dest, dir) {
			// A file there would replace the directory that GitOps agents apply.
			return "", invalidPath(filePath, fmt.Sprintf("names the Destination's %s/ directory, not a file in it", dir))
		}
	}
	if p == Under(dest, DependenciesDir+"/"+canaryDependencyFilename) || p == Under(dest, ResourcesDir+"/"+canaryResourceFilename) {
		return "", invalidPath(filePath, "is the Destination's canary file, which the engine writes")
	}
	return p, nil
}

// stateFile is the content of a state file: JSON, so that any file name (one that starts with
// "#" or ends in a space, say) is listed exactly as written. The file's name ends in .state, not
// .json, so that no GitOps agent takes it for a manifest.
type stateFile struct {
	// Note says what the file is to someone who finds it.
	Note string `json:"note"`
	// WorkPlacement is <namespace>.<name> of the placement that wrote the files.
	WorkPlacement string `json:"workPlacement"`
	// Files are the paths written, relative to the Destination's directory, sorted.
	Files []string `json:"files"`
}

// stateFileNote is every state file's note.
const stateFileNote = "Files written by the WorkPlacement, relative to its Destination's directory. " +
	"The engine removes exactly these when the WorkPlacement is deleted; do not edit."

// EncodeStateFile is the content of the state file of a WorkPlacement that wrote files (paths
// relative to the store's root, inside the Destination's directory destPath). It lists them
// relative to destPath, so that the file does not depend on the store's layout.
func EncodeStateFile(destPath, workPlacement string, files []string) ([]byte, error) {
	dest, err := DestinationDir(destPath)
	if err != nil {
		return nil, err
	}
	state := stateFile{Note: stateFileNote, WorkPlacement: workPlacement, Files: make([]string, 0, len(files))}
	for _, f := range files {
		rel, ok := strings.CutPrefix(f, Under(dest, ""))
		if !ok {
			return nil, invalidPath(f, fmt.Sprintf("is outside the Destination's directory %q", dest))
		}
		state.Files = append(state.Files, rel)
	}
	sort.Strings(state.Files)
	data, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// ParseStateFile reads a state file of a Destination at destPath and returns the files it
// lists, relative to the store's root. A listed path that would leave the Destination's
// directory, or name the engine's own files, is an error: a state file edited by hand must not
// make a delete remove anything else. State files written before the JSON format (a "#" header,
// then one path per line) are read too; a later write replaces them.
func ParseStateFile(destPath string, data []byte) ([]string, error) {
	rels, err := stateFileEntries(data)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(rels))
	for _, rel := range rels {
		p, err := FlatFile(destPath, rel)
		if err != nil {
			return nil, fmt.Errorf("state file entry %q: %w", rel, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// stateFileEntries returns the paths a state file lists, as written.
func stateFileEntries(data []byte) ([]string, error) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		var state stateFile
		if err := json.Unmarshal(trimmed, &state); err != nil {
			return nil, fmt.Errorf("not a state file: %w", err)
		}
		return state.Files, nil
	}
	// The line format of earlier versions: a "#" header, then one path per line. It could not
	// hold a name that starts with "#" or has spaces at its ends; such files were never listed.
	var rels []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rels = append(rels, line)
	}
	return rels, nil
}
