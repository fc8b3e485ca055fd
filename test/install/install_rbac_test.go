package install

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/promiseapi"
)

// No role in the install grants a wildcard: the manager gets named verbs on named resources.
func TestNoRoleGrantsWildcards(t *testing.T) {
	m := install(t)
	roles := append(m.ofKind("ClusterRole"), m.ofKind("Role")...)
	if len(roles) == 0 {
		t.Fatal("the install has no roles")
	}
	for _, u := range roles {
		var rules []rbacv1.PolicyRule
		if u.GetKind() == "Role" {
			rules = as[rbacv1.Role](t, u).Rules
		} else {
			rules = as[rbacv1.ClusterRole](t, u).Rules
		}
		for _, r := range rules {
			for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs} {
				if slices.Contains(field, rbacv1.ResourceAll) {
					t.Errorf("%s %s grants a wildcard: %+v", u.GetKind(), u.GetName(), r)
				}
			}
		}
	}
}

// The manager's ServiceAccount is bound to the generated ClusterRole kratix-manager, to the
// aggregated ClusterRole of the Promise APIs, and to the leader election Role in its namespace;
// every role it is bound to is part of the install.
func TestManagerServiceAccountBindings(t *testing.T) {
	m := install(t)
	m.find(t, "ServiceAccount", serviceAccount)
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: serviceAccount, Namespace: namespace}

	bound := map[string]bool{} // kind/name of the roles bound to the ServiceAccount
	for _, u := range m.ofKind("ClusterRoleBinding") {
		b := as[rbacv1.ClusterRoleBinding](t, u)
		if slices.Contains(b.Subjects, sa) {
			bound[b.RoleRef.Kind+"/"+b.RoleRef.Name] = true
		}
	}
	for _, u := range m.ofKind("RoleBinding") {
		b := as[rbacv1.RoleBinding](t, u)
		if b.Namespace != namespace {
			t.Errorf("RoleBinding %s is in namespace %q, want %q", b.Name, b.Namespace, namespace)
		}
		if slices.Contains(b.Subjects, sa) {
			bound[b.RoleRef.Kind+"/"+b.RoleRef.Name] = true
		}
	}
	for _, want := range []string{"ClusterRole/kratix-manager", "ClusterRole/kratix-manager-promise-apis", "Role/kratix-manager-leader-election"} {
		if !bound[want] {
			t.Errorf("the ServiceAccount is not bound to %s; bound to %v", want, bound)
		}
	}
	for ref := range bound {
		kind, name, _ := strings.Cut(ref, "/")
		m.find(t, kind, name)
	}
}

// The aggregated ClusterRole gathers exactly the ClusterRoles that the Promise controller creates
// for each Promise API, and holds no rules of its own (the aggregation controller owns them).
func TestPromiseAPIsRoleAggregatesThePromiseControllersRoles(t *testing.T) {
	role := as[rbacv1.ClusterRole](t, install(t).find(t, "ClusterRole", "kratix-manager-promise-apis"))
	if role.AggregationRule == nil || len(role.AggregationRule.ClusterRoleSelectors) != 1 {
		t.Fatalf("aggregationRule %+v, want one selector", role.AggregationRule)
	}
	if len(role.Rules) > 0 {
		t.Errorf("rules %+v: an aggregated ClusterRole's rules are the aggregation controller's; an apply would overwrite them", role.Rules)
	}
	sel := role.AggregationRule.ClusterRoleSelectors[0]
	if got, want := metav1.FormatLabelSelector(&sel), v1alpha1.LabelAggregateToManager+"=true"; got != want {
		t.Errorf("selector %s, want %s", got, want)
	}
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		t.Fatal(err)
	}
	promise := &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: "postgres"}}
	crd := &apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{
		Group: "marketplace.example.com", Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "postgresqls"},
	}}
	if access := promiseapi.ManagerAccess(promise, crd); !selector.Matches(labels.Set(access.Labels)) {
		t.Errorf("the selector %s does not match the labels %v of the Promise controller's ClusterRole %s", selector, access.Labels, access.Name)
	}
	if selector.Matches(labels.Set{"app.kubernetes.io/part-of": "kratix"}) {
		t.Errorf("the selector %s matches the install's own roles", selector)
	}
}

