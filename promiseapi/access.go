package promiseapi

import (
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// ManagerAccessName is the name of the ClusterRole that gives the engine access to the resource
// requests of the Promise's API.
func ManagerAccessName(promise string) string { return "kratix-promise-api-" + promise }

// ManagerAccess is the ClusterRole that gives the engine what its resource controller needs on
// the requests of the Promise's API (crd, as CRD returns it): to watch them, write their status,
// run their finalizers and delete them when the Promise goes. It carries
// v1alpha1.LabelAggregateToManager, so that the install's aggregated ClusterRole picks it up.
func ManagerAccess(promise *v1alpha1.Promise, crd *apiextensionsv1.CustomResourceDefinition) *rbacv1.ClusterRole {
	plural := crd.Spec.Names.Plural
	return &rbacv1.ClusterRole{
		TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{
			Name: ManagerAccessName(promise.Name),
			Labels: map[string]string{
				v1alpha1.LabelAggregateToManager: "true",
				v1alpha1.LabelPromiseName:        crd.Labels[v1alpha1.LabelPromiseName],
				v1alpha1.LabelManagedBy:          v1alpha1.LabelManagedByValue,
			},
		},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{crd.Spec.Group}, Resources: []string{plural}, Verbs: []string{"get", "list", "watch", "update", "patch", "delete"}},
			{APIGroups: []string{crd.Spec.Group}, Resources: []string{plural + "/status"}, Verbs: []string{"get", "update", "patch"}},
			{APIGroups: []string{crd.Spec.Group}, Resources: []string{plural + "/finalizers"}, Verbs: []string{"update"}},
		},
	}
}
