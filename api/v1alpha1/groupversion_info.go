// Package v1alpha1 holds the platform.kratix.io/v1alpha1 API: the Go types of Promise, Destination,
// GitStateStore, BucketStateStore, Work and WorkPlacement (and the Pipeline type embedded in
// Promises), their validation markers, and the constants for every label, annotation, finalizer,
// condition type and reason the engine uses. It holds no logic beyond defaults and small helpers.
//
// +kubebuilder:object:generate=true
// +groupName=platform.kratix.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "platform.kratix.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// knownTypes are the kinds that each file's init registers.
	knownTypes []runtime.Object
)

// register records kinds of this package for AddToScheme.
func register(objects ...runtime.Object) { knownTypes = append(knownTypes, objects...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
