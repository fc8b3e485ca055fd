package statestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// flatChange writes the files at their own paths under the Destination's directory with the
// placement's state file, and removes those that its previous state file lists and this write
// lacks; a delete removes every file the state file lists, and the state file.
func flatChange(ctx context.Context, r FileReader, in PlacementInput, files []File) (PlacementChange, error) {
	dest, err := CleanPath(in.Destination.Spec.Path)
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
	for _, p := range written {
		if !keep[p] {
			pc.Change.Remove = append(pc.Change.Remove, p)
		}
	}
	if in.Action == ActionDelete {
		pc.Change.Remove = append(pc.Change.Remove, stateFile)
		return pc, nil
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
	dest, err := CleanPath(destPath)
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
	if IsWithin(dest+"/"+StateDir, p) {
		return "", invalidPath(filePath, fmt.Sprintf("is in %s/, which holds the engine's own files", StateDir))
	}
	return p, nil
}

// stateFileHeader starts every state file; it says what the file is to someone who finds it.
const stateFileHeader = "# Files written by the WorkPlacement %s, relative to its Destination's directory.\n" +
	"# The engine removes exactly these when the WorkPlacement is deleted; do not edit.\n"

// EncodeStateFile is the content of the state file of a WorkPlacement that wrote files (paths
// relative to the store's root, inside the Destination's directory destPath). It lists them
// relative to destPath, one per line, so that the file does not depend on the store's layout.
func EncodeStateFile(destPath, workPlacement string, files []string) ([]byte, error) {
	dest, err := CleanPath(destPath)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, stateFileHeader, workPlacement)
	for _, f := range files {
		rel, ok := strings.CutPrefix(f, dest+"/")
		if !ok {
			return nil, invalidPath(f, fmt.Sprintf("is outside the Destination's directory %q", dest))
		}
		b.WriteString(rel)
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// ParseStateFile reads a state file of a Destination at destPath and returns the files it
// lists, relative to the store's root. A listed path that would leave the Destination's
// directory, or name the engine's own files, is an error: a state file edited by hand must not
// make a delete remove anything else.
func ParseStateFile(destPath string, data []byte) ([]string, error) {
	var paths []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := FlatFile(destPath, line)
		if err != nil {
			return nil, fmt.Errorf("state file line %d: %w", i+1, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
