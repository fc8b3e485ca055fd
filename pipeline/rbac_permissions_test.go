package pipeline

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kratix.dev/kratix/api/v1alpha1"
)

// grantView is a role and its binding, flattened for comparison.
type grantView struct {
	Kind             string // Role or ClusterRole
	Namespace        string
	Name             string
	Rules            []rbacv1.PolicyRule
	Binding          string
	SubjectName      string
	SubjectNamespace string
}

func grantViews(a *Access) []grantView {
	var out []grantView
	for i, r := range a.Roles {
		b := a.RoleBindings[i]
		out = append(out, grantView{"Role", r.Namespace, r.Name, r.Rules, b.Namespace + "/" + b.Name, b.Subjects[0].Name, b.Subjects[0].Namespace})
		if b.RoleRef.Name != r.Name || b.RoleRef.Kind != "Role" || b.Namespace != r.Namespace {
			panic("binding " + b.Name + " does not bind role " + r.Name)
		}
	}
	for i, r := range a.ClusterRoles {
		b := a.ClusterRoleBindings[i]
		out = append(out, grantView{"ClusterRole", "", r.Name, r.Rules, b.Name, b.Subjects[0].Name, b.Subjects[0].Namespace})
		if b.RoleRef.Name != r.Name || b.RoleRef.Kind != "ClusterRole" {
			panic("binding " + b.Name + " does not bind cluster role " + r.Name)
		}
	}
	return out
}

var (
	worksRule = rbacv1.PolicyRule{APIGroups: []string{"platform.kratix.io"}, Resources: []string{"works"}, Verbs: []string{"get", "list", "create", "update", "patch"}}
	// What the admission policy kratix-work-ownership checks before a Work of redis is written.
	ownResourceWorks = rbacv1.PolicyRule{APIGroups: []string{"platform.kratix.io"}, Resources: []string{"promises"}, ResourceNames: []string{"redis"}, Verbs: []string{"write-resource-works"}}
	ownPromiseWorks  = rbacv1.PolicyRule{APIGroups: []string{"platform.kratix.io"}, Resources: []string{"promises"}, ResourceNames: []string{"redis"}, Verbs: []string{"write-promise-works"}}
	resourceWorks    = []rbacv1.PolicyRule{worksRule, ownResourceWorks}
	readRedis        = []rbacv1.PolicyRule{
		{APIGroups: []string{"marketplace.kratix.io"}, Resources: []string{"redises"}, Verbs: []string{"get"}},
		{APIGroups: []string{"marketplace.kratix.io"}, Resources: []string{"redises/status"}, Verbs: []string{"get", "update", "patch"}},
	}
	// readCache is readRedis limited to the request cache: what its own role allows.
	readCache = []rbacv1.PolicyRule{
		{APIGroups: []string{"marketplace.kratix.io"}, Resources: []string{"redises"}, ResourceNames: []string{"cache"}, Verbs: []string{"get"}},
		{APIGroups: []string{"marketplace.kratix.io"}, Resources: []string{"redises/status"}, ResourceNames: []string{"cache"}, Verbs: []string{"get", "update", "patch"}},
	}
	// readRedisAndOwnWorks is the object's Role in a namespaced request's namespace, when the
	// pipeline names its own ServiceAccount.
	readRedisAndOwnWorks = append(slices.Clone(readRedis), ownResourceWorks)
	// readCacheAndWorks is the request's own Role when its Job runs in its namespace;
	// readCacheAndOwnWorks when it runs in another (pipelineNamespace).
	readCacheAndWorks    = append(slices.Clone(readCache), resourceWorks...)
	readCacheAndOwnWorks = append(slices.Clone(readCache), ownResourceWorks)
	configmaps           = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}
	secrets              = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}
	namespaces           = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}}
)

