package statestore

import (
	"fmt"
	"strings"
)

// Directory names inside a Destination's directory (CONTRACT.md §3).
const (
	DependenciesDir = "dependencies"
	ResourcesDir    = "resources"
	// StateDir holds the engine's own bookkeeping in filepath mode none. Its files end in .state,
	// never .yaml, .yml or .json, so that Flux and Argo CD do not read them as manifests.
	StateDir = ".kratix"
	// StaticDir is the last segment of a static-dependency placement's directory.
	StaticDir = "static"
)

// Placement says whose files a directory holds.
type Placement struct {
	Promise string
	// ResourceNamespace and Resource are empty for Promise-level output.
	ResourceNamespace string
	Resource          string
	// Pipeline is empty for a Promise's static dependencies.
	Pipeline string
	// GroupID is the workload group's id (hex md5 of its directory).
	GroupID string
}

// ShortID is the part of a workload group id used in paths: its first five characters.
func ShortID(groupID string) string {
	if len(groupID) < 5 {
		return groupID
	}
	return groupID[:5]
}

// NestedDir is the directory of a placement's files in filepath mode nestedByMetadata, relative to
// the store's root:
//
//	<dest>/resources/<namespace>/<promise>/<resource>/<pipeline>/<id[0:5]>   resource output
//	<dest>/dependencies/<promise>/<pipeline>/<id[0:5]>                        Promise workflow output
//	<dest>/dependencies/<promise>/<id[0:5]>/static                           static dependencies
func NestedDir(destPath string, p Placement) (string, error) {
	if p.Promise == "" || p.GroupID == "" {
		return "", invalidPath(destPath, "needs a promise and a workload group id for its placement directory")
	}
	id := ShortID(p.GroupID)
	switch {
	case p.Resource != "":
		if p.ResourceNamespace == "" || p.Pipeline == "" {
			return "", invalidPath(destPath, fmt.Sprintf("resource %q needs a namespace and a pipeline for its placement directory", p.Resource))
		}
		return Join(destPath, ResourcesDir, p.ResourceNamespace, p.Promise, p.Resource, p.Pipeline, id)
	case p.Pipeline == "":
		return Join(destPath, DependenciesDir, p.Promise, id, StaticDir)
	default:
		return Join(destPath, DependenciesDir, p.Promise, p.Pipeline, id)
	}
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

// Canary files, written when a Destination becomes ready so that a Flux Kustomization for each of
// <dest>/dependencies and <dest>/resources always has something to apply.
const (
	CanaryNamespace          = "kratix-worker-system"
	canaryDependencyFilename = "kratix-canary-namespace.yaml"
	canaryResourceFilename   = "kratix-canary-configmap.yaml"
)

// CanaryFiles returns the canary files of a Destination, paths relative to the store's root.
func CanaryFiles(destPath string) ([]File, error) {
	dep, err := Join(destPath, DependenciesDir, canaryDependencyFilename)
	if err != nil {
		return nil, err
	}
	res, err := Join(destPath, ResourcesDir, canaryResourceFilename)
	if err != nil {
		return nil, err
	}
	return []File{
		{Path: dep, Content: []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + CanaryNamespace + "\n")},
		{Path: res, Content: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kratix-info\n  namespace: " + CanaryNamespace + "\ndata:\n  canary: the Destination is reachable through its state store\n")},
	}, nil
}
