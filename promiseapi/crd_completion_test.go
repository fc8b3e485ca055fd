package promiseapi_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/promiseapi"
)

var wantDefaultColumns = []apiextensionsv1.CustomResourceColumnDefinition{
	{Name: "Status", Type: "string", JSONPath: ".status.message"},
	{Name: "Ready", Type: "string", JSONPath: `.status.conditions[?(@.type=="Ready")].status`},
	{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
}

// columnsWithoutDescriptions drops descriptions, which are for humans, before comparing.
func columnsWithoutDescriptions(cols []apiextensionsv1.CustomResourceColumnDefinition) []apiextensionsv1.CustomResourceColumnDefinition {
	out := slices.Clone(cols)
	for i := range out {
		out[i].Description = ""
	}
	return out
}

// checkCompleted checks what the engine adds to every version of every CRD it installs.
func checkCompleted(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition, promiseName string) {
	t.Helper()
	if crd.APIVersion != "apiextensions.k8s.io/v1" || crd.Kind != "CustomResourceDefinition" {
		t.Errorf("TypeMeta = %s %s, want apiextensions.k8s.io/v1 CustomResourceDefinition", crd.APIVersion, crd.Kind)
	}
	if got := crd.Labels[v1alpha1.LabelPromiseName]; got != promiseName {
		t.Errorf("label %s = %q, want %q", v1alpha1.LabelPromiseName, got, promiseName)
	}
	if got := crd.Labels["app.kubernetes.io/managed-by"]; got != "kratix" {
		t.Errorf("label app.kubernetes.io/managed-by = %q, want kratix", got)
	}
	if n := countOf(crd.Spec.Names.Categories, "kratix"); n != 1 {
		t.Errorf("categories %v hold kratix %d times, want once", crd.Spec.Names.Categories, n)
	}
	if len(crd.OwnerReferences) != 0 {
		t.Errorf("ownerReferences = %v, want none", crd.OwnerReferences)
	}
	for _, v := range crd.Spec.Versions {
		if v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("version %s has no status subresource", v.Name)
		}
		if _, ok := v.Schema.OpenAPIV3Schema.Properties["status"]; !ok {
			t.Errorf("version %s: the schema has no status property", v.Name)
		}
		if len(v.AdditionalPrinterColumns) == 0 {
			t.Errorf("version %s has no printer columns", v.Name)
		}
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, e := range list {
		if e == s {
			n++
		}
	}
	return n
}

func TestCRDFromExamplePromise(t *testing.T) {
	promise := examplePromise(t)
	before := promise.DeepCopy()

	crd, err := promiseapi.CRD(promise)
	if err != nil {
		t.Fatalf("CRD: %v", err)
	}
	if !equality.Semantic.DeepEqual(before, promise) {
		t.Error("CRD modified the Promise")
	}
	checkCompleted(t, crd, "appconfig")
	if crd.Name != "appconfigs.example.platform.io" {
		t.Errorf("name = %q", crd.Name)
	}
	if !reflect.DeepEqual(crd.Spec.Names.Categories, []string{"kratix"}) {
		t.Errorf("categories = %v, want [kratix]", crd.Spec.Names.Categories)
	}
	v := crd.Spec.Versions[0]
	if got := columnsWithoutDescriptions(v.AdditionalPrinterColumns); !reflect.DeepEqual(got, wantDefaultColumns) {
		t.Errorf("printer columns = %+v, want %+v", got, wantDefaultColumns)
	}
	status := v.Schema.OpenAPIV3Schema.Properties["status"]
	if status.Type != "object" || status.XPreserveUnknownFields == nil || !*status.XPreserveUnknownFields {
		t.Errorf("status schema = %+v, want an object that preserves unknown fields", status)
	}
	if _, ok := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["greeting"]; !ok {
		t.Error("the Promise's spec.greeting is gone from the schema")
	}

	// A second call gives the same CRD: the engine can compare what it would apply.
	again, err := promiseapi.CRD(promise)
	if err != nil || !equality.Semantic.DeepEqual(crd, again) {
		t.Errorf("a second CRD call differs (err %v)", err)
	}
	// Changing the returned CRD does not reach the Promise either.
	crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["greeting"] = apiextensionsv1.JSONSchemaProps{Type: "integer"}
	if !equality.Semantic.DeepEqual(before, promise) {
		t.Error("editing the returned CRD modified the Promise")
	}
}

func TestCRDCompletion(t *testing.T) {
	ownColumns := []any{map[string]any{"name": "Size", "type": "string", "jsonPath": ".spec.size"}}
	tests := []struct {
		name    string
		promise string
		edit    func(api map[string]any)
		check   func(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition)
	}{{
		name: "a version with its own printer columns keeps them; the others get the defaults",
		edit: func(api map[string]any) { at(api, "spec", "versions", 0)["additionalPrinterColumns"] = ownColumns },
		check: func(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) {
			want := []apiextensionsv1.CustomResourceColumnDefinition{{Name: "Size", Type: "string", JSONPath: ".spec.size"}}
			if got := crd.Spec.Versions[0].AdditionalPrinterColumns; !reflect.DeepEqual(got, want) {
				t.Errorf("v1 columns = %+v, want %+v", got, want)
			}
			if got := columnsWithoutDescriptions(crd.Spec.Versions[1].AdditionalPrinterColumns); !reflect.DeepEqual(got, wantDefaultColumns) {
				t.Errorf("v1beta1 columns = %+v, want the defaults", got)
			}
		},
	}, {
		name: "a status schema the Promise defines is kept",
		edit: func(api map[string]any) {
			at(api, "spec", "versions", 0, "schema", "openAPIV3Schema", "properties")["status"] = map[string]any{
				"type": "object", "properties": map[string]any{"url": map[string]any{"type": "string"}},
			}
		},
		check: func(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) {
			status := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"]
			if _, ok := status.Properties["url"]; !ok || status.XPreserveUnknownFields != nil {
				t.Errorf("status schema = %+v, want the Promise's own", status)
			}
		},
	}, {
		name: "the Promise's categories are kept and kratix is added once",
		edit: func(api map[string]any) { at(api, "spec", "names")["categories"] = []any{"apps", "kratix"} },
		check: func(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) {
			if want := []string{"apps", "kratix"}; !reflect.DeepEqual(crd.Spec.Names.Categories, want) {
				t.Errorf("categories = %v, want %v", crd.Spec.Names.Categories, want)
			}
		},
	}, {
		name: "a scale subresource is kept next to the status subresource",
		edit: func(api map[string]any) {
			at(api, "spec", "versions", 0)["subresources"] = map[string]any{"scale": map[string]any{
				"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
			}}
		},
		check: func(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) {
			if s := crd.Spec.Versions[0].Subresources; s.Scale == nil || s.Scale.SpecReplicasPath != ".spec.replicas" {
				t.Errorf("subresources = %+v, want the Promise's scale kept", s)
			}
		},
	}, {
		name: "the Promise's labels and annotations are kept; server-set metadata and status are dropped",
		edit: func(api map[string]any) {
			meta := at(api, "metadata")
			meta["labels"] = map[string]any{"team": "a", v1alpha1.LabelPromiseName: "someone-else"}
			meta["annotations"] = map[string]any{"note": "x"}
			meta["resourceVersion"] = "42"
			meta["uid"] = "0000"
			meta["namespace"] = "default"
			meta["ownerReferences"] = []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "1"}}
			api["status"] = map[string]any{"storedVersions": []any{"v1"}}
		},
		check: func(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) {
			if crd.Labels["team"] != "a" || crd.Annotations["note"] != "x" {
				t.Errorf("labels %v, annotations %v: the Promise's are lost", crd.Labels, crd.Annotations)
			}
			if crd.ResourceVersion != "" || crd.UID != "" || crd.Namespace != "" || len(crd.Status.StoredVersions) != 0 {
				t.Errorf("server-set fields kept: %+v %+v", crd.ObjectMeta, crd.Status)
			}
		},
	}, {
		name:    "a long Promise name is shortened to a valid label value",
		promise: strings.Repeat("p", 80),
		check: func(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) {
			if got := crd.Labels[v1alpha1.LabelPromiseName]; len(got) > 63 || !strings.HasPrefix(got, "ppp") {
				t.Errorf("label %s = %q, want a shortened name", v1alpha1.LabelPromiseName, got)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := baseAPI()
			if tt.edit != nil {
				tt.edit(api)
			}
			name := tt.promise
			if name == "" {
				name = "widgets"
			}
			promise := promiseWith(t, name, api)
			before := promise.DeepCopy()
			crd, err := promiseapi.CRD(promise)
			if err != nil {
				t.Fatalf("CRD: %v", err)
			}
			if !equality.Semantic.DeepEqual(before, promise) {
				t.Error("CRD modified the Promise")
			}
			if tt.promise == "" {
				checkCompleted(t, crd, name)
			}
			tt.check(t, crd)
		})
	}
}

