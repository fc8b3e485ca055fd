package promiseapi_test

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kratix.dev/kratix/promiseapi"
)

func TestVersions(t *testing.T) {
	version := func(name string, served, storage bool) apiextensionsv1.CustomResourceDefinitionVersion {
		return apiextensionsv1.CustomResourceDefinitionVersion{Name: name, Served: served, Storage: storage}
	}
	crd := func(scope apiextensionsv1.ResourceScope, versions ...apiextensionsv1.CustomResourceDefinitionVersion) *apiextensionsv1.CustomResourceDefinition {
		return &apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group:    "example.com",
			Names:    apiextensionsv1.CustomResourceDefinitionNames{Kind: "Widget", Plural: "widgets"},
			Scope:    scope,
			Versions: versions,
		}}
	}
	tests := []struct {
		name                  string
		crd                   *apiextensionsv1.CustomResourceDefinition
		wantStorage, wantUsed string
		wantNamespaced        bool
	}{{
		name:        "one version",
		crd:         crd(apiextensionsv1.NamespaceScoped, version("v1", true, true)),
		wantStorage: "v1", wantUsed: "v1", wantNamespaced: true,
	}, {
		name:        "the served storage version wins over a newer one",
		crd:         crd(apiextensionsv1.ClusterScoped, version("v2", true, false), version("v1", true, true)),
		wantStorage: "v1", wantUsed: "v1",
	}, {
		name: "a storage version that is not served gives way to the preferred served one",
		crd: crd(apiextensionsv1.NamespaceScoped,
			version("v1alpha1", true, false), version("v1", false, true), version("v2beta1", true, false), version("v1beta2", true, false)),
		wantStorage: "v1", wantUsed: "v2beta1", wantNamespaced: true,
	}, {
		name:        "nothing served",
		crd:         crd(apiextensionsv1.NamespaceScoped, version("v1", false, true)),
		wantStorage: "v1", wantUsed: "", wantNamespaced: true,
	}, {
		name: "no CRD",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := promiseapi.StorageVersion(tt.crd); got != tt.wantStorage {
				t.Errorf("StorageVersion = %q, want %q", got, tt.wantStorage)
			}
			if got := promiseapi.ServedVersion(tt.crd); got != tt.wantUsed {
				t.Errorf("ServedVersion = %q, want %q", got, tt.wantUsed)
			}
			if got := promiseapi.Namespaced(tt.crd); got != tt.wantNamespaced {
				t.Errorf("Namespaced = %v, want %v", got, tt.wantNamespaced)
			}
			wantGVK, wantGVR := schema.GroupVersionKind{}, schema.GroupVersionResource{}
			if tt.crd != nil {
				wantGVK = schema.GroupVersionKind{Group: "example.com", Version: tt.wantUsed, Kind: "Widget"}
				wantGVR = schema.GroupVersionResource{Group: "example.com", Version: tt.wantUsed, Resource: "widgets"}
			}
			if got := promiseapi.GroupVersionKind(tt.crd); got != wantGVK {
				t.Errorf("GroupVersionKind = %v, want %v", got, wantGVK)
			}
			if got := promiseapi.GroupVersionResource(tt.crd); got != wantGVR {
				t.Errorf("GroupVersionResource = %v, want %v", got, wantGVR)
			}
		})
	}
}

func TestGroupVersionKindOfExamplePromise(t *testing.T) {
	crd, err := promiseapi.CRD(examplePromise(t))
	if err != nil {
		t.Fatal(err)
	}
	want := schema.GroupVersionKind{Group: "example.platform.io", Version: "v1", Kind: "AppConfig"}
	if got := promiseapi.GroupVersionKind(crd); got != want {
		t.Errorf("GroupVersionKind = %v, want %v", got, want)
	}
	if got := promiseapi.GroupVersionResource(crd).Resource; got != "appconfigs" {
		t.Errorf("resource = %q, want appconfigs", got)
	}
}
