package adapter

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestWriteWorkIgnoresWorksThatOnlyWearItsLabels (attack): the work-writer finds "its" Work by
// labels alone (findWork: kratix.io/promise-name, pipeline-name, work-type, and the request's
// for a resource workflow) and fails when two match. Labels are anyone's to write: every Promise
// workflow runs in the platform namespace, and each one's ServiceAccount may create Works there
// (the admission policy checks spec.promiseName against its verb, never the labels). So Promise
// a's pipeline creates a Work of its own Promise (admitted) wearing Promise b's labels, and from
// then on:
//   - when b already has its Work, b's work-writer finds two and fails ("2 Works carry the
//     labels"), on every run, until someone deletes the decoy;
//   - when b has none yet, b's work-writer takes the decoy for its own and replaces its spec:
//     the API server refuses that (promiseName cannot change), so b's pipeline fails too; on a
//     server without that rule b's output would live in a Work that a's pipeline named and can
//     still update or delete.
//
// The same holds between the resource workflows that share a Promise's pipelineNamespace. The
// work-writer should pick only a Work whose spec names its Promise, request and pipeline (or
// look it up by its deterministic name, workName), and leave decoys alone.
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
