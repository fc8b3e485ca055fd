package promiseapi_test

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"kratix.dev/kratix/promiseapi"
)

func TestCRDRefusesInvalidAPI(t *testing.T) {
	tests := []struct {
		name string
		edit func(api map[string]any)
		// want are substrings of the error; each must appear.
		want []string
		// problems is how many problems must be reported, when the case is about collecting them.
		problems int
	}{{
		name: "not a CRD kind",
		edit: func(api map[string]any) { api["kind"] = "ConfigMap" },
		want: []string{`spec.api.kind is "ConfigMap" but must be "CustomResourceDefinition"`},
	}, {
		name: "an older apiVersion",
		edit: func(api map[string]any) { api["apiVersion"] = "apiextensions.k8s.io/v1beta1" },
		want: []string{`spec.api.apiVersion is "apiextensions.k8s.io/v1beta1" but must be "apiextensions.k8s.io/v1"`},
	}, {
		name:     "no apiVersion and no kind",
		edit:     func(api map[string]any) { delete(api, "apiVersion"); delete(api, "kind") },
		want:     []string{`spec.api.apiVersion is ""`, `spec.api.kind is ""`},
		problems: 2,
	}, {
		name: "an unknown field",
		edit: func(api map[string]any) { at(api, "spec", "versions", 0)["servd"] = true },
		want: []string{`unknown field "spec.api.spec.versions[0].servd"`},
	}, {
		name: "every unknown field is named",
		edit: func(api map[string]any) {
			at(api, "metadata")["lables"] = map[string]any{"a": "b"}
			at(api, "spec", "versions", 1, "schema", "openAPIV3Schema")["typ"] = "object"
		},
		want:     []string{`unknown field "spec.api.metadata.lables"`, `unknown field "spec.api.spec.versions[1].schema.openAPIV3Schema.typ"`},
		problems: 2,
	}, {
		name: "a value of the wrong type",
		edit: func(api map[string]any) { at(api, "spec", "versions", 0)["served"] = "yes" },
		want: []string{"spec.api is not a valid CustomResourceDefinition", "served"},
	}, {
		name: "name is not plural.group",
		edit: func(api map[string]any) { at(api, "metadata")["name"] = "widget.example.com" },
		want: []string{`spec.api.metadata.name is "widget.example.com" but must be "widgets.example.com"`},
	}, {
		name: "no name",
		edit: func(api map[string]any) { delete(at(api, "metadata"), "name") },
		want: []string{"spec.api.metadata.name is required"},
	}, {
		name: "no group",
		edit: func(api map[string]any) { delete(at(api, "spec"), "group") },
		want: []string{"spec.api.spec.group is required"},
	}, {
		name: "missing plural",
		edit: func(api map[string]any) { delete(at(api, "spec", "names"), "plural") },
		want: []string{"spec.api.spec.names.plural is required"},
	}, {
		name: "missing kind",
		edit: func(api map[string]any) { delete(at(api, "spec", "names"), "kind") },
		want: []string{"spec.api.spec.names.kind is required"},
	}, {
		name: "an unknown scope",
		edit: func(api map[string]any) { at(api, "spec")["scope"] = "Global" },
		want: []string{`spec.api.spec.scope is "Global" but must be Namespaced or Cluster`},
	}, {
		name: "no scope",
		edit: func(api map[string]any) { delete(at(api, "spec"), "scope") },
		want: []string{"spec.api.spec.scope is required"},
	}, {
		name: "no versions",
		edit: func(api map[string]any) { delete(at(api, "spec"), "versions") },
		want: []string{"spec.api.spec.versions is empty"},
	}, {
		name: "no storage version",
		edit: func(api map[string]any) { at(api, "spec", "versions", 0)["storage"] = false },
		want: []string{"no version has storage: true, exactly one must"},
	}, {
		name: "two storage versions",
		edit: func(api map[string]any) { at(api, "spec", "versions", 1)["storage"] = true },
		want: []string{"2 versions have storage: true (v1, v1beta1), exactly one must"},
	}, {
		name: "no served version",
		edit: func(api map[string]any) {
			at(api, "spec", "versions", 0)["served"] = false
			at(api, "spec", "versions", 1)["served"] = false
		},
		want: []string{"no version has served: true"},
	}, {
		name: "two versions with one name",
		edit: func(api map[string]any) { at(api, "spec", "versions", 1)["name"] = "v1" },
		want: []string{`spec.api.spec.versions[1].name "v1" is also the name of versions[0]`},
	}, {
		name: "a version without a schema",
		edit: func(api map[string]any) { delete(at(api, "spec", "versions", 1), "schema") },
		want: []string{"spec.api.spec.versions[1].schema.openAPIV3Schema is required"},
	}, {
		name: "every problem is reported at once",
		edit: func(api map[string]any) {
			delete(at(api, "spec", "names"), "plural")
			at(api, "spec")["scope"] = "Global"
			at(api, "spec", "versions", 0)["storage"] = false
			at(api, "spec")["unexpected"] = 1
		},
		want: []string{
			`unknown field "spec.api.spec.unexpected"`,
			"spec.api.spec.names.plural is required",
			`spec.api.spec.scope is "Global"`,
			"no version has storage: true",
		},
		problems: 4,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := baseAPI()
			tt.edit(api)
			promise := promiseWith(t, "widgets", api)
			before := promise.DeepCopy()

			crd, err := promiseapi.CRD(promise)
			if err == nil {
				t.Fatalf("CRD accepted it: %+v", crd)
			}
			if crd != nil {
				t.Error("CRD returned a CRD with an error")
			}
			var invalid *promiseapi.InvalidAPIError
			if !errors.As(err, &invalid) {
				t.Errorf("error %v is a %T, want an *InvalidAPIError", err, err)
			} else if tt.problems > 0 && len(invalid.Problems) != tt.problems {
				t.Errorf("%d problems reported, want %d: %v", len(invalid.Problems), tt.problems, err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines; a condition message should not", err)
			}
			if !equality.Semantic.DeepEqual(before, promise) {
				t.Error("CRD modified the Promise")
			}
		})
	}
}

func TestCRDRefusesNonObjectAPI(t *testing.T) {
	for _, raw := range []string{`"a string"`, `[1, 2]`, `: not yaml ::`} {
		promise := promiseWith(t, "widgets", nil)
		promise.Spec.API.Raw = []byte(raw)
		_, err := promiseapi.CRD(promise)
		var invalid *promiseapi.InvalidAPIError
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "spec.api") {
			t.Errorf("spec.api %s: error %v, want an *InvalidAPIError about spec.api", raw, err)
		}
	}
}