// TestBuildAccessPermissions: the engine's own access, then each form of resourceNamespace in a
// pipeline's permissions, lands in the right kind of role in the right place, bound to the
// request's own ServiceAccount; the role on the request names it alone.
func TestBuildAccessPermissions(t *testing.T) {
	const (
		base = "redis-resource-configure-instance-configure"
		own  = base + ":team-a:cache" // the request's own role and the suffix of its bindings
		sa   = base + ".cache"
		// With a pipelineNamespace, the Jobs of several namespaces' requests meet.
		sharedSA = base + ".team-a.cache"
	)
	permissions := []v1alpha1.Permission{
		{PolicyRule: configmaps},
		{ResourceNamespace: "shared", PolicyRule: secrets},
		{ResourceNamespace: "*", PolicyRule: namespaces},
	}
	tests := []struct {
		name              string
		pipelineNamespace string
		permissions       []v1alpha1.Permission
		want              []grantView
		wantSA            string
	}{
		{
			name:   "engine only, Jobs in the request's namespace: one role on the request and Works",
			wantSA: "team-a/" + sa,
			want: []grantView{
				{"Role", "team-a", own, readCacheAndWorks, "team-a/" + own, sa, "team-a"},
			},
		},
		{
			name:        "each form of resourceNamespace",
			permissions: permissions,
			wantSA:      "team-a/" + sa,
			want: []grantView{
				{"Role", "team-a", own, readCacheAndWorks, "team-a/" + own, sa, "team-a"},
				{"Role", "team-a", base + ".permissions", []rbacv1.PolicyRule{configmaps}, "team-a/" + base + ".permissions:team-a:cache", sa, "team-a"},
				{"Role", "shared", base + ".permissions.shared", []rbacv1.PolicyRule{secrets}, "shared/" + base + ".permissions.shared:team-a:cache", sa, "team-a"},
				{"ClusterRole", "", base + ".permissions", []rbacv1.PolicyRule{namespaces}, base + ".permissions:team-a:cache", sa, "team-a"},
			},
		},
		{
			name:              "pipelineNamespace: Works and unqualified permissions there, the request's own role where it is",
			pipelineNamespace: "pipelines",
			permissions:       permissions,
			wantSA:            "pipelines/" + sharedSA,
			want: []grantView{
				{"Role", "pipelines", base, resourceWorks, "pipelines/" + own, sharedSA, "pipelines"},
				{"Role", "team-a", own, readCacheAndOwnWorks, "team-a/" + own, sharedSA, "pipelines"},
				{"Role", "pipelines", base + ".permissions", []rbacv1.PolicyRule{configmaps}, "pipelines/" + base + ".permissions:team-a:cache", sharedSA, "pipelines"},
				{"Role", "shared", base + ".permissions.shared", []rbacv1.PolicyRule{secrets}, "shared/" + base + ".permissions.shared:team-a:cache", sharedSA, "pipelines"},
				{"ClusterRole", "", base + ".permissions", []rbacv1.PolicyRule{namespaces}, base + ".permissions:team-a:cache", sharedSA, "pipelines"},
			},
		},
		{
			name: "permissions for one place are gathered into one role, in order",
			permissions: []v1alpha1.Permission{
				{ResourceNamespace: "shared", PolicyRule: secrets},
				{PolicyRule: configmaps},
				{ResourceNamespace: "shared", PolicyRule: configmaps},
			},
			wantSA: "team-a/" + sa,
			want: []grantView{
				{"Role", "team-a", own, readCacheAndWorks, "team-a/" + own, sa, "team-a"},
				{"Role", "shared", base + ".permissions.shared", []rbacv1.PolicyRule{secrets, configmaps}, "shared/" + base + ".permissions.shared:team-a:cache", sa, "team-a"},
				{"Role", "team-a", base + ".permissions", []rbacv1.PolicyRule{configmaps}, "team-a/" + base + ".permissions:team-a:cache", sa, "team-a"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPromise(t)
			p.Spec.Workflows.Config.PipelineNamespace = tt.pipelineNamespace
			p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = tt.permissions
			access := mustAccess(t, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")), 0, Options{})
			if got := grantViews(access); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
			if access.ServiceAccount == nil || access.ServiceAccount.Namespace+"/"+access.ServiceAccount.Name != tt.wantSA {
				t.Errorf("ServiceAccount %+v, want %s", access.ServiceAccount, tt.wantSA)
			}
		})
	}
}

func dump(views []grantView) string {
	var b strings.Builder
	for _, v := range views {
		b.WriteString("  ")
		b.WriteString(v.Kind + " " + v.Namespace + "/" + v.Name + " bound by " + v.Binding + " to " + v.SubjectNamespace + "/" + v.SubjectName)
		for _, r := range v.Rules {
			b.WriteString("\n    " + r.String())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestBuildAccessPromiseWorkflow: a Promise's pipeline may read and update that Promise only,
// and write Works in the platform namespace.
func TestBuildAccessPromiseWorkflow(t *testing.T) {
	const sa = "redis-promise-configure-promise-configure"
	access := mustAccess(t, promiseWorkflow(testPromise(t), v1alpha1.WorkflowActionConfigure), 0, Options{PlatformNamespace: "platform"})
	want := []grantView{
		{"Role", "platform", sa, []rbacv1.PolicyRule{worksRule, ownPromiseWorks}, "platform/" + sa, sa, "platform"},
		{"ClusterRole", "", sa, []rbacv1.PolicyRule{
			{APIGroups: []string{"platform.kratix.io"}, Resources: []string{"promises"}, ResourceNames: []string{"redis"}, Verbs: []string{"get"}},
			{APIGroups: []string{"platform.kratix.io"}, Resources: []string{"promises/status"}, ResourceNames: []string{"redis"}, Verbs: []string{"get", "update", "patch"}},
		}, sa + ".platform", sa, "platform"},
	}
	if got := grantViews(access); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

// TestBuildAccessOwnServiceAccount: a pipeline that names its ServiceAccount gets no new one, and
// the engine's access and its permissions are bound to the one it names.
func TestBuildAccessOwnServiceAccount(t *testing.T) {
	p := testPromise(t)
	p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.ServiceAccount = "team-a-pipelines"
	p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = []v1alpha1.Permission{{ResourceNamespace: "*", PolicyRule: namespaces}}
	w := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
	access := mustAccess(t, w, 0, Options{})
	if access.ServiceAccount != nil {
		t.Errorf("built ServiceAccount %s although the pipeline names its own", access.ServiceAccount.Name)
	}
	views := grantViews(access)
	if len(views) != 3 {
		t.Fatalf("got %d roles, want works, object and the cluster permission:\n%s", len(views), dump(views))
	}
	for _, v := range views {
		if v.SubjectName != "team-a-pipelines" || v.SubjectNamespace != "team-a" {
			t.Errorf("%s %s is bound to %s/%s, want team-a/team-a-pipelines", v.Kind, v.Name, v.SubjectNamespace, v.SubjectName)
		}
	}
	if got := mustJob(t, w, 0, 1, Options{}).Spec.Template.Spec.ServiceAccountName; got != "team-a-pipelines" {
		t.Errorf("the Job runs as %q, want team-a-pipelines", got)
	}
}

// TestBuildAccessClusterScopedAPI: reading a cluster-scoped request takes a ClusterRole of the
// request's own, on it alone.
func TestBuildAccessClusterScopedAPI(t *testing.T) {
	p := testPromise(t)
	p.Spec.API.Raw = []byte(strings.Replace(string(p.Spec.API.Raw), `"Namespaced"`, `"Cluster"`, 1))
	access := mustAccess(t, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "")), 0, Options{})
	const base = "redis-resource-configure-instance-configure"
	const sa = base + ".cache"
	want := []grantView{
		{"Role", "kratix-platform-system", base, resourceWorks, "kratix-platform-system/" + base + ":cache", sa, "kratix-platform-system"},
		{"ClusterRole", "", base + ":cache", readCache, base + ":cache", sa, "kratix-platform-system"},
	}
	if got := grantViews(access); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

// TestBuildAccessIsSharedByRequests: the runs of two requests never disagree on an object they
// both build, so one run cannot take away what another's Job still needs; and no two requests
// build the same object of a request's own, even when their names are made to meet (a dotted
// request in the pipelineNamespace, one named like a qualifier, one named like another
// namespace's request).
func TestBuildAccessIsSharedByRequests(t *testing.T) {
	requests := [][2]string{{"a", "team-a"}, {"b", "team-a"}, {"a", "team-b"}, {"d", "shared"}, {"permissions", "team-a"}, {"object", "team-a"},
		{"team-a.a", "pipelines"}, {"a", "pipelines"}, {"shared.a", "team-a"}}
	for _, pipelineNamespace := range []string{"", "pipelines"} {
		t.Run("pipelineNamespace="+pipelineNamespace, func(t *testing.T) {
			p := testPromise(t)
			p.Spec.Workflows.Config.PipelineNamespace = pipelineNamespace
			p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = []v1alpha1.Permission{
				{PolicyRule: configmaps}, {ResourceNamespace: "shared", PolicyRule: secrets}, {ResourceNamespace: "team-a", PolicyRule: secrets}, {ResourceNamespace: "*", PolicyRule: namespaces},
			}
			built := map[string]any{}      // kind/namespace/name -> object
			ownedBy := map[string]string{} // kind/namespace/name of a request's own -> the request
			for _, req := range requests {
				request := req[1] + "/" + req[0]
				access := mustAccess(t, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest(req[0], req[1])), 0, Options{})
				objects := map[string]metav1.Object{}
				add := func(key string, obj metav1.Object) {
					if _, dup := objects[key]; dup {
						t.Errorf("request %s builds two objects %s", request, key)
					}
					objects[key] = obj
				}
				add("ServiceAccount/"+access.ServiceAccount.Namespace+"/"+access.ServiceAccount.Name, access.ServiceAccount)
				for i := range access.Roles {
					add("Role/"+access.Roles[i].Namespace+"/"+access.Roles[i].Name, &access.Roles[i])
					add("RoleBinding/"+access.RoleBindings[i].Namespace+"/"+access.RoleBindings[i].Name, &access.RoleBindings[i])
				}
				for i := range access.ClusterRoles {
					add("ClusterRole/"+access.ClusterRoles[i].Name, &access.ClusterRoles[i])
					add("ClusterRoleBinding/"+access.ClusterRoleBindings[i].Name, &access.ClusterRoleBindings[i])
				}
				for key, obj := range objects {
					if obj.GetLabels()[v1alpha1.LabelResourceName] != "" {
						if other, ok := ownedBy[key]; ok {
							t.Errorf("requests %s and %s both build %s as their own", other, request, key)
						}
						ownedBy[key] = request
						continue
					}
					if earlier, ok := built[key]; ok && !reflect.DeepEqual(earlier, obj) {
						t.Errorf("request %s builds %s differently from an earlier request:\n%+v\n%+v", request, key, earlier, obj)
					}
					built[key] = obj
				}
			}
			for key := range ownedBy {
				if _, shared := built[key]; shared {
					t.Errorf("%s is both shared and a request's own", key)
				}
			}
		})
	}
}

// TestBuildAccessRequestSelector: every object of a request's own carries the labels that
// RequestSelector gives for it, whichever workflow and pipeline built it; shared ones do not.
func TestBuildAccessRequestSelector(t *testing.T) {
	p := testPromise(t)
	p.Spec.Workflows.Config.PipelineNamespace = "pipelines"
	p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = []v1alpha1.Permission{{ResourceNamespace: "*", PolicyRule: namespaces}}
	selector := labels.SelectorFromSet(RequestSelector("redis", "team-a", "cache"))
	own := 0
	for _, w := range []Workflow{
		resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")),
		resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")),
	} {
		access := mustAccess(t, w, 0, Options{})
		metas := []metav1.Object{access.ServiceAccount}
		for i := range access.Roles {
			metas = append(metas, &access.Roles[i], &access.RoleBindings[i])
		}
		for i := range access.ClusterRoles {
			metas = append(metas, &access.ClusterRoles[i], &access.ClusterRoleBindings[i])
		}
		for i, m := range metas {
			// The request's own: its ServiceAccount, and RBAC named for it (requestAccessName).
			shared := i > 0 && !strings.Contains(m.GetName(), ":")
			if selector.Matches(labels.Set(m.GetLabels())) == shared {
				t.Errorf("%s/%s (labels %v): shared %v, but the selector matches it: %v", m.GetNamespace(), m.GetName(), m.GetLabels(), shared, !shared)
			}
			if !shared {
				own++
			}
		}
	}
	// Each workflow: the ServiceAccount, the request's own Role and binding, the binding of
	// Works in the pipelineNamespace, that of the cluster-wide permissions for configure.
	if own != 9 {
		t.Errorf("%d objects of the request's own, want 9", own)
	}
}

// TestPipelinesCannotAskForTheEnginesPowers: a Promise's pipeline cannot run as the engine's
// ServiceAccount or the namespace's default one, nor ask in rbac.permissions for write access
// to the engine's kinds or for the verbs that admit Works, which would let it write any
// Promise's Works, nor for what runs as any ServiceAccount of the platform namespace (Pods, the
// controllers that make them, tokens) there or cluster-wide, nor impersonate, bind or escalate.
// Reading the engine's kinds, and everything on other groups in namespaces of its own, stay
// allowed.
func TestPipelinesCannotAskForTheEnginesPowers(t *testing.T) {
	opts := Options{PlatformNamespace: "platform", EngineServiceAccount: "platform/kratix-manager"}
	rule := func(groups, resources, verbs []string) v1alpha1.Permission {
		return v1alpha1.Permission{ResourceNamespace: "*", PolicyRule: rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}}
	}
	inNamespace := func(ns string, p v1alpha1.Permission) v1alpha1.Permission {
		p.ResourceNamespace = ns
		return p
	}
	kratix := []string{"platform.kratix.io"}
	for _, tc := range []struct {
		name           string
		serviceAccount string
		permission     *v1alpha1.Permission
		refused        string // part of the error; "" when allowed
	}{
		{name: "the engine's ServiceAccount", serviceAccount: "kratix-manager", refused: "the engine's own"},
		{name: "the default ServiceAccount", serviceAccount: "default", refused: "every Pod's"},
		{name: "a ServiceAccount of its own", serviceAccount: "redis-pipelines"},
		{name: "the verbs that admit Works", permission: ptrTo(rule(kratix, []string{"promises"}, []string{v1alpha1.VerbWriteResourceWorks})), refused: "admits writes of Works"},
		{name: "the verbs on every resource", permission: ptrTo(rule([]string{"*"}, []string{"*"}, []string{v1alpha1.VerbWritePromiseWorks})), refused: "admits writes of Works"},
		{name: "writing Works", permission: ptrTo(rule(kratix, []string{"works"}, []string{"create"})), refused: "only the engine writes"},
		{name: "everything on every group", permission: ptrTo(rule([]string{"*"}, []string{"*"}, []string{"*"})), refused: "only the engine writes"},
		{name: "a Promise's status", permission: ptrTo(rule(kratix, []string{"promises/status"}, []string{"patch"})), refused: "only the engine writes"},
		{name: "reading Promises", permission: ptrTo(rule(kratix, []string{"promises", "works"}, []string{"get", "list", "watch"}))},
		{name: "everything on another group, in a namespace of its own", permission: ptrTo(inNamespace("apps-team", rule([]string{"apps"}, []string{"*"}, []string{"*"})))},
		{name: "everything on another group, cluster-wide", permission: ptrTo(rule([]string{"apps"}, []string{"*"}, []string{"*"})), refused: "run as, or mint a token of, the engine's ServiceAccount"},
		{name: "Pods in the platform namespace", permission: ptrTo(inNamespace("platform", rule([]string{""}, []string{"pods"}, []string{"create"}))), refused: "writes of pods in the platform namespace"},
		{name: "Pods in a namespace of its own", permission: ptrTo(inNamespace("apps-team", rule([]string{""}, []string{"pods"}, []string{"create"})))},
		{name: "tokens in the platform namespace", permission: ptrTo(inNamespace("platform", rule([]string{""}, []string{"serviceaccounts/token"}, []string{"create"}))), refused: "mint a token"},
		{name: "impersonation", permission: ptrTo(rule([]string{""}, []string{"serviceaccounts", "users"}, []string{"impersonate"})), refused: "act as others"},
		{name: "binding any ClusterRole", permission: ptrTo(rule([]string{rbacv1.GroupName}, []string{"clusterroles", "clusterrolebindings"}, []string{"bind", "escalate", "create"})), refused: "act as others"},
		{name: "every verb on RBAC", permission: ptrTo(inNamespace("apps-team", rule([]string{rbacv1.GroupName}, []string{"roles"}, []string{"*"}))), refused: "includes impersonate, bind or escalate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPromise(t)
			p.Spec.Workflows.Promise.Configure = p.Spec.Workflows.Resource.Configure
			p.Spec.Workflows.Promise.Configure[0].Spec.RBAC.ServiceAccount = tc.serviceAccount
			if tc.permission != nil {
				p.Spec.Workflows.Promise.Configure[0].Spec.RBAC.Permissions = []v1alpha1.Permission{*tc.permission}
			}
			_, err := BuildAccess(promiseWorkflow(p, v1alpha1.WorkflowActionConfigure), 0, opts)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("error %v, want one that says %q", err, tc.refused)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
