package pipeline

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestBuildLongNamesStayValid: names of any length Kubernetes allows for the Promise, the request
// and the pipeline still give a Job, a ServiceAccount and RBAC that the API server accepts.
func TestBuildLongNamesStayValid(t *testing.T) {
	tests := []struct {
		name                            string
		promise, resource, pipelineName string
		namespace, pipelineNamespace    string
	}{
		{name: "70-character request", promise: "redis", resource: strings.Repeat("r", 70), pipelineName: "instance-configure", namespace: "team-a"},
		{name: "dotted request", promise: "redis", resource: "cache.team-a.example.com", pipelineName: "instance-configure", namespace: "team-a"},
		{
			name:     "everything at its limit",
			promise:  strings.Repeat("p", 100) + "." + strings.Repeat("q", 60),
			resource: strings.Repeat("a", 120) + "." + strings.Repeat("b", 120), pipelineName: strings.Repeat("c", 63),
			namespace: strings.Repeat("n", 63), pipelineNamespace: strings.Repeat("m", 63),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPromise(t)
			p.Name = tt.promise
			p.Spec.Workflows.Config.PipelineNamespace = tt.pipelineNamespace
			pl := &p.Spec.Workflows.Resource.Configure[0]
			pl.Metadata.Name = tt.pipelineName
			pl.Spec.RBAC.Permissions = []v1alpha1.Permission{
				{PolicyRule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
				{ResourceNamespace: strings.Repeat("x", 63), PolicyRule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}},
				{ResourceNamespace: "*", PolicyRule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}}},
			}
			w := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest(tt.resource, tt.namespace))
			job := mustJob(t, w, 0, 12, Options{})
			access := mustAccess(t, w, 0, Options{})

			// A Job's name goes into a label of its Pods, and Pod host names are DNS labels.
			if errs := validation.IsDNS1123Label(job.Name); len(errs) > 0 {
				t.Errorf("Job name %q: %v", job.Name, errs)
			}
			checkLabels(t, "Job", job.Labels)
			checkLabels(t, "Pod template", job.Spec.Template.Labels)
			if got := envValue(job.Spec.Template.Spec.InitContainers[1].Env, EnvObjectName); got != tt.resource {
				t.Errorf("%s = %q, want the full name %q", EnvObjectName, got, tt.resource)
			}
			// A ServiceAccount's name is a DNS subdomain; an RBAC object's is a path segment
			// (rbac validation.ValidateRBACName) of the same length at most.
			for what, name := range map[string]string{"ServiceAccount": access.ServiceAccount.Name, "Job's serviceAccountName": job.Spec.Template.Spec.ServiceAccountName} {
				if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
					t.Errorf("%s name %q: %v", what, name, errs)
				}
			}
			checkLabels(t, "ServiceAccount", access.ServiceAccount.Labels)
			rbacNames := map[string]string{}
			for i, r := range access.Roles {
				rbacNames["Role "+r.Name] = r.Name
				rbacNames["RoleBinding "+access.RoleBindings[i].Name] = access.RoleBindings[i].Name
				checkLabels(t, "Role", r.Labels)
				checkLabels(t, "RoleBinding", access.RoleBindings[i].Labels)
			}
			for i, r := range access.ClusterRoles {
				rbacNames["ClusterRole "+r.Name] = r.Name
				rbacNames["ClusterRoleBinding "+access.ClusterRoleBindings[i].Name] = access.ClusterRoleBindings[i].Name
			}
			for what, name := range rbacNames {
				if errs := path.IsValidPathSegmentName(name); len(errs) > 0 || len(name) > validation.DNS1123SubdomainMaxLength {
					t.Errorf("%s name %q (%d characters): %v", what, name, len(name), errs)
				}
			}
			if access.ServiceAccount.Name != job.Spec.Template.Spec.ServiceAccountName {
				t.Errorf("the Job runs as %q but the ServiceAccount built is %q", job.Spec.Template.Spec.ServiceAccountName, access.ServiceAccount.Name)
			}
		})
	}
}

func checkLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	for k, v := range labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			t.Errorf("%s label key %q: %v", what, k, errs)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("%s label %s=%q: %v", what, k, v, errs)
		}
	}
}

// TestBuildJobNameIsPerRun: the same decision gives the same name (a repeated create is refused
// instead of running twice) and anything that makes another run gives another name.
func TestBuildJobNameIsPerRun(t *testing.T) {
	p := testPromise(t)
	configure := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
	base := mustJob(t, configure, 0, 1, Options{}).Name
	if again := mustJob(t, configure, 0, 1, Options{}).Name; again != base {
		t.Errorf("the same run got two names: %q and %q", base, again)
	}
	if !strings.HasPrefix(base, "kratix-redis-cache-instance-configure-") {
		t.Errorf("Job name %q does not read kratix-<promise>-<resource>-<pipeline>-<id>", base)
	}

	changedSpec := testRequest("cache", "team-a")
	changedSpec.Object["spec"] = map[string]any{"size": "large"}
	shared := testPromise(t)
	shared.Spec.Workflows.Config.PipelineNamespace = "pipelines"
	others := map[string]string{
		"next run":                 mustJob(t, configure, 0, 2, Options{}).Name,
		"next pipeline":            mustJob(t, configure, 1, 1, Options{}).Name,
		"delete workflow":          mustJob(t, resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")), 0, 1, Options{}).Name,
		"changed spec":             mustJob(t, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, changedSpec), 0, 1, Options{}).Name,
		"other namespace":          mustJob(t, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-b")), 0, 1, Options{}).Name,
		"shared pipeline ns, ns a": mustJob(t, resourceWorkflow(shared, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")), 0, 1, Options{}).Name,
		"shared pipeline ns, ns b": mustJob(t, resourceWorkflow(shared, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-b")), 0, 1, Options{}).Name,
	}
	seen := map[string]string{base: "base"}
	for what, name := range others {
		if first, dup := seen[name]; dup {
			t.Errorf("%s and %s share the Job name %q", what, first, name)
		}
		seen[name] = what
	}
}

// TestBuildJobPromiseWorkflowName: a Promise's Jobs name no request.
func TestBuildJobPromiseWorkflowName(t *testing.T) {
	job := mustJob(t, promiseWorkflow(testPromise(t), v1alpha1.WorkflowActionConfigure), 0, 1, Options{})
	if !strings.HasPrefix(job.Name, "kratix-redis-promise-configure-") || strings.Count(job.Name, "-") != 4 {
		t.Errorf("Job name %q, want kratix-redis-promise-configure-<id>", job.Name)
	}
}
