package pipeline

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kratix.dev/kratix/api/v1alpha1"
)

// envValue is the value of the variable name in env, "" when absent.
func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func envNames(env []corev1.EnvVar) []string {
	names := make([]string, len(env))
	for i, e := range env {
		names[i] = e.Name
	}
	return names
}

func containerNames(cs []corev1.Container) []string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return names
}

var contractOrder = []string{
	"KRATIX_WORKFLOW_ACTION", "KRATIX_WORKFLOW_TYPE", "KRATIX_PROMISE_NAME", "KRATIX_PIPELINE_NAME",
	"KRATIX_OBJECT_KIND", "KRATIX_OBJECT_GROUP", "KRATIX_OBJECT_VERSION", "KRATIX_OBJECT_NAME",
	"KRATIX_OBJECT_NAMESPACE", "KRATIX_CRD_PLURAL", "KRATIX_CLUSTER_SCOPED",
}

// TestBuildJobContainers: reader, the user's containers in order, work-writer for configure only;
// status-writer as the main container.
func TestBuildJobContainers(t *testing.T) {
	p := testPromise(t)
	tests := []struct {
		name     string
		workflow Workflow
		wantInit []string
	}{
		{"resource configure", resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")), []string{"reader", "generate", "lint", "work-writer"}},
		{"resource delete", resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")), []string{"reader", "cleanup"}},
		{"promise configure", promiseWorkflow(p, v1alpha1.WorkflowActionConfigure), []string{"reader", "render", "work-writer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := mustJob(t, tt.workflow, 0, 1, Options{AdapterImage: "kratix:test"}).Spec.Template.Spec
			if got := containerNames(spec.InitContainers); !reflect.DeepEqual(got, tt.wantInit) {
				t.Errorf("init containers %v, want %v", got, tt.wantInit)
			}
			if got := containerNames(spec.Containers); !reflect.DeepEqual(got, []string{"status-writer"}) {
				t.Errorf("main containers %v, want [status-writer]", got)
			}
			if spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q, want Never", spec.RestartPolicy)
			}
			for _, c := range append(spec.InitContainers, spec.Containers...) {
				switch c.Name {
				case ContainerReader, ContainerWorkWriter, ContainerStatusWriter:
					want := []string{"kratix", "pipeline-adapter", c.Name}
					if got := append(append([]string{}, c.Command...), c.Args...); c.Image != "kratix:test" || !reflect.DeepEqual(got, want) {
						t.Errorf("%s runs %s %v, want kratix:test %v", c.Name, c.Image, got, want)
					}
				}
			}
		})
	}
}

// TestBuildJobEnvironment: users' containers see the contract's variables in the contract's
// order, then their own; the engine's containers see the contract's and what they need to find
// the object and write the Work.
func TestBuildJobEnvironment(t *testing.T) {
	p := testPromise(t)
	clusterScoped := testPromise(t)
	clusterScoped.Spec.API.Raw = []byte(strings.Replace(string(clusterScoped.Spec.API.Raw), `"Namespaced"`, `"Cluster"`, 1))
	clusterRequest := testRequest("cache", "")
	unstructured.RemoveNestedField(clusterRequest.Object, "metadata", "namespace")

	tests := []struct {
		name      string
		workflow  Workflow
		index     int
		wantUser  map[string]string
		wantOwn   []corev1.EnvVar
		wantExtra map[string]string
	}{
		{
			name:     "resource configure, first of two pipelines",
			workflow: resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")),
			wantUser: map[string]string{
				"KRATIX_WORKFLOW_ACTION": "configure", "KRATIX_WORKFLOW_TYPE": "resource", "KRATIX_PROMISE_NAME": "redis",
				"KRATIX_PIPELINE_NAME": "instance-configure", "KRATIX_OBJECT_KIND": "Redis", "KRATIX_OBJECT_GROUP": "marketplace.kratix.io",
				"KRATIX_OBJECT_VERSION": "v1alpha1", "KRATIX_OBJECT_NAME": "cache", "KRATIX_OBJECT_NAMESPACE": "team-a",
				"KRATIX_CRD_PLURAL": "redises", "KRATIX_CLUSTER_SCOPED": "false",
			},
			wantOwn: []corev1.EnvVar{{Name: "SIZE", Value: "small"}},
			wantExtra: map[string]string{
				EnvPipelineNamespace: "team-a", EnvLastPipeline: "false",
				EnvPromiseDestinationSelectors: `[{"matchLabels":{"environment":"dev"}}]`,
			},
		},
		{
			name:      "resource configure, last pipeline",
			workflow:  resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")),
			index:     1,
			wantUser:  map[string]string{"KRATIX_PIPELINE_NAME": "instance-notify"},
			wantExtra: map[string]string{EnvLastPipeline: "true"},
		},
		{
			name:     "promise delete",
			workflow: promiseWorkflow(withPromiseDelete(testPromise(t)), v1alpha1.WorkflowActionDelete),
			wantUser: map[string]string{
				"KRATIX_WORKFLOW_ACTION": "delete", "KRATIX_WORKFLOW_TYPE": "promise", "KRATIX_OBJECT_KIND": "Promise",
				"KRATIX_OBJECT_GROUP": "platform.kratix.io", "KRATIX_OBJECT_VERSION": "v1alpha1", "KRATIX_OBJECT_NAME": "redis",
				"KRATIX_OBJECT_NAMESPACE": "", "KRATIX_CRD_PLURAL": "promises", "KRATIX_CLUSTER_SCOPED": "true",
			},
			wantExtra: map[string]string{EnvPipelineNamespace: "kratix-platform-system"},
		},
		{
			name:      "cluster-scoped request",
			workflow:  resourceWorkflow(clusterScoped, v1alpha1.WorkflowActionConfigure, clusterRequest),
			wantUser:  map[string]string{"KRATIX_CLUSTER_SCOPED": "true", "KRATIX_OBJECT_NAMESPACE": ""},
			wantOwn:   []corev1.EnvVar{{Name: "SIZE", Value: "small"}},
			wantExtra: map[string]string{EnvPipelineNamespace: "kratix-platform-system"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := mustJob(t, tt.workflow, tt.index, 1, Options{}).Spec.Template.Spec
			user := spec.InitContainers[1]
			if got := envNames(user.Env)[:len(contractOrder)]; !reflect.DeepEqual(got, contractOrder) {
				t.Errorf("user container's variables start %v, want %v", got, contractOrder)
			}
			if got := user.Env[len(contractOrder):]; len(got)+len(tt.wantOwn) > 0 && !reflect.DeepEqual(got, tt.wantOwn) {
				t.Errorf("user container's own variables %v, want %v after the contract's", got, tt.wantOwn)
			}
			for k, want := range tt.wantUser {
				if got := envValue(user.Env, k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for k := range tt.wantExtra {
				if envValue(user.Env, k) != "" {
					t.Errorf("user container sees the engine's %s", k)
				}
			}
			for _, c := range append(spec.InitContainers[:1:1], spec.Containers...) {
				if got := envNames(c.Env)[:len(contractOrder)]; !reflect.DeepEqual(got, contractOrder) {
					t.Errorf("%s's variables start %v, want %v", c.Name, got, contractOrder)
				}
				for k, want := range tt.wantExtra {
					if got := envValue(c.Env, k); got != want {
						t.Errorf("%s: %s = %q, want %q", c.Name, k, got, want)
					}
				}
			}
		})
	}
}

// withPromiseDelete gives the Promise a promise delete pipeline.
func withPromiseDelete(p *v1alpha1.Promise) *v1alpha1.Promise {
	p.Spec.Workflows.Promise.Delete = []v1alpha1.Pipeline{{
		Metadata: v1alpha1.PipelineMetadata{Name: "promise-delete"},
		Spec:     v1alpha1.PipelineSpec{Containers: []v1alpha1.Container{{Name: "cleanup", Image: "cleanup:v1"}}},
	}}
	return p
}

// TestBuildJobVolumeMounts: users' containers read the object read-only and write output and
// metadata, then mount their own volumes; the engine's containers mount only what they use.
func TestBuildJobVolumeMounts(t *testing.T) {
	job := mustJob(t, promiseWorkflow(testPromise(t), v1alpha1.WorkflowActionConfigure), 0, 1, Options{})
	spec := job.Spec.Template.Spec
	want := map[string][]corev1.VolumeMount{
		// The engine's own volume: the pipeline's containers never see it.
		"reader": {{Name: "kratix-input", MountPath: "/kratix/input"}, {Name: "kratix-engine", MountPath: "/kratix/engine"}},
		"render": {
			{Name: "kratix-input", MountPath: "/kratix/input", ReadOnly: true},
			{Name: "kratix-output", MountPath: "/kratix/output"},
			{Name: "kratix-metadata", MountPath: "/kratix/metadata"},
			{Name: "cache", MountPath: "/cache"},
		},
		"work-writer": {
			{Name: "kratix-output", MountPath: "/kratix/output", ReadOnly: true},
			{Name: "kratix-metadata", MountPath: "/kratix/metadata", ReadOnly: true},
		},
		"status-writer": {{Name: "kratix-metadata", MountPath: "/kratix/metadata", ReadOnly: true}, {Name: "kratix-engine", MountPath: "/kratix/engine", ReadOnly: true}},
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if !reflect.DeepEqual(c.VolumeMounts, want[c.Name]) {
			t.Errorf("%s mounts %+v, want %+v", c.Name, c.VolumeMounts, want[c.Name])
		}
	}
	var volumes []string
	for _, v := range spec.Volumes {
		volumes = append(volumes, v.Name)
		if strings.HasPrefix(v.Name, "kratix-") && v.EmptyDir == nil {
			t.Errorf("volume %s is not an emptyDir", v.Name)
		}
	}
	if want := []string{"kratix-input", "kratix-output", "kratix-metadata", "kratix-engine", "cache"}; !reflect.DeepEqual(volumes, want) {
		t.Errorf("volumes %v, want %v", volumes, want)
	}
}

// TestBuildJobMetadata: the contract's labels, the pipeline's labels and annotations (the
// engine's labels win), the backoff limit, and where the Job runs.
func TestBuildJobMetadata(t *testing.T) {
	p := testPromise(t)
	shared := testPromise(t)
	shared.Spec.Workflows.Config.PipelineNamespace = "pipelines"
	tests := []struct {
		name          string
		workflow      Workflow
		wantNamespace string
		wantLabels    map[string]string
		absentLabels  []string
		wantBackoff   int32
	}{
		{
			name:          "promise workflow",
			workflow:      promiseWorkflow(p, v1alpha1.WorkflowActionConfigure),
			wantNamespace: "kratix-platform-system",
			wantLabels: map[string]string{
				"kratix.io/promise-name": "redis", "kratix.io/pipeline-name": "promise-configure", "kratix.io/workflow-type": "promise",
				"kratix.io/workflow-action": "configure", "app.kubernetes.io/managed-by": "kratix", "team": "platform", "kratix.io/workflow-run": "4",
			},
			absentLabels: []string{"kratix.io/resource-name", "kratix.io/resource-namespace"},
			wantBackoff:  2,
		},
		{
			name:          "resource workflow",
			workflow:      resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")),
			wantNamespace: "team-a",
			wantLabels: map[string]string{
				"kratix.io/promise-name": "redis", "kratix.io/resource-name": "cache", "kratix.io/resource-namespace": "team-a",
				"kratix.io/pipeline-name": "instance-delete", "kratix.io/workflow-type": "resource", "kratix.io/workflow-action": "delete",
			},
			wantBackoff: DefaultBackoffLimit,
		},
		{
			name:          "resource workflow with a pipelineNamespace",
			workflow:      resourceWorkflow(shared, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")),
			wantNamespace: "pipelines",
			wantLabels:    map[string]string{"kratix.io/resource-namespace": "team-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := mustJob(t, tt.workflow, 0, 4, Options{})
			if job.Namespace != tt.wantNamespace {
				t.Errorf("namespace %q, want %q", job.Namespace, tt.wantNamespace)
			}
			hash, err := SpecHash(tt.workflow.Promise, tt.workflow.Object)
			if err != nil {
				t.Fatal(err)
			}
			for _, labels := range []map[string]string{job.Labels, job.Spec.Template.Labels} {
				if labels["kratix.io/hash"] != hash {
					t.Errorf("kratix.io/hash %q, want SpecHash %q", labels["kratix.io/hash"], hash)
				}
				for k, v := range tt.wantLabels {
					if labels[k] != v {
						t.Errorf("label %s=%q, want %q", k, labels[k], v)
					}
				}
				for _, k := range tt.absentLabels {
					if _, ok := labels[k]; ok {
						t.Errorf("label %s is set", k)
					}
				}
				for k, v := range tt.workflow.Selector() {
					if labels[k] != v {
						t.Errorf("the Job does not match its workflow's selector: %s=%q, want %q", k, labels[k], v)
					}
				}
			}
			if *job.Spec.BackoffLimit != tt.wantBackoff {
				t.Errorf("backoffLimit %d, want %d", *job.Spec.BackoffLimit, tt.wantBackoff)
			}
		})
	}
}

// TestBuildJobSharesNothingWithThePromise: changing the built Job leaves the Promise as it was.
func TestBuildJobSharesNothingWithThePromise(t *testing.T) {
	p := testPromise(t)
	before := p.DeepCopy()
	job := mustJob(t, promiseWorkflow(p, v1alpha1.WorkflowActionConfigure), 0, 1, Options{})
	spec := &job.Spec.Template.Spec
	spec.NodeSelector["pool"] = "changed"
	spec.Tolerations[0].Value = "changed"
	spec.InitContainers[1].Env[len(contractOrder)].Value = "changed"
	spec.InitContainers[1].Args[0] = "changed"
	spec.Volumes[4].Name = "changed"
	job.Labels["team"] = "changed"
	if !reflect.DeepEqual(p, before) {
		t.Error("changing the Job changed the Promise")
	}
}

// TestBuildRefuses: what cannot become a valid Job is refused with a reason.
func TestBuildRefuses(t *testing.T) {
	p := testPromise(t)
	noAPI := testPromise(t)
	noAPI.Spec.API = nil
	reserved := testPromise(t)
	reserved.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Name = "work-writer"
	reservedMount := testPromise(t)
	reservedMount.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "x", MountPath: "/kratix/output"}}
	reservedVolume := testPromise(t)
	reservedVolume.Spec.Workflows.Resource.Configure[0].Spec.Volumes = []v1alpha1.Volume{{Volume: corev1.Volume{Name: "kratix-input"}}}
	engineVolume := testPromise(t)
	engineVolume.Spec.Workflows.Resource.Configure[0].Spec.Volumes = []v1alpha1.Volume{{Volume: corev1.Volume{Name: "kratix-engine"}}}
	// The reader's copy of the object, which the status-writer trusts, is out of the pipeline's
	// reach: by the volume's name, or by its path.
	engineMount := testPromise(t)
	engineMount.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "kratix-engine", MountPath: "/mnt"}}
	enginePath := testPromise(t)
	enginePath.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/kratix/engine"}}
	wrongKind := testRequest("cache", "team-a")
	wrongKind.SetKind("Postgres")
	request := testRequest("cache", "team-a")

	tests := []struct {
		name     string
		workflow Workflow
		index    int
		run      int
		want     string
	}{
		{"pipeline index past the end", resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, request), 2, 1, "there is no pipeline 2"},
		{"second delete pipeline", resourceWorkflow(p, v1alpha1.WorkflowActionDelete, request), 1, 1, "there is no pipeline 1"},
		{"run number 0", resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, request), 0, 0, "numbered from 1"},
		{"unknown type", Workflow{Type: "job", Action: "configure", Promise: p}, 0, 1, `workflow type "job"`},
		{"unknown action", Workflow{Type: "promise", Action: "update", Promise: p}, 0, 1, `workflow action "update"`},
		{"resource workflow without request", Workflow{Type: "resource", Action: "configure", Promise: p}, 0, 1, "needs its resource request"},
		{"Promise without API", resourceWorkflow(noAPI, v1alpha1.WorkflowActionConfigure, request), 0, 1, "has no API"},
		{"request of another kind", resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, wrongKind), 0, 1, "serves Redis.marketplace.kratix.io"},
		{"reserved container name", resourceWorkflow(reserved, v1alpha1.WorkflowActionConfigure, request), 0, 1, `container name "work-writer" is reserved`},
		{"mount over /kratix/output", resourceWorkflow(reservedMount, v1alpha1.WorkflowActionConfigure, request), 0, 1, `mounts "/kratix/output"`},
		{"reserved volume name", resourceWorkflow(reservedVolume, v1alpha1.WorkflowActionConfigure, request), 0, 1, `volume name "kratix-input" is reserved`},
		{"the engine's volume name", resourceWorkflow(engineVolume, v1alpha1.WorkflowActionConfigure, request), 0, 1, `volume name "kratix-engine" is reserved`},
		{"mount of the engine's volume", resourceWorkflow(engineMount, v1alpha1.WorkflowActionConfigure, request), 0, 1, `mounts volume "kratix-engine", the engine's own`},
		{"mount over /kratix/engine", resourceWorkflow(enginePath, v1alpha1.WorkflowActionConfigure, request), 0, 1, `mounts "/kratix/engine"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildJob(tt.workflow, tt.index, tt.run, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("BuildJob error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestBuildOwners: configure Jobs go with their object. A request's own ServiceAccount and RBAC
// go with the request where Kubernetes allows an owner reference to it (in its namespace, or
// anywhere for a cluster-scoped request), else with the Promise; shared RBAC goes with the
// Promise. Nothing of a delete workflow has an owner, so that deleting the owner cannot remove
// it mid-run.
func TestBuildOwners(t *testing.T) {
	p := testPromise(t)
	shared := testPromise(t)
	shared.Spec.Workflows.Config.PipelineNamespace = "pipelines"
	cluster := testPromise(t)
	cluster.Spec.API.Raw = []byte(strings.Replace(string(cluster.Spec.API.Raw), `"Namespaced"`, `"Cluster"`, 1))
	everywhere := []v1alpha1.Permission{
		{PolicyRule: configmaps}, {ResourceNamespace: "shared", PolicyRule: secrets}, {ResourceNamespace: "*", PolicyRule: namespaces},
	}
	for _, promise := range []*v1alpha1.Promise{p, shared, cluster} {
		promise.Spec.Workflows.Resource.Configure[0].Spec.RBAC.Permissions = everywhere
	}
	tests := []struct {
		name             string
		workflow         Workflow
		wantJobOwner     string // kind/name, "" for none
		wantShared       string // of the RBAC shared by the Promise's requests
		wantOwn          string // of the request's own objects in its namespace (any, if cluster-scoped)
		wantOwnElsewhere string // of the request's own objects elsewhere
	}{
		{"promise configure", promiseWorkflow(p, v1alpha1.WorkflowActionConfigure), "Promise/redis", "Promise/redis", "", ""},
		{"resource configure", resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")), "Redis/cache", "Promise/redis", "Redis/cache", "Promise/redis"},
		{"resource configure in a pipelineNamespace", resourceWorkflow(shared, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")), "Promise/redis", "Promise/redis", "Redis/cache", "Promise/redis"},
		{"resource configure of a cluster-scoped request", resourceWorkflow(cluster, v1alpha1.WorkflowActionConfigure, testRequest("cache", "")), "Redis/cache", "Promise/redis", "Redis/cache", "Redis/cache"},
		{"resource delete", resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")), "", "", "", ""},
		{"promise delete", promiseWorkflow(withPromiseDelete(testPromise(t)), v1alpha1.WorkflowActionDelete), "", "", "", ""},
	}
	owner := func(refs []metav1.OwnerReference) string {
		if len(refs) == 0 {
			return ""
		}
		return refs[0].Kind + "/" + refs[0].Name
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := owner(mustJob(t, tt.workflow, 0, 1, Options{}).OwnerReferences); got != tt.wantJobOwner {
				t.Errorf("Job owned by %q, want %q", got, tt.wantJobOwner)
			}
			access := mustAccess(t, tt.workflow, 0, Options{})
			metas := []metav1.ObjectMeta{access.ServiceAccount.ObjectMeta}
			for i := range access.Roles {
				metas = append(metas, access.Roles[i].ObjectMeta, access.RoleBindings[i].ObjectMeta)
			}
			for i := range access.ClusterRoles {
				metas = append(metas, access.ClusterRoles[i].ObjectMeta, access.ClusterRoleBindings[i].ObjectMeta)
			}
			for _, m := range metas {
				want := tt.wantShared
				if _, own := m.Labels[v1alpha1.LabelResourceName]; own {
					want = tt.wantOwnElsewhere
					if tt.workflow.Object.GetNamespace() == m.Namespace || tt.workflow.Object.GetNamespace() == "" {
						want = tt.wantOwn
					}
				}
				if got := owner(m.OwnerReferences); got != want {
					t.Errorf("%s/%s owned by %q, want %q", m.Namespace, m.Name, got, want)
				}
			}
		})
	}
}

// TestAdapterEnvNamesAreKnown: every variable the Job builder gives the engine's steps is one
// that IsAdapterEnv admits (the local runner refuses any other), and a user's own is not.
func TestAdapterEnvNamesAreKnown(t *testing.T) {
	p := testPromise(t)
	for _, w := range []Workflow{
		resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a")),
		promiseWorkflow(withPromiseDelete(testPromise(t)), v1alpha1.WorkflowActionDelete),
	} {
		job := mustJob(t, w, 0, 1, Options{})
		for _, c := range append(job.Spec.Template.Spec.InitContainers, job.Spec.Template.Spec.Containers...) {
			switch c.Name {
			case ContainerReader, ContainerWorkWriter, ContainerStatusWriter:
			default:
				continue
			}
			for _, e := range c.Env {
				if !IsAdapterEnv(e.Name) {
					t.Errorf("%s %s: container %s gets %s, which IsAdapterEnv does not admit", w.Type, w.Action, c.Name, e.Name)
				}
			}
		}
	}
	for _, name := range []string{"SIZE", "LD_PRELOAD", "GODEBUG", "KRATIX_SANDBOX_SPEC_FILE"} {
		if IsAdapterEnv(name) {
			t.Errorf("IsAdapterEnv(%q)", name)
		}
	}
}
