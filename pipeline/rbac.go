package pipeline

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// Access is the identity of a pipeline's Job and what it may do. Every object's name and content
// depend only on the Promise, the workflow, the pipeline and the namespaces involved, never on
// which request's run built them, so that concurrent runs of one Promise's requests agree on
// them; create each or update it to match.
type Access struct {
	// ServiceAccount the Job runs as; nil when the pipeline names its own (rbac.serviceAccount),
	// which must exist in the Job's namespace.
	ServiceAccount *corev1.ServiceAccount
	// Roles and their RoleBindings, pairwise in the same order.
	Roles        []rbacv1.Role
	RoleBindings []rbacv1.RoleBinding
	// ClusterRoles and their ClusterRoleBindings, pairwise in the same order.
	ClusterRoles        []rbacv1.ClusterRole
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
}

// grant is a set of rules in one namespace ("" for cluster-wide) under one role name.
type grant struct {
	name      string
	namespace string
	rules     []rbacv1.PolicyRule
}

// BuildAccess builds the ServiceAccount and RBAC of pipeline index of the workflow:
//
//   - what the engine's containers need: read the object and write its status, and list,
//     create and update Works in the Job's namespace. For a promise workflow the Promise's access
//     is a ClusterRole limited to that Promise by name; for a resource workflow it is a Role
//     "<base>.object" in the request's namespace (a ClusterRole for a cluster-scoped API), on
//     every request of the Promise's API there, since requests share the ServiceAccount.
//   - the pipeline's rbac.permissions: without resourceNamespace a Role "<base>.permissions" in
//     the Job's namespace; with a namespace a Role "<base>.permissions.<namespace>" there; with
//     "*" a ClusterRole "<base>.permissions".
//
// <base> is "<promise>-<type>-<action>-<pipeline>", also the ServiceAccount's name and the name of
// the Role for Works. Bindings are named as bindingName says. Everything of a configure workflow is
// owned by the Promise; nothing of a delete workflow has an owner (see ownedBy).
func BuildAccess(w Workflow, index int, opts Options) (*Access, error) {
	opts = opts.withDefaults()
	s, err := resolve(w, index, opts)
	if err != nil {
		return nil, err
	}
	access := &Access{}
	if s.pipeline.Spec.RBAC.ServiceAccount == "" {
		access.ServiceAccount = &corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: corev1.SchemeGroupVersion.String(), Kind: "ServiceAccount"},
			ObjectMeta: accessMeta(s, s.serviceAccount, s.namespace),
		}
	}
	for _, g := range append(engineGrants(s), permissionGrants(s)...) {
		access.add(s, g)
	}
	return access, nil
}

// add turns a grant into a role and its binding to the pipeline's ServiceAccount.
func (a *Access) add(s step, g grant) {
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: s.serviceAccount, Namespace: s.namespace}}
	binding := bindingName(g.name, g.namespace, s.namespace)
	if g.namespace == "" {
		a.ClusterRoles = append(a.ClusterRoles, rbacv1.ClusterRole{
			TypeMeta:   rbacTypeMeta("ClusterRole"),
			ObjectMeta: accessMeta(s, g.name, ""),
			Rules:      g.rules,
		})
		a.ClusterRoleBindings = append(a.ClusterRoleBindings, rbacv1.ClusterRoleBinding{
			TypeMeta:   rbacTypeMeta("ClusterRoleBinding"),
			ObjectMeta: accessMeta(s, binding, ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: g.name},
			Subjects:   subjects,
		})
		return
	}
	a.Roles = append(a.Roles, rbacv1.Role{
		TypeMeta:   rbacTypeMeta("Role"),
		ObjectMeta: accessMeta(s, g.name, g.namespace),
		Rules:      g.rules,
	})
	a.RoleBindings = append(a.RoleBindings, rbacv1.RoleBinding{
		TypeMeta:   rbacTypeMeta("RoleBinding"),
		ObjectMeta: accessMeta(s, binding, g.namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: g.name},
		Subjects:   subjects,
	})
}

