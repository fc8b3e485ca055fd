package adapter

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestWriteWorkFindsItsOwnWork: the work-writer writes one Work per object and pipeline, replaced
// on each run. Its Work is the one whose spec names its Promise, request and pipeline: the one
// named workName first, else the one that carries its labels. A Work that only wears the labels
// or only holds the name is someone else's and never changes.
func TestWriteWorkFindsItsOwnWork(t *testing.T) {
	const ns = "team-a"
	env := Env{Action: v1alpha1.WorkflowActionConfigure, Type: v1alpha1.WorkflowTypeResource, Promise: "app", Pipeline: "render",
		Name: "hello", Namespace: ns, PipelineNamespace: ns, PromiseSelectors: promiseSelectors, LastPipeline: true}
	own := v1alpha1.WorkSpec{PromiseName: "app", ResourceName: "hello", ResourceNamespace: ns, PipelineName: "render"}
	stale := []v1alpha1.WorkloadGroup{{ID: "stale", Directory: v1alpha1.RootDirectory}}
	work := func(name string, labels map[string]string, spec v1alpha1.WorkSpec) *v1alpha1.Work {
		spec.WorkloadGroups = stale
		return &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: spec}
	}
	with := func(change func(*v1alpha1.WorkSpec)) v1alpha1.WorkSpec {
		spec := own
		change(&spec)
		return spec
	}
	labels := workLabels(env)
	decoys := []*v1alpha1.Work{
		work("other-promise", labels, with(func(s *v1alpha1.WorkSpec) { s.PromiseName = "other" })),
		work("other-request", labels, with(func(s *v1alpha1.WorkSpec) { s.ResourceName = "bye" })),
		work("other-namespace", labels, with(func(s *v1alpha1.WorkSpec) { s.ResourceNamespace = "team-b" })),
		work("other-pipeline", labels, with(func(s *v1alpha1.WorkSpec) { s.PipelineName = "audit" })),
		work("promise-level", labels, with(func(s *v1alpha1.WorkSpec) { s.ResourceName, s.ResourceNamespace = "", "" })),
	}
	decoyNames := []string{"other-promise", "other-request", "other-namespace", "other-pipeline", "promise-level"}

	cases := []struct {
		name     string
		existing []*v1alpha1.Work
		// want is the name of the Work written; "" for a new name that begins with workName.
		want    string
		wantErr string
		// untouched are Works that must keep their spec and labels.
		untouched []string
	}{
		{name: "no Work yet: it is created under workName", want: workName(env)},
		{name: "its Work is replaced", existing: []*v1alpha1.Work{work(workName(env), labels, own)}, want: workName(env)},
		{name: "its Work gets its labels back", existing: []*v1alpha1.Work{work(workName(env), nil, own)}, want: workName(env)},
		{name: "a Work of its own under another name, with its labels, is replaced (an earlier engine named it)",
			existing: []*v1alpha1.Work{work("app-hello-render-legacy", labels, own)}, want: "app-hello-render-legacy"},
		{name: "the Work named workName comes before another of its own",
			existing: []*v1alpha1.Work{work("app-hello-render-legacy", labels, own), work(workName(env), labels, own)},
			want:     workName(env), untouched: []string{"app-hello-render-legacy"}},
		{name: "Works that only wear its labels are left alone", existing: decoys, want: workName(env), untouched: decoyNames},
		{name: "Works that only wear its labels are left alone beside its own",
			existing: append([]*v1alpha1.Work{work(workName(env), labels, own)}, decoys...), want: workName(env), untouched: decoyNames},
		{name: "a Work of someone else holding the name is left alone, and its own gets another name",
			existing: []*v1alpha1.Work{work(workName(env), labels, with(func(s *v1alpha1.WorkSpec) { s.PromiseName = "other" }))},
			want:     "", untouched: []string{workName(env)}},
		{name: "a Work of another namespace's request holding the name is left alone",
			existing: []*v1alpha1.Work{work(workName(env), labels, with(func(s *v1alpha1.WorkSpec) { s.ResourceNamespace = "team-b" }))},
			want:     "", untouched: []string{workName(env)}},
		{name: "a Work of another pipeline holding the name is left alone",
			existing: []*v1alpha1.Work{work(workName(env), labels, with(func(s *v1alpha1.WorkSpec) { s.PipelineName = "audit" }))},
			want:     "", untouched: []string{workName(env)}},
		{name: "a Work of someone else holding the name does not hide its own",
			existing: []*v1alpha1.Work{work(workName(env), labels, with(func(s *v1alpha1.WorkSpec) { s.PromiseName = "other" })),
				work(workName(env)+"-x7k2p", labels, own)},
			want: workName(env) + "-x7k2p", untouched: []string{workName(env)}},
		{name: "two Works of its own, neither named workName, are an error",
			existing: []*v1alpha1.Work{work("first", labels, own), work("second", labels, own)},
			wantErr:  "2 Works of", untouched: []string{"first", "second"}},
	}

	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	writeTree(t, out, map[string]string{"configmap.yaml": configMap})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := make([]client.Object, len(tc.existing))
			before := map[string]*v1alpha1.Work{}
			for i, w := range tc.existing {
				objs[i] = w.DeepCopy()
				before[w.Name] = w
			}
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()

			// Each run writes the same Work: one Work per object and pipeline.
			written := ""
			for run := 1; run <= 2; run++ {
				got, err := WriteWork(t.Context(), c, env, out, t.TempDir(), 0)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("run %d: WriteWork() error = %v, want one saying %q", run, err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				switch {
				case tc.want != "" && got.Name != tc.want:
					t.Fatalf("run %d wrote Work %s, want %s", run, got.Name, tc.want)
				case tc.want == "" && (got.Name == workName(env) || !strings.HasPrefix(got.Name, workName(env)+"-")):
					t.Fatalf("run %d wrote Work %s, want a new name beginning %s-", run, got.Name, workName(env))
				case written != "" && got.Name != written:
					t.Fatalf("run %d wrote Work %s, the one before %s", run, got.Name, written)
				}
				written = got.Name
				stored := &v1alpha1.Work{}
				if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: got.Name}, stored); err != nil {
					t.Fatal(err)
				}
				if !sameOwner(stored.Spec, own) || len(stored.Spec.WorkloadGroups) != 1 || stored.Spec.WorkloadGroups[0].ID == "stale" {
					t.Errorf("run %d: Work %s holds %+v, want the pipeline's output", run, got.Name, stored.Spec)
				}
				for k, v := range labels {
					if stored.Labels[k] != v {
						t.Errorf("run %d: Work %s has label %s=%q, want %q", run, got.Name, k, stored.Labels[k], v)
					}
				}
			}
			for _, name := range tc.untouched {
				got := &v1alpha1.Work{}
				if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, got); err != nil {
					t.Fatalf("Work %s: %v", name, err)
				}
				if !reflect.DeepEqual(got.Spec, before[name].Spec) || !reflect.DeepEqual(got.Labels, before[name].Labels) {
					t.Errorf("Work %s changed: spec %+v, labels %v", name, got.Spec, got.Labels)
				}
			}
			var all v1alpha1.WorkList
			if err := c.List(t.Context(), &all); err != nil {
				t.Fatal(err)
			}
			if want := len(tc.existing) + boolInt(tc.wantErr == "" && before[written] == nil); len(all.Items) != want {
				t.Errorf("%d Works after two runs, want %d", len(all.Items), want)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A re-run replaces its Work in one request to the API server, a JSON patch that tests the Work
// is its own: no read first. A first run learns from that patch that no Work has the name, and
// then only looks for its Work under another name before creating it.
func TestWriteWorkRequests(t *testing.T) {
	const ns = "team-a"
	env := Env{Action: v1alpha1.WorkflowActionConfigure, Type: v1alpha1.WorkflowTypeResource, Promise: "app", Pipeline: "render",
		Name: "hello", Namespace: ns, PipelineNamespace: ns, PromiseSelectors: promiseSelectors, LastPipeline: true}
	existing := &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Name: workName(env), Namespace: ns, Labels: workLabels(env)},
		Spec: v1alpha1.WorkSpec{PromiseName: "app", ResourceName: "hello", ResourceNamespace: ns, PipelineName: "render"}}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	jsonPatch := "patch " + string(types.JSONPatchType)
	cases := []struct {
		name     string
		existing []client.Object
		want     []string
	}{
		{"a re-run", []client.Object{existing}, []string{jsonPatch}},
		{"a first run", nil, []string{jsonPatch, "list", "create"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.existing...).WithInterceptorFuncs(interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					calls = append(calls, "get")
					return c.Get(ctx, key, obj, opts...)
				},
				List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
					calls = append(calls, "list")
					return c.List(ctx, list, opts...)
				},
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					calls = append(calls, "create")
					return c.Create(ctx, obj, opts...)
				},
				Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
					calls = append(calls, "patch "+string(patch.Type()))
					return c.Patch(ctx, obj, patch, opts...)
				},
				Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
					calls = append(calls, "update")
					return c.Update(ctx, obj, opts...)
				},
			}).Build()
			out := t.TempDir()
			writeTree(t, out, map[string]string{"configmap.yaml": configMap})
			if _, err := WriteWork(t.Context(), c, env, out, t.TempDir(), 0); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(calls, tc.want) {
				t.Errorf("requests %v, want %v", calls, tc.want)
			}
		})
	}
}
