package adapter

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

// contentProblem says why a file that GitOps tools parse does not parse, if it does not: a .yaml
// or .yml file must be YAML document by document (duplicate keys are an error, as they are for
// Flux and kubectl), a .json file one JSON value.
func contentProblem(p string, data []byte) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml":
		if err := checkYAML(data); err != nil {
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

// checkYAML parses each document of a multi-document YAML stream, split as kubectl splits it.
func checkYAML(data []byte) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if _, err := yaml.YAMLToJSONStrict(chunk); err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
	}
}