// engineGrants is what the reader, work-writer and status-writer need. Writing Works takes,
// besides RBAC on works, the verb that the admission policy kratix-work-ownership checks on
// promises/<the Promise> (ownershipRule): in the Job's namespace, and for a resource workflow of
// a namespaced API also in the request's namespace, which its Works name.
func engineGrants(s step) []grant {
	w, pipeline := s.workflow, s.pipeline.Metadata.Name
	works := grant{name: accessName(w, pipeline), namespace: s.namespace, rules: []rbacv1.PolicyRule{{
		APIGroups: []string{v1alpha1.GroupVersion.Group},
		Resources: []string{"works"},
		Verbs:     []string{"get", "list", "create", "update", "patch"},
	}, ownershipRule(w)}}
	obj := s.object
	if w.Type == v1alpha1.WorkflowTypePromise {
		return []grant{works, {name: accessName(w, pipeline), rules: objectRules(obj, []string{obj.Name})}}
	}
	if obj.ClusterScoped {
		// Its Works name no namespace of a request: the one in the Job's namespace suffices.
		return []grant{works, {name: accessName(w, pipeline, "object"), rules: objectRules(obj, nil)}}
	}
	access := grant{name: accessName(w, pipeline, "object"), namespace: obj.Namespace, rules: append(objectRules(obj, nil), ownershipRule(w))}
	return []grant{works, access}
}

// ownershipRule admits the workflow's writes of its own Promise's Works: Promise-level Works for
// a Promise workflow, resource Works for a resource workflow.
func ownershipRule(w Workflow) rbacv1.PolicyRule {
	verb := v1alpha1.VerbWriteResourceWorks
	if w.Type == v1alpha1.WorkflowTypePromise {
		verb = v1alpha1.VerbWritePromiseWorks
	}
	return rbacv1.PolicyRule{
		APIGroups:     []string{v1alpha1.GroupVersion.Group},
		Resources:     []string{"promises"},
		ResourceNames: []string{w.Promise.Name},
		Verbs:         []string{verb},
	}
}

// objectRules let the reader get the object and the status-writer write its status; limited to
// names when given.
func objectRules(obj objectRef, names []string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{obj.Group}, Resources: []string{obj.Plural}, ResourceNames: names, Verbs: []string{"get"}},
		{APIGroups: []string{obj.Group}, Resources: []string{obj.Plural + "/status"}, ResourceNames: names, Verbs: []string{"get", "update", "patch"}},
	}
}

// permissionGrants groups the pipeline's rbac.permissions by where they apply, in the order each
// place first appears.
func permissionGrants(s step) []grant {
	var grants []grant
	index := map[string]int{}
	for _, p := range s.pipeline.Spec.RBAC.Permissions {
		key := p.ResourceNamespace
		if _, seen := index[key]; !seen {
			index[key] = len(grants)
			grants = append(grants, permissionGrant(s, key))
		}
		g := &grants[index[key]]
		g.rules = append(g.rules, *p.PolicyRule.DeepCopy())
	}
	return grants
}

// permissionGrant is the empty grant for permissions with the given resourceNamespace.
func permissionGrant(s step, resourceNamespace string) grant {
	w, pipeline := s.workflow, s.pipeline.Metadata.Name
	switch resourceNamespace {
	case "":
		return grant{name: accessName(w, pipeline, "permissions"), namespace: s.namespace}
	case "*":
		return grant{name: accessName(w, pipeline, "permissions")}
	default:
		return grant{name: accessName(w, pipeline, "permissions", resourceNamespace), namespace: resourceNamespace}
	}
}

func accessMeta(s step, name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       namespace,
		Labels:          accessLabels(s.workflow, s.pipeline.Metadata.Name),
		OwnerReferences: promiseOwner(s.workflow),
	}
}

func rbacTypeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kind}
}
