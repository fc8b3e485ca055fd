package pipeline

import (
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
)

// mustDryRunJob builds a dry run's Job or fails the test.
func mustDryRunJob(t *testing.T, w Workflow, index int, ref DryRunRef) *batchv1.Job {
	t.Helper()
	job, err := BuildDryRunJob(w, index, ref, Options{})
	if err != nil {
		t.Fatalf("BuildDryRunJob: %v", err)
	}
	return job
}

// TestBuildDryRunJobLabels: the Job (and its Pod) carries the dry run's labels and none of the
// workflow's selector (Workflow.Selector), so the request's workflow never decides on it; the
// real Job's other labels stay.
func TestBuildDryRunJobLabels(t *testing.T) {
	p := testPromise(t)
	ref := DryRunRef{Namespace: "team-a", Name: "preview", Generation: 3}
	tests := []struct {
		name  string
		index int
		obj   string // the request's namespace/name
	}{
		{"first pipeline", 0, "team-a/cache"},
		{"second pipeline", 1, "team-a/cache"},
		{"request in another namespace", 0, "team-b/other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, name, _ := strings.Cut(tt.obj, "/")
			w := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest(name, ns))
			real := mustJob(t, w, tt.index, 1, Options{})
			job := mustDryRunJob(t, w, tt.index, ref)
			selector := w.Selector()
			for _, labels := range []map[string]string{job.Labels, job.Spec.Template.Labels} {
				for k, v := range ref.Labels() {
					if labels[k] != v {
						t.Errorf("label %s = %q, want %q", k, labels[k], v)
					}
				}
				for k := range selector {
					if _, ok := labels[k]; ok {
						t.Errorf("label %s of the workflow's selector is on the dry run's Job: %v", k, labels)
					}
				}
				for k, v := range real.Labels {
					if _, inSelector := selector[k]; !inSelector && labels[k] != v {
						t.Errorf("label %s = %q, want the real Job's %q", k, labels[k], v)
					}
				}
			}
			// What Decide lists the workflow's Jobs with matches the real Job, not this one.
			if !matches(real.Labels, selector) {
				t.Fatalf("the real Job does not match the workflow's selector: the test proves nothing")
			}
			if matches(job.Labels, selector) || matches(job.Spec.Template.Labels, selector) {
				t.Errorf("the dry run's Job matches the workflow's selector %v", selector)
			}
		})
	}
}

func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestBuildDryRunJobEnv: the engine's containers get KRATIX_DRY_RUN and the object as
// KRATIX_DRY_RUN_OBJECT, the pipeline's own containers do not; otherwise the containers,
// ServiceAccount and volumes are the real Job's.
func TestBuildDryRunJobEnv(t *testing.T) {
	p := testPromise(t)
	obj := testRequest("cache", "team-a")
	obj.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}})
	w := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, obj)
	ref := DryRunRef{Namespace: "team-a", Name: "preview", Generation: 1}
	engine := map[string]bool{ContainerReader: true, ContainerWorkWriter: true, ContainerStatusWriter: true}
	for index := range 2 {
		real := mustJob(t, w, index, 1, Options{})
		job := mustDryRunJob(t, w, index, ref)
		rs, js := real.Spec.Template.Spec, job.Spec.Template.Spec
		if js.ServiceAccountName != rs.ServiceAccountName || js.ServiceAccountName == "" {
			t.Errorf("pipeline %d: ServiceAccount %q, want the real Job's %q", index, js.ServiceAccountName, rs.ServiceAccountName)
		}
		if !reflect.DeepEqual(js.Volumes, rs.Volumes) {
			t.Errorf("pipeline %d: volumes differ from the real Job's", index)
		}
		if job.Namespace != real.Namespace {
			t.Errorf("pipeline %d: namespace %q, want %q", index, job.Namespace, real.Namespace)
		}
		pairs := []struct {
			kind       string
			got, wants []corev1.Container
		}{{"init", js.InitContainers, rs.InitContainers}, {"main", js.Containers, rs.Containers}}
		seenEngine, seenUser := 0, 0
		for _, pair := range pairs {
			if !reflect.DeepEqual(containerNames(pair.got), containerNames(pair.wants)) {
				t.Fatalf("pipeline %d: %s containers %v, want the real Job's %v", index, pair.kind, containerNames(pair.got), containerNames(pair.wants))
			}
			for i, c := range pair.got {
				want := pair.wants[i]
				if !engine[c.Name] {
					seenUser++
					if !reflect.DeepEqual(c, want) {
						t.Errorf("pipeline %d: the pipeline's container %s differs from the real Job's:\n got %+v\nwant %+v", index, c.Name, c, want)
					}
					if envValue(c.Env, EnvDryRun) != "" || envValue(c.Env, EnvDryRunObject) != "" {
						t.Errorf("pipeline %d: the pipeline's container %s gets the dry run's variables", index, c.Name)
					}
					continue
				}
				seenEngine++
				if got := envValue(c.Env, EnvDryRun); got != "team-a/preview" {
					t.Errorf("pipeline %d: %s: %s = %q, want %q", index, c.Name, EnvDryRun, got, "team-a/preview")
				}
				var read map[string]any
				if err := yaml.Unmarshal([]byte(envValue(c.Env, EnvDryRunObject)), &read); err != nil {
					t.Fatalf("pipeline %d: %s: %s is not YAML: %v", index, c.Name, EnvDryRunObject, err)
				}
				if !reflect.DeepEqual(read["spec"], map[string]any{"size": "small", "replicas": float64(3)}) {
					t.Errorf("pipeline %d: %s: the object's spec is %v", index, c.Name, read["spec"])
				}
				if md, _ := read["metadata"].(map[string]any); md["name"] != "cache" || md["managedFields"] != nil {
					t.Errorf("pipeline %d: %s: the object's metadata is %v (want its name, no managedFields)", index, c.Name, md)
				}
				// Apart from the two variables, the engine's container is the real one.
				stripped := c.DeepCopy()
				stripped.Env = nil
				for _, e := range c.Env {
					if e.Name != EnvDryRun && e.Name != EnvDryRunObject {
						stripped.Env = append(stripped.Env, e)
					}
				}
				if !reflect.DeepEqual(*stripped, want) {
					t.Errorf("pipeline %d: %s differs from the real Job's beyond the dry run's variables", index, c.Name)
				}
			}
		}
		if seenEngine != 3 || seenUser == 0 {
			t.Errorf("pipeline %d: %d engine containers and %d of the pipeline's, want 3 and some", index, seenEngine, seenUser)
		}
		if obj.GetManagedFields() == nil {
			t.Errorf("BuildDryRunJob changed the request's object")
		}
	}
}