func TestCRDFromDecodedObject(t *testing.T) {
	// A Promise built in code may carry the CRD as an object rather than raw JSON.
	decoded := mustCRD(t, baseAPI())
	decoded.Labels = nil
	promise := &v1alpha1.Promise{Spec: v1alpha1.PromiseSpec{API: &runtime.RawExtension{Object: decoded}}}
	promise.Name = "widgets"
	crd, err := promiseapi.CRD(promise)
	if err != nil {
		t.Fatalf("CRD: %v", err)
	}
	checkCompleted(t, crd, "widgets")
}

func TestCRDWithoutAPI(t *testing.T) {
	tests := map[string]*runtime.RawExtension{
		"no spec.api":  nil,
		"empty raw":    {},
		"null":         {Raw: []byte("null")},
		"empty object": {Raw: []byte(" { } ")},
	}
	for name, api := range tests {
		t.Run(name, func(t *testing.T) {
			promise := &v1alpha1.Promise{Spec: v1alpha1.PromiseSpec{API: api}}
			if promiseapi.HasAPI(promise) {
				t.Error("HasAPI = true, want false")
			}
			crd, err := promiseapi.CRD(promise)
			if err != promiseapi.ErrNoAPI || crd != nil {
				t.Errorf("CRD = %v, %v; want nil, ErrNoAPI", crd, err)
			}
		})
	}
	if !promiseapi.HasAPI(examplePromise(t)) {
		t.Error("HasAPI(example Promise) = false, want true")
	}
}
