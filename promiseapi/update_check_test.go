package promiseapi_test

import (
	"errors"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"kratix.dev/kratix/promiseapi"
)

func TestCheckUpdate(t *testing.T) {
	tests := []struct {
		name string
		// installed edits the installed CRD (status included); desired edits spec.api.
		installed func(crd *apiextensionsv1.CustomResourceDefinition)
		desired   func(api map[string]any)
		// want are substrings of the error; none means the update is allowed.
		want []string
	}{{
		name: "no change",
	}, {
		name: "a new version",
		desired: func(api map[string]any) {
			versions := at(api, "spec")["versions"].([]any)
			at(api, "spec", "versions", 0)["storage"] = false
			at(api, "spec")["versions"] = append(versions, map[string]any{
				"name": "v2", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object"}},
			})
		},
	}, {
		name: "a schema change",
		desired: func(api map[string]any) {
			at(api, "spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties")["colour"] = map[string]any{"type": "string"}
		},
	}, {
		name:      "a version nothing is stored at is removed",
		installed: func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Status.StoredVersions = []string{"v1"} },
		desired: func(api map[string]any) {
			at(api, "spec")["versions"] = at(api, "spec")["versions"].([]any)[:1]
		},
	}, {
		name: "a group change",
		desired: func(api map[string]any) {
			at(api, "spec")["group"] = "example.org"
			at(api, "metadata")["name"] = "widgets.example.org"
		},
		want: []string{`spec.api.spec.group cannot change from "example.com" to "example.org"`, "orphaned"},
	}, {
		name:      "a name change",
		installed: func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Name = "old.example.com" },
		want:      []string{`spec.api.metadata.name cannot change from "old.example.com" to "widgets.example.com"`},
	}, {
		name:    "a kind change",
		desired: func(api map[string]any) { at(api, "spec", "names")["kind"] = "Gadget" },
		want:    []string{`spec.api.spec.names.kind cannot change from "Widget" to "Gadget"`},
	}, {
		name: "a plural change",
		desired: func(api map[string]any) {
			at(api, "spec", "names")["plural"] = "gadgets"
			at(api, "metadata")["name"] = "gadgets.example.com"
		},
		want: []string{`spec.api.spec.names.plural cannot change from "widgets" to "gadgets"`},
	}, {
		name:    "a scope change",
		desired: func(api map[string]any) { at(api, "spec")["scope"] = "Cluster" },
		want:    []string{`spec.api.spec.scope cannot change from "Namespaced" to "Cluster"`},
	}, {
		name: "a stored version is removed",
		installed: func(crd *apiextensionsv1.CustomResourceDefinition) {
			crd.Status.StoredVersions = []string{"v1", "v1beta1"}
		},
		desired: func(api map[string]any) {
			at(api, "spec")["versions"] = at(api, "spec")["versions"].([]any)[:1]
		},
		want: []string{`spec.api.spec.versions must keep version "v1beta1"`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			installed := mustCRD(t, baseAPI())
			if tt.installed != nil {
				tt.installed(installed)
			}
			api := baseAPI()
			if tt.desired != nil {
				tt.desired(api)
			}
			desired := mustCRD(t, api)

			err := promiseapi.CheckUpdate(installed, desired)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("CheckUpdate refused an allowed update: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckUpdate allowed it")
			}
			var invalid *promiseapi.InvalidAPIError
			if !errors.As(err, &invalid) {
				t.Errorf("error %v is a %T, want an *InvalidAPIError", err, err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestCheckUpdateWithoutInstalledCRD(t *testing.T) {
	if err := promiseapi.CheckUpdate(nil, mustCRD(t, baseAPI())); err != nil {
		t.Errorf("CheckUpdate(nil, desired) = %v, want nil", err)
	}
}
