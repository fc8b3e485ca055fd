package pipeline

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestBuildGolden compares the Job and Access of each case with testdata/<case>.yaml, which a
// reviewer reads as the exact objects a cluster receives. Run with -update to rewrite them.
func TestBuildGolden(t *testing.T) {
	longName := strings.Repeat("r", 70)
	tests := []struct {
		name   string
		mutate func(p *v1alpha1.Promise)
		build  func(p *v1alpha1.Promise) Workflow
		index  int
		run    int
		opts   Options
	}{
		{
			name:  "promise-configure",
			build: func(p *v1alpha1.Promise) Workflow { return promiseWorkflow(p, v1alpha1.WorkflowActionConfigure) },
			run:   1,
			opts:  Options{AdapterImage: "registry.example.com/kratix:v1.2.3", PlatformNamespace: "platform"},
		},
		{
			name: "resource-configure-first",
			build: func(p *v1alpha1.Promise) Workflow {
				return resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
			},
			run: 1,
		},
		{
			name: "resource-configure-last",
			build: func(p *v1alpha1.Promise) Workflow {
				return resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
			},
			index: 1,
			run:   3,
		},
		{
			name: "resource-delete",
			build: func(p *v1alpha1.Promise) Workflow {
				return resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a"))
			},
			run: 1,
		},
		{
			name: "resource-pipeline-namespace-permissions",
			mutate: func(p *v1alpha1.Promise) {
				p.Spec.Workflows.Config.PipelineNamespace = "pipelines"
				p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = []v1alpha1.Permission{
					{PolicyRule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
					{ResourceNamespace: "shared", PolicyRule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}}},
					{ResourceNamespace: "*", PolicyRule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}}},
					{PolicyRule: rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}}},
				}
			},
			build: func(p *v1alpha1.Promise) Workflow {
				return resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
			},
			run: 1,
		},
		{
			name: "resource-own-service-account",
			mutate: func(p *v1alpha1.Promise) {
				p.Spec.Workflows.Resource.Configure[0].Spec.RBAC.ServiceAccount = "team-a-pipelines"
			},
			build: func(p *v1alpha1.Promise) Workflow {
				return resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
			},
			run: 1,
		},
		{
			name: "resource-long-names",
			build: func(p *v1alpha1.Promise) Workflow {
				return resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest(longName, "team-a"))
			},
			run: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPromise(t)
			if tt.mutate != nil {
				tt.mutate(p)
			}
			w := tt.build(p)
			job := mustJob(t, w, tt.index, tt.run, tt.opts)
			access := mustAccess(t, w, tt.index, tt.opts)
			got := renderYAML(t, job, access)
			golden := filepath.Join("testdata", tt.name+".yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pipeline -run TestBuildGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what is built now (run with -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// renderYAML writes the Job and every object of the Access as one multi-document YAML stream.
func renderYAML(t *testing.T, job any, access *Access) []byte {
	t.Helper()
	objects := []any{job}
	for _, o := range access.Objects() {
		objects = append(objects, o)
	}
	var out bytes.Buffer
	for _, o := range objects {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return out.Bytes()
}
