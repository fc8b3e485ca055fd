package crd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
)

// TestExamplesApply applies every platform.kratix.io object of the repository's examples/ with a
// server-side dry run: Promises, Destinations and state stores written for Kratix must apply
// unchanged. Objects of a Promise's own API need its CRD first and are left to the Promise tests.
func TestExamplesApply(t *testing.T) {
	ctx := testenv.Context(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "examples")
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no examples under %s", dir)
	}
	applied := 0
	for _, file := range files {
		for i, obj := range readManifests(t, file) {
			if obj.GroupVersionKind().Group != platformv1alpha1.GroupVersion.Group {
				continue
			}
			name := filepath.Base(filepath.Dir(file)) + "/" + filepath.Base(file) + "/" + obj.GetKind() + "/" + obj.GetName()
			t.Run(name, func(t *testing.T) {
				err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
					client.DryRunAll, client.FieldOwner("kratix-test"), client.ForceOwnership)
				if err != nil {
					t.Fatalf("document %d of %s does not apply: %v", i, file, err)
				}
			})
			applied++
		}
	}
	if applied < 4 {
		t.Errorf("applied %d platform.kratix.io objects from the examples; expected the Promises and Destinations at least", applied)
	}
}

// readManifests splits a multi-document YAML file into objects, skipping empty documents.
func readManifests(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		u := object(t, string(doc))
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}