// Installed for real, the RBAC gives the manager's ServiceAccount what the manager needs: its
// leader Lease and Events in its own namespace (and not elsewhere), the platform.kratix.io kinds,
// pipeline Jobs and RBAC; and, before any Promise is installed, nothing on other API groups.
func TestManagerServiceAccountAccess(t *testing.T) {
	asOnAFreshCluster(t)
	kubectl(t, install(t).yaml, "apply", "--server-side", "--field-manager=kratix-install-test", "-f", "-")

	cases := []struct {
		attrs authorizationv1.ResourceAttributes
		want  bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: namespace, Group: "coordination.k8s.io", Resource: "leases", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Name: "kratix-manager.platform.kratix.io"}, true},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Resource: "events", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Group: "coordination.k8s.io", Resource: "leases", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Group: "coordination.k8s.io", Resource: "leases", Verb: "delete"}, false},
		{authorizationv1.ResourceAttributes{Group: v1alpha1.GroupVersion.Group, Resource: "promises", Verb: "watch"}, true},
		// The PromiseRelease controller creates and deletes Promises; the HealthRecord controller
		// finalizes records.
		{authorizationv1.ResourceAttributes{Group: v1alpha1.GroupVersion.Group, Resource: "promises", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Group: v1alpha1.GroupVersion.Group, Resource: "promises", Verb: "delete"}, true},
		{authorizationv1.ResourceAttributes{Group: v1alpha1.GroupVersion.Group, Resource: "promisereleases", Subresource: "status", Verb: "patch"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Group: v1alpha1.GroupVersion.Group, Resource: "healthrecords", Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Group: v1alpha1.GroupVersion.Group, Resource: "healthrecords", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "default", Group: v1alpha1.GroupVersion.Group, Resource: "workplacements", Verb: "create"}, true},
		// Revisions and bindings: the engine deletes the latest revision (kratix-latest-revision-deletion)
		// and writes the bindings' status.
		{authorizationv1.ResourceAttributes{Group: v1alpha1.GroupVersion.Group, Resource: "promiserevisions", Verb: v1alpha1.VerbDeleteLatestRevisions}, true},
		{authorizationv1.ResourceAttributes{Group: v1alpha1.GroupVersion.Group, Resource: "promiserevisions", Subresource: "finalizers", Verb: "update"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Group: v1alpha1.GroupVersion.Group, Resource: "resourcebindings", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Group: v1alpha1.GroupVersion.Group, Resource: "resourcebindings", Subresource: "status", Verb: "update"}, true},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Group: "batch", Resource: "jobs", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "escalate"}, true},
		{authorizationv1.ResourceAttributes{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "default", Group: "marketplace.example.com", Resource: "postgresqls", Verb: "list"}, false},
		{authorizationv1.ResourceAttributes{Resource: "namespaces", Verb: "delete"}, false},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Resource: "pods", Subresource: "exec", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Resource: "secrets", Verb: "create"}, false},
	}
	for _, tc := range cases {
		a := tc.attrs
		t.Run(fmt.Sprintf("%s %s/%s %s in %q", a.Verb, a.Group, a.Resource, a.Subresource, a.Namespace), func(t *testing.T) {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               managerUser,
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
				ResourceAttributes: &a,
			}}
			if err := env.Client.Create(testenv.Context(t), review); err != nil {
				t.Fatal(err)
			}
			if review.Status.Allowed != tc.want {
				t.Errorf("allowed %v, want %v (%s)", review.Status.Allowed, tc.want, review.Status.Reason)
			}
		})
	}
}
