package pipeline

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestSpecHash: the hash changes with what should re-run a workflow (CONTRACT.md §5) and with
// nothing else.
func TestSpecHash(t *testing.T) {
	hash := func(p *v1alpha1.Promise, obj *unstructured.Unstructured) string {
		t.Helper()
		h, err := SpecHash(p, obj)
		if err != nil {
			t.Fatal(err)
		}
		if errs := validation.IsValidLabelValue(h); len(errs) > 0 {
			t.Errorf("hash %q is not a label value: %v", h, errs)
		}
		return h
	}
	basePromise, baseRequest := hash(testPromise(t), nil), hash(testPromise(t), testRequest("cache", "team-a"))
	if basePromise == baseRequest {
		t.Error("a request's hash ignores the request")
	}

	tests := []struct {
		name     string
		promise  func(p *v1alpha1.Promise)
		request  func(u *unstructured.Unstructured)
		changes  bool
		resource bool
	}{
		{name: "pipeline image bumped", promise: func(p *v1alpha1.Promise) {
			p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Image = "ghcr.io/example/generate:v2"
		}, changes: true, resource: true},
		{name: "pipeline env changed", promise: func(p *v1alpha1.Promise) {
			p.Spec.Workflows.Promise.Configure[0].Spec.Containers[0].Env[0].Value = "other"
		}, changes: true},
		{name: "destination selectors changed", promise: func(p *v1alpha1.Promise) {
			p.Spec.DestinationSelectors[0].MatchLabels["environment"] = "prod"
		}, changes: true, resource: true},
		{name: "API changed", promise: func(p *v1alpha1.Promise) {
			p.Spec.API.Raw = append(p.Spec.API.Raw[:len(p.Spec.API.Raw)-1], []byte(`,"x":1}`)...)
		}, changes: true, resource: true},
		{name: "request spec changed", request: func(u *unstructured.Unstructured) {
			u.Object["spec"].(map[string]any)["size"] = "large"
		}, changes: true, resource: true},
		{name: "Promise labels, annotations and status", promise: func(p *v1alpha1.Promise) {
			p.Labels = map[string]string{v1alpha1.LabelManualReconciliation: "true"}
			p.Annotations = map[string]string{"note": "x"}
			p.Status.Message = "Promise configured"
			p.Generation = 7
		}},
		{name: "request labels, status and resourceVersion", request: func(u *unstructured.Unstructured) {
			u.SetLabels(map[string]string{v1alpha1.LabelManualReconciliation: "true"})
			u.SetResourceVersion("42")
			u.Object["status"] = map[string]any{"message": "Resource requested"}
		}, resource: true},
		{name: "request spec keys in another order", request: func(u *unstructured.Unstructured) {
			u.Object["spec"] = map[string]any{"replicas": int64(3), "size": "small"}
		}, resource: true},
		{name: "API JSON with keys in another order", promise: func(p *v1alpha1.Promise) {
			p.Spec.API.Raw = reorderTopLevel(t, p.Spec.API.Raw)
		}, resource: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPromise(t)
			req := testRequest("cache", "team-a")
			if tt.promise != nil {
				tt.promise(p)
			}
			if tt.request != nil {
				tt.request(req)
			}
			got, base := hash(p, nil), basePromise
			if tt.resource {
				got, base = hash(p, req), baseRequest
			}
			if changed := got != base; changed != tt.changes {
				t.Errorf("hash changed: %v, want %v", changed, tt.changes)
			}
		})
	}
}

// reorderTopLevel re-encodes a JSON object with its keys in reverse order.
func reorderTopLevel(t *testing.T, raw []byte) []byte {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	out := []byte("{")
	keys := []string{"spec", "metadata", "kind", "apiVersion"}
	for i, k := range keys {
		v, err := canonicalJSON(u.Object[k])
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, []byte(`"`+k+`":`)...)
		out = append(out, v...)
	}
	return append(out, '}')
}
