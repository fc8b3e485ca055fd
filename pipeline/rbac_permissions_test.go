package pipeline

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

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
	// readRedisAndOwnWorks is the object's Role in a namespaced request's namespace.
	readRedisAndOwnWorks = append(slices.Clone(readRedis), ownResourceWorks)
	configmaps           = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}
	secrets              = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}
	namespaces           = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}}
)

// TestBuildAccessPermissions: the engine's own access, then each form of resourceNamespace in a
// pipeline's permissions, lands in the right kind of role in the right place, bound to the
// pipeline's ServiceAccount.
func TestBuildAccessPermissions(t *testing.T) {
	const sa = "redis-resource-configure-instance-configure"
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
	}{
		{
			name: "engine only, Jobs in the request's namespace",
			want: []grantView{
				{"Role", "team-a", sa, resourceWorks, "team-a/" + sa, sa, "team-a"},
				{"Role", "team-a", sa + ".object", readRedisAndOwnWorks, "team-a/" + sa + ".object", sa, "team-a"},
			},
		},
		{
			name:        "each form of resourceNamespace",
			permissions: permissions,
			want: []grantView{
				{"Role", "team-a", sa, resourceWorks, "team-a/" + sa, sa, "team-a"},
				{"Role", "team-a", sa + ".object", readRedisAndOwnWorks, "team-a/" + sa + ".object", sa, "team-a"},
				{"Role", "team-a", sa + ".permissions", []rbacv1.PolicyRule{configmaps}, "team-a/" + sa + ".permissions", sa, "team-a"},
				{"Role", "shared", sa + ".permissions.shared", []rbacv1.PolicyRule{secrets}, "shared/" + sa + ".permissions.shared.team-a", sa, "team-a"},
				{"ClusterRole", "", sa + ".permissions", []rbacv1.PolicyRule{namespaces}, sa + ".permissions.team-a", sa, "team-a"},
			},
		},
		{
			name:              "pipelineNamespace: Works and unqualified permissions there, the object where it is",
			pipelineNamespace: "pipelines",
			permissions:       permissions,
			want: []grantView{
				{"Role", "pipelines", sa, resourceWorks, "pipelines/" + sa, sa, "pipelines"},
				{"Role", "team-a", sa + ".object", readRedisAndOwnWorks, "team-a/" + sa + ".object.pipelines", sa, "pipelines"},
				{"Role", "pipelines", sa + ".permissions", []rbacv1.PolicyRule{configmaps}, "pipelines/" + sa + ".permissions", sa, "pipelines"},
				{"Role", "shared", sa + ".permissions.shared", []rbacv1.PolicyRule{secrets}, "shared/" + sa + ".permissions.shared.pipelines", sa, "pipelines"},
				{"ClusterRole", "", sa + ".permissions", []rbacv1.PolicyRule{namespaces}, sa + ".permissions.pipelines", sa, "pipelines"},
			},
		},
		{
			name: "permissions for one place are gathered into one role, in order",
			permissions: []v1alpha1.Permission{
				{ResourceNamespace: "shared", PolicyRule: secrets},
				{PolicyRule: configmaps},
				{ResourceNamespace: "shared", PolicyRule: configmaps},
			},
			want: []grantView{
				{"Role", "team-a", sa, resourceWorks, "team-a/" + sa, sa, "team-a"},
				{"Role", "team-a", sa + ".object", readRedisAndOwnWorks, "team-a/" + sa + ".object", sa, "team-a"},
				{"Role", "shared", sa + ".permissions.shared", []rbacv1.PolicyRule{secrets, configmaps}, "shared/" + sa + ".permissions.shared.team-a", sa, "team-a"},
				{"Role", "team-a", sa + ".permissions", []rbacv1.PolicyRule{configmaps}, "team-a/" + sa + ".permissions", sa, "team-a"},
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
			wantNS := "team-a"
			if tt.pipelineNamespace != "" {
				wantNS = tt.pipelineNamespace
			}
			if access.ServiceAccount == nil || access.ServiceAccount.Name != sa || access.ServiceAccount.Namespace != wantNS {
				t.Errorf("ServiceAccount %+v, want %s/%s", access.ServiceAccount, wantNS, sa)
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

// TestBuildAccessClusterScopedAPI: reading a cluster-scoped request takes a ClusterRole.
func TestBuildAccessClusterScopedAPI(t *testing.T) {
	p := testPromise(t)
	p.Spec.API.Raw = []byte(strings.Replace(string(p.Spec.API.Raw), `"Namespaced"`, `"Cluster"`, 1))
	access := mustAccess(t, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "")), 0, Options{})
	const sa = "redis-resource-configure-instance-configure"
	want := []grantView{
		{"Role", "kratix-platform-system", sa, resourceWorks, "kratix-platform-system/" + sa, sa, "kratix-platform-system"},
		{"ClusterRole", "", sa + ".object", readRedis, sa + ".object.kratix-platform-system", sa, "kratix-platform-system"},
	}
	if got := grantViews(access); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

// TestBuildAccessIsSharedByRequests: the runs of two requests never disagree on an object they
// both build, so one run cannot take away what another's Job still needs.
func TestBuildAccessIsSharedByRequests(t *testing.T) {
	for _, pipelineNamespace := range []string{"", "pipelines"} {
		t.Run("pipelineNamespace="+pipelineNamespace, func(t *testing.T) {
			p := testPromise(t)
			p.Spec.Workflows.Config.PipelineNamespace = pipelineNamespace
			p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = []v1alpha1.Permission{
				{PolicyRule: configmaps}, {ResourceNamespace: "shared", PolicyRule: secrets}, {ResourceNamespace: "team-a", PolicyRule: secrets}, {ResourceNamespace: "*", PolicyRule: namespaces},
			}
			built := map[string]any{} // kind/namespace/name -> object
			for _, req := range [][2]string{{"a", "team-a"}, {"b", "team-a"}, {"c", "team-b"}, {"d", "shared"}} {
				access := mustAccess(t, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest(req[0], req[1])), 0, Options{})
				objects := map[string]any{}
				add := func(key string, obj any) {
					if _, dup := objects[key]; dup {
						t.Errorf("request %s/%s builds two objects %s", req[1], req[0], key)
					}
					objects[key] = obj
				}
				if access.ServiceAccount != nil {
					add("ServiceAccount/"+access.ServiceAccount.Namespace+"/"+access.ServiceAccount.Name, access.ServiceAccount)
				}
				for i := range access.Roles {
					add("Role/"+access.Roles[i].Namespace+"/"+access.Roles[i].Name, access.Roles[i])
					add("RoleBinding/"+access.RoleBindings[i].Namespace+"/"+access.RoleBindings[i].Name, access.RoleBindings[i])
				}
				for i := range access.ClusterRoles {
					add("ClusterRole/"+access.ClusterRoles[i].Name, access.ClusterRoles[i])
					add("ClusterRoleBinding/"+access.ClusterRoleBindings[i].Name, access.ClusterRoleBindings[i])
				}
				for key, obj := range objects {
					if earlier, ok := built[key]; ok && !reflect.DeepEqual(earlier, obj) {
						t.Errorf("request %s/%s builds %s differently from an earlier request:\n%+v\n%+v", req[1], req[0], key, earlier, obj)
					}
					built[key] = obj
				}
			}
		})
	}
}

// TestPipelinesCannotAskForTheEnginesPowers: a Promise's pipeline cannot run as the engine's
// ServiceAccount or the namespace's default one, nor ask in rbac.permissions for write access
// to the engine's kinds or for the verbs that admit Works, which would let it write any
// Promise's Works. Reading the engine's kinds and everything on other groups stay allowed.
func TestPipelinesCannotAskForTheEnginesPowers(t *testing.T) {
	opts := Options{PlatformNamespace: "platform", EngineServiceAccount: "platform/kratix-manager"}
	rule := func(groups, resources, verbs []string) v1alpha1.Permission {
		return v1alpha1.Permission{ResourceNamespace: "*", PolicyRule: rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}}
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
		{name: "everything on another group", permission: ptrTo(rule([]string{"apps"}, []string{"*"}, []string{"*"}))},
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