// TestBuildDryRunJobName: deterministic, per dry run, generation, request and pipeline, a valid
// name however long the names; the owner is the DryRun's when given, never the request's.
func TestBuildDryRunJobName(t *testing.T) {
	p := testPromise(t)
	w := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
	base := DryRunRef{Namespace: "team-a", Name: "preview", Generation: 1}
	name := mustDryRunJob(t, w, 0, base).Name
	if again := mustDryRunJob(t, w, 0, base).Name; again != name {
		t.Errorf("two builds name the Job %q and %q", name, again)
	}
	if name != DryRunJobName(base, "team-a", "cache", 0) {
		t.Errorf("the Job is %q, DryRunJobName says %q", name, DryRunJobName(base, "team-a", "cache", 0))
	}
	if real := mustJob(t, w, 0, 1, Options{}); real.Name == name {
		t.Errorf("the dry run's Job has the real Job's name %q", name)
	}
	long := strings.Repeat("x", 250)
	tests := []struct {
		name string
		ref  DryRunRef
		w    Workflow
		idx  int
	}{
		{"another generation", DryRunRef{Namespace: "team-a", Name: "preview", Generation: 2}, w, 0},
		{"another DryRun", DryRunRef{Namespace: "team-a", Name: "preview2", Generation: 1}, w, 0},
		{"a DryRun of another namespace", DryRunRef{Namespace: "team-b", Name: "preview", Generation: 1}, w, 0},
		{"another pipeline", base, w, 1},
		{"another request", base, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache2", "team-a")), 0},
		{"the request's namesake in another namespace", base, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-b")), 0},
		{"long names", DryRunRef{Namespace: "team-a", Name: long, Generation: 1}, resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest(long, "team-a")), 0},
	}
	seen := map[string]string{name: "base"}
	for _, tt := range tests {
		got := mustDryRunJob(t, tt.w, tt.idx, tt.ref).Name
		if other, dup := seen[got]; dup {
			t.Errorf("%s: Job %q, as %s's", tt.name, got, other)
		}
		seen[got] = tt.name
		if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
			t.Errorf("%s: Job name %q: %v", tt.name, got, errs)
		}
	}

	owner := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "DryRun", Name: "preview", UID: "u-1"}
	withOwner := base
	withOwner.Owner = &owner
	if got := mustDryRunJob(t, w, 0, withOwner).OwnerReferences; !reflect.DeepEqual(got, []metav1.OwnerReference{owner}) {
		t.Errorf("owners %v, want the DryRun alone", got)
	}
	if got := mustDryRunJob(t, w, 0, base).OwnerReferences; len(got) != 0 {
		t.Errorf("owners %v, want none without ref.Owner", got)
	}
}

// TestBuildDryRunJobRefusesOtherWorkflows: a dry run runs a resource Configure workflow only.
func TestBuildDryRunJobRefusesOtherWorkflows(t *testing.T) {
	p := testPromise(t)
	ref := DryRunRef{Namespace: "team-a", Name: "preview", Generation: 1}
	for _, w := range []Workflow{
		resourceWorkflow(p, v1alpha1.WorkflowActionDelete, testRequest("cache", "team-a")),
		promiseWorkflow(p, v1alpha1.WorkflowActionConfigure),
	} {
		if job, err := BuildDryRunJob(w, 0, ref, Options{}); err == nil {
			t.Errorf("%s %s: built Job %s, want an error", w.Type, w.Action, job.Name)
		}
	}
}
