package controllers

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// A request whose ResourceBinding names v1.0.0 keeps running it when the Promise moves to
// v2.0.0, starting no Job; changing the binding to latest alone moves it to v2.0.0, without any
// other change to the request or the Promise.
func TestResourceBindingPinsAndFollowsLatest(t *testing.T) {
	startPlatform(t)
	promise, group := workflowPromise(t, versionedRender("v1"))
	promise.Labels = map[string]string{v1alpha1.LabelPromiseVersion: "v1.0.0"}
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	pinned, free := thing(group, "r-pinned"), thing(group, "r-free")
	requests := []*unstructured.Unstructured{pinned, free}
	for _, r := range requests {
		create(t, r)
	}
	for _, r := range requests {
		waitForRequest(t, r, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
	}
	binding := &v1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "r-pinned-" + promise.Name, Namespace: "default", Labels: map[string]string{
			v1alpha1.LabelPromiseName: names.LabelValue(promise.Name), v1alpha1.LabelResourceName: "r-pinned",
		}},
		Spec: v1alpha1.ResourceBindingSpec{Version: "v1.0.0", PromiseRef: v1alpha1.PromiseRef{Name: promise.Name},
			ResourceRef: v1alpha1.ResourceRef{Name: "r-pinned", Namespace: "default"}},
	}
	create(t, binding)
	v1 := workContents(t, promise.Name, requests)
	jobs := requestJobCounts(t, promise.Name, requests)

	update(t, promise, func(p *v1alpha1.Promise) {
		p.Labels[v1alpha1.LabelPromiseVersion] = "v2.0.0"
		p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Args = []string{versionedRender("v2")}
	})
	waitForWorkVersion(t, promise.Name, free, "v2")
	if got := workContents(t, promise.Name, requests)["r-pinned"]; got != v1["r-pinned"] {
		t.Errorf("the pinned request's Work changed: %q, was %q", got, v1["r-pinned"])
	}
	if got := requestJobCounts(t, promise.Name, requests)["r-pinned"]; got != jobs["r-pinned"] {
		t.Errorf("the pinned request ran a Job: %d Jobs, were %d", got, jobs["r-pinned"])
	}

	update(t, binding, func(b *v1alpha1.ResourceBinding) { b.Spec.Version = v1alpha1.BindingVersionLatest })
	waitForWorkVersion(t, promise.Name, pinned, "v2")
}

// waitForWorkVersion waits until the request's Works are those of the pipeline's version.
func waitForWorkVersion(t *testing.T, promise string, r *unstructured.Unstructured, version string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("request %s's Work of %s", r.GetName(), version), func() error {
		if got := workContents(t, promise, []*unstructured.Unstructured{r})[r.GetName()]; !strings.Contains(got, "version: "+version) {
			return fmt.Errorf("Work %q", got)
		}
		return nil
	})
}
