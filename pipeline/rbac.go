package pipeline

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// Access is the identity of a pipeline's Job and what it may do.
//
// A resource workflow's pipeline that names no ServiceAccount of its own runs as the request's
// own ServiceAccount, whose role on the request names that one object. That ServiceAccount, the
// request's own role and every binding to the ServiceAccount are the request's own: they carry
// its labels (RequestSelector) and are owned by it where Kubernetes allows. Every other object
// (the roles for Works and for rbac.permissions, and everything of a Promise workflow or of a
// pipeline that names its ServiceAccount) is shared by the Promise's requests: its name and
// content depend only on the Promise, the workflow, the pipeline and the namespaces involved,
// never on which request's run built it, so that concurrent runs agree on them. Create each
// object or update it to match.
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

// Objects lists the ServiceAccount (when the engine makes it) and each role before its binding.
func (a *Access) Objects() []client.Object {
	var objs []client.Object
	if a.ServiceAccount != nil {
		objs = append(objs, a.ServiceAccount)
	}
	for i := range a.Roles {
		objs = append(objs, &a.Roles[i], &a.RoleBindings[i])
	}
	for i := range a.ClusterRoles {
		objs = append(objs, &a.ClusterRoles[i], &a.ClusterRoleBindings[i])
	}
	return objs
}

// grant is a set of rules in one namespace ("" for cluster-wide) under one role name.
type grant struct {
	name      string
	namespace string
	rules     []rbacv1.PolicyRule
	// perRequest says that the role is the request's own.
	perRequest bool
}

// BuildAccess builds the ServiceAccount and RBAC of pipeline index of the workflow:
//
//   - what the engine's containers need: read the object and write its status, and list,
//     create and update Works in the Job's namespace, with the verb that admits them there
//     (ownershipRule). For a promise workflow the Promise's access is a ClusterRole limited to
//     that Promise by name, and Works a Role "<base>" in the Job's namespace.
//   - for a resource workflow run as the request's own ServiceAccount "<base>.<request>" (see
//     requestServiceAccountName): the request's own role "<base>:<namespace>:<request>" in the
//     request's namespace (a ClusterRole "<base>:<request>" for a cluster-scoped API) on that
//     request alone, with the verb that admits its Works there. When the Job runs in the
//     request's namespace, that role holds Works too; else Works are the shared Role "<base>" in
//     the Job's namespace.
//   - for a resource workflow run as a ServiceAccount the pipeline names, the Role "<base>" for
//     Works, and the Role "<base>.object" in the request's namespace (a ClusterRole for a
//     cluster-scoped API) on every request of the Promise's API there, since those requests share
//     the ServiceAccount.
//   - the pipeline's rbac.permissions, shared: without resourceNamespace a Role
//     "<base>.permissions" in the Job's namespace; with a namespace a Role
//     "<base>.permissions.<namespace>" there; with "*" a ClusterRole "<base>.permissions".
//
// <base> is "<promise>-<type>-<action>-<pipeline>", also the name of a Promise workflow's
// ServiceAccount. Bindings are named as bindingName says. Everything of a configure workflow is
// owned by the Promise, or by the request when it is the request's own and Kubernetes allows it
// (ownerIn); nothing of a delete workflow has an owner (see ownedBy).
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
			ObjectMeta: accessMeta(s, s.serviceAccount, s.namespace, s.perRequest),
		}
	}
	for _, g := range append(engineGrants(s), permissionGrants(s)...) {
		access.add(s, g)
	}
	return access, nil
}

// add turns a grant into a role and its binding to the pipeline's ServiceAccount. A binding to
// the request's own ServiceAccount is the request's own.
func (a *Access) add(s step, g grant) {
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: s.serviceAccount, Namespace: s.namespace}}
	binding := bindingName(s, g)
	if g.namespace == "" {
		a.ClusterRoles = append(a.ClusterRoles, rbacv1.ClusterRole{
			TypeMeta:   rbacTypeMeta("ClusterRole"),
			ObjectMeta: accessMeta(s, g.name, "", g.perRequest),
			Rules:      g.rules,
		})
		a.ClusterRoleBindings = append(a.ClusterRoleBindings, rbacv1.ClusterRoleBinding{
			TypeMeta:   rbacTypeMeta("ClusterRoleBinding"),
			ObjectMeta: accessMeta(s, binding, "", s.perRequest),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: g.name},
			Subjects:   subjects,
		})
		return
	}
	a.Roles = append(a.Roles, rbacv1.Role{
		TypeMeta:   rbacTypeMeta("Role"),
		ObjectMeta: accessMeta(s, g.name, g.namespace, g.perRequest),
		Rules:      g.rules,
	})
	a.RoleBindings = append(a.RoleBindings, rbacv1.RoleBinding{
		TypeMeta:   rbacTypeMeta("RoleBinding"),
		ObjectMeta: accessMeta(s, binding, g.namespace, s.perRequest),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: g.name},
		Subjects:   subjects,
	})
}

// engineGrants is what the reader, work-writer and status-writer need. Writing Works takes,
// besides RBAC on works, the verb that the admission policy kratix-work-ownership checks on
// promises/<the Promise> (ownershipRule): in the Job's namespace, and for a resource workflow of
// a namespaced API also in the request's namespace, which its Works name. A cluster-scoped
// request's Works name no namespace of a request: the verb in the Job's namespace suffices.
func engineGrants(s step) []grant {
	w, pipeline, obj := s.workflow, s.pipeline.Metadata.Name, s.object
	works := grant{name: accessName(w, pipeline), namespace: s.namespace, rules: worksRules(w)}
	switch {
	case w.Type == v1alpha1.WorkflowTypePromise:
		return []grant{works, {name: accessName(w, pipeline), rules: objectRules(obj, []string{obj.Name})}}
	case !s.perRequest && obj.ClusterScoped:
		return []grant{works, {name: accessName(w, pipeline, "object"), rules: objectRules(obj, nil)}}
	case !s.perRequest:
		return []grant{works, {name: accessName(w, pipeline, "object"), namespace: obj.Namespace, rules: append(objectRules(obj, nil), ownershipRule(w))}}
	}
	own := grant{name: requestAccessName(accessName(w, pipeline), obj), namespace: obj.Namespace, perRequest: true, rules: objectRules(obj, []string{obj.Name})}
	switch {
	case obj.ClusterScoped:
		return []grant{works, own}
	case obj.Namespace == s.namespace:
		// One role and one binding instead of two each, for every request.
		own.rules = append(own.rules, works.rules...)
		return []grant{own}
	default:
		own.rules = append(own.rules, ownershipRule(w))
		return []grant{works, own}
	}
}

// worksRules let the work-writer list, create and update Works, and admit its writes of its own
// Promise's Works (ownershipRule).
func worksRules(w Workflow) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{
		APIGroups: []string{v1alpha1.GroupVersion.Group},
		Resources: []string{"works"},
		Verbs:     []string{"get", "list", "create", "update", "patch"},
	}, ownershipRule(w)}
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

// accessMeta is the metadata of an access object: the request's own (perRequest), with the
// request's labels and owner, or shared by the Promise's requests.
func accessMeta(s step, name, namespace string, perRequest bool) metav1.ObjectMeta {
	if perRequest {
		return metav1.ObjectMeta{
			Name:            name,
			Namespace:       namespace,
			Labels:          requestAccessLabels(s.workflow, s.pipeline.Metadata.Name),
			OwnerReferences: ownerIn(s, namespace),
		}
	}
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
