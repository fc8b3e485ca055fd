package promiseapi

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
)

// StorageVersion returns the name of the CRD's storage version, or "" when it has none.
func StorageVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	if crd == nil {
		return ""
	}
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return ""
}

// ServedVersion returns the version the engine reads and writes resource requests at: the
// storage version when it is served (always, for a Promise written as usual), otherwise the
// served version that discovery prefers (v2 before v1 before v1beta1). It returns "" when no
// version is served.
func ServedVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	if crd == nil {
		return ""
	}
	preferred := ""
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		if v.Storage {
			return v.Name
		}
		if preferred == "" || version.CompareKubeAwareVersionStrings(v.Name, preferred) > 0 {
			preferred = v.Name
		}
	}
	return preferred
}

// GroupVersionKind returns the kind of the CRD's resource requests at ServedVersion: what a
// resource controller watches and what the Promise's status.kind and status.apiVersion show.
func GroupVersionKind(crd *apiextensionsv1.CustomResourceDefinition) schema.GroupVersionKind {
	if crd == nil {
		return schema.GroupVersionKind{}
	}
	return schema.GroupVersionKind{Group: crd.Spec.Group, Version: ServedVersion(crd), Kind: crd.Spec.Names.Kind}
}

// GroupVersionResource returns the resource (plural) of the CRD's resource requests at
// ServedVersion, for RBAC rules and dynamic clients.
func GroupVersionResource(crd *apiextensionsv1.CustomResourceDefinition) schema.GroupVersionResource {
	if crd == nil {
		return schema.GroupVersionResource{}
	}
	return schema.GroupVersionResource{Group: crd.Spec.Group, Version: ServedVersion(crd), Resource: crd.Spec.Names.Plural}
}

// Namespaced says whether the CRD's resource requests live in a namespace.
func Namespaced(crd *apiextensionsv1.CustomResourceDefinition) bool {
	return crd != nil && crd.Spec.Scope == apiextensionsv1.NamespaceScoped
}
