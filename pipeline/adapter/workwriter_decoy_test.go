package adapter

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestWriteWorkIgnoresWorksThatOnlyWearItsLabels: labels are anyone's to write, and every
// Promise workflow's ServiceAccount may create Works in the platform namespace. A Work of
// Promise a wearing Promise b's labels must neither make b's work-writer fail (two match) nor
// be taken for b's own: the work-writer picks only a Work whose spec names its Promise, request
// and pipeline, and leaves decoys alone.
func TestWriteWorkIgnoresWorksThatOnlyWearItsLabels(t *testing.T) {
	const ns = "kratix-platform-system"
	env := Env{Action: v1alpha1.WorkflowActionConfigure, Type: v1alpha1.WorkflowTypePromise, Promise: "b", Pipeline: "render",
		Name: "b", ClusterScoped: true, PipelineNamespace: ns, PromiseSelectors: promiseSelectors, LastPipeline: true}
	decoy := func() *v1alpha1.Work {
		return &v1alpha1.Work{
			ObjectMeta: metav1.ObjectMeta{Name: "decoy", Namespace: ns, Labels: workLabels(env)},
			Spec:       v1alpha1.WorkSpec{PromiseName: "a", PipelineName: "render"},
		}
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	writeTree(t, out, map[string]string{"configmap.yaml": configMap})

	for _, tc := range []struct {
		name     string
		existing []client.Object
	}{
		{"b has no Work yet", []client.Object{decoy()}},
		{"b has its Work", []client.Object{decoy(), &v1alpha1.Work{
			ObjectMeta: metav1.ObjectMeta{Name: workName(env), Namespace: ns, Labels: workLabels(env)},
			Spec:       v1alpha1.WorkSpec{PromiseName: "b", PipelineName: "render"},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.existing...).Build()
			work, err := WriteWork(t.Context(), c, env, out, t.TempDir(), 0)
			if err != nil {
				t.Fatalf("Promise b's work-writer fails because of Promise a's decoy: %v", err)
			}
			if work.Name != workName(env) || work.Spec.PromiseName != "b" {
				t.Errorf("b's output went into Work %s (promiseName %q); want its own Work %s", work.Name, work.Spec.PromiseName, workName(env))
			}
			got := &v1alpha1.Work{}
			if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "decoy"}, got); err != nil {
				t.Fatal(err)
			}
			if got.Spec.PromiseName != "a" || len(got.Spec.WorkloadGroups) != 0 {
				t.Errorf("the decoy was rewritten: promiseName %q, %d workload groups", got.Spec.PromiseName, len(got.Spec.WorkloadGroups))
			}
		})
	}
}
