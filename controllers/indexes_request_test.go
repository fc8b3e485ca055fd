package controllers

import (
	"context"
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"kratix.dev/kratix/api/v1alpha1"
)

// A request's lists of its Jobs and binding go through the request index and find what the labels alone
// find; a Promise's own lists, and lists of other kinds, are left as they are.
func TestRequestIndexedLists(t *testing.T) {
	job := func(name, promise, request, action string) *batchv1.Job {
		labels := map[string]string{v1alpha1.LabelPromiseName: promise, v1alpha1.LabelWorkflowAction: action}
		if request != "" {
			labels[v1alpha1.LabelResourceName] = request
		}
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", Labels: labels}}
	}
	binding := func(name, promise, request string) *v1alpha1.ResourceBinding {
		return &v1alpha1.ResourceBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a",
			Labels: map[string]string{v1alpha1.LabelPromiseName: promise, v1alpha1.LabelResourceName: request}}}
	}
	byRequest := func(o client.Object) []string { return []string{requestIndexValue(o.GetLabels())} }
	objs := []client.Object{
		job("a-configure", "app", "a", "configure"), job("a-delete", "app", "a", "delete"),
		job("b-configure", "app", "b", "configure"), job("other-a", "other", "a", "configure"),
		job("promise", "app", "", "configure"),
		binding("a-app", "app", "a"), binding("b-app", "app", "b"),
	}
	var indexedLists int
	c := fake.NewClientBuilder().WithScheme(env.Scheme).WithObjects(objs...).
		WithIndex(&batchv1.Job{}, indexRequestOf, byRequest).WithIndex(&v1alpha1.ResourceBinding{}, indexRequestOf, byRequest).
		WithInterceptorFuncs(interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			o := &client.ListOptions{}
			o.ApplyOptions(opts)
			if o.FieldSelector != nil {
				indexedLists++
			}
			return c.List(ctx, list, opts...)
		}}).Build()
	indexed := requestIndexed{c}
	for _, tt := range []struct {
		name    string
		list    client.ObjectList
		labels  map[string]string
		want    []string
		indexed bool
	}{
		{"a request's binding", &v1alpha1.ResourceBindingList{}, map[string]string{v1alpha1.LabelPromiseName: "app", v1alpha1.LabelResourceName: "b"}, []string{"b-app"}, true},
		{"a request's configure Jobs", &batchv1.JobList{}, map[string]string{v1alpha1.LabelPromiseName: "app", v1alpha1.LabelResourceName: "a", v1alpha1.LabelWorkflowAction: "configure"}, []string{"a-configure"}, true},
		{"all of a request's Jobs", &batchv1.JobList{}, map[string]string{v1alpha1.LabelPromiseName: "app", v1alpha1.LabelResourceName: "a"}, []string{"a-configure", "a-delete"}, true},
		{"a Promise's Jobs", &batchv1.JobList{}, map[string]string{v1alpha1.LabelPromiseName: "app", v1alpha1.LabelWorkflowAction: "configure"}, []string{"a-configure", "b-configure", "promise"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := indexedLists
			if err := indexed.List(t.Context(), tt.list, client.InNamespace("team-a"), client.MatchingLabels(tt.labels)); err != nil {
				t.Fatal(err)
			}
			items, err := meta.ExtractList(tt.list)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, item := range items {
				got = append(got, item.(client.Object).GetName())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
			if used := indexedLists > before; used != tt.indexed {
				t.Errorf("listed through the index: %t, want %t", used, tt.indexed)
			}
		})
	}
}
