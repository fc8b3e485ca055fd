package statestore

import (
	"fmt"
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
