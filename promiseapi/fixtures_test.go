package promiseapi_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/promiseapi"
)

// examplePromise reads the Promise of the workflows example (examples/workflows): a Promise whose
// API is the AppConfig CRD.
func examplePromise(t *testing.T) *v1alpha1.Promise {
	t.Helper()
	file := filepath.Join("..", "examples", "workflows", "configmap-promise.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read the example Promise: %v", err)
	}
	promise := &v1alpha1.Promise{}
	if err := yaml.UnmarshalStrict(data, promise); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return promise
}

// baseAPI is a valid spec.api with two versions, as a map that a test case edits.
func baseAPI() map[string]any {
	var api map[string]any
	if err := yaml.Unmarshal([]byte(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size:
                  type: string
    - name: v1beta1
      served: true
      storage: false
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`), &api); err != nil {
		panic(err)
	}
	return api
}

// at returns the map at path inside m; a number in path indexes a list.
func at(m map[string]any, path ...any) map[string]any {
	var cur any = m
	for _, p := range path {
		switch key := p.(type) {
		case string:
			cur = cur.(map[string]any)[key]
		case int:
			cur = cur.([]any)[key]
		}
	}
	return cur.(map[string]any)
}

// promiseWith returns a Promise named name whose spec.api is api encoded as JSON, as it comes
// from the API server.
func promiseWith(t *testing.T, name string, api map[string]any) *v1alpha1.Promise {
	t.Helper()
	raw, err := json.Marshal(api)
	if err != nil {
		t.Fatal(err)
	}
	promise := &v1alpha1.Promise{Spec: v1alpha1.PromiseSpec{API: &runtime.RawExtension{Raw: raw}}}
	promise.Name = name
	return promise
}

// mustCRD returns the CRD of a Promise with api, failing the test on an error.
func mustCRD(t *testing.T, api map[string]any) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd, err := promiseapi.CRD(promiseWith(t, "widgets", api))
	if err != nil {
		t.Fatalf("CRD: %v", err)
	}
	return crd
}
