// Package manifests checks files that GitOps tools parse as Kubernetes manifests: the
// work-writer checks a pipeline's output with it, and filepath mode aggregatedYAML what it
// puts into a Destination's one file.
package manifests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Problem says why a file that GitOps tools parse does not parse, if it does not: a .yaml
// or .yml file must be YAML document by document (duplicate keys are an error, as they are for
// Flux and kubectl), a .json file one JSON value. Other files are not parsed.
func Problem(p string, data []byte) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml":
		if err := CheckYAML(data); err != nil {
			return fmt.Sprintf("is not valid YAML: %v", err)
		}
	case ".json":
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Sprintf("is not valid JSON: %v", err)
		}
	}
	return ""
}

// CheckYAML parses each document of a multi-document YAML stream, split as kubectl splits it.
func CheckYAML(data []byte) error {
	return eachDocument(data, func(int, []byte) error { return nil })
}

// eachDocument splits a YAML stream as kubectl does, parses each document strictly into JSON
// and calls fn with its number (from 1) and JSON.
func eachDocument(data []byte, fn func(doc int, js []byte) error) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		js, err := yaml.YAMLToJSONStrict(chunk)
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if err := fn(doc, js); err != nil {
			return err
		}
	}
}

// CheckObjects checks that each document of a YAML stream is a Kubernetes object, a map with
// apiVersion and kind (empty documents aside): what kustomize builds, and what one file shared
// by many placements must hold, since a document it refuses breaks the whole file.
func CheckObjects(data []byte) error {
	return eachDocument(data, func(doc int, js []byte) error {
		var v any
		if err := json.Unmarshal(js, &v); err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if v == nil {
			return nil
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("document %d is not a Kubernetes object (a map with apiVersion and kind)", doc)
		}
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		if apiVersion == "" || kind == "" {
			return fmt.Errorf("document %d is not a Kubernetes object: it has no apiVersion and kind", doc)
		}
		return nil
	})
}

// IsManifestFile reports whether GitOps tools read a file of this name as manifests: a .yaml,
// .yml or .json file.
func IsManifestFile(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
