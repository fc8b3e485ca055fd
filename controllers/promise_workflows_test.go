package controllers

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kratix.dev/kratix/api/v1alpha1"
)

// configMapPath is where the workflows example's pipeline output for a request lands.
func configMapPath(dest, request string) string {
	return dest + "/resources/default/appconfig/" + request + "/render/5058f/configmap.yaml"
}

// The workflows scenario (examples/workflows/README.md): three requests each commit a
// ConfigMap; bumping RENDER_VERSION in the Promise re-runs every request's workflow and every
// ConfigMap says "2"; deleting a request removes its directory in a delete commit.
func TestPromiseWorkflowsExample(t *testing.T) {
	startPlatform(t)
	f := newGitFixture(t)
	exampleStore(t, f, "updates/destinations.yaml")
	promise := examplePromise(t, "workflows/configmap-promise.yaml")
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if promise.Status.Kind != "AppConfig" || promise.Status.APIVersion != "example.platform.io/v1" {
		t.Errorf("status kind %q apiVersion %q", promise.Status.Kind, promise.Status.APIVersion)
	}

	hello := exampleRequests(t, "workflows/configmap-request.yaml")[0]
	requests := []*unstructured.Unstructured{hello}
	for _, name := range []string{"second", "third"} {
		r := hello.DeepCopy()
		r.SetName(name)
		requests = append(requests, r)
	}
	for _, r := range requests {
		create(t, r)
	}
	for _, r := range requests {
		waitForRequest(t, r, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
		if msg, _, _ := unstructured.NestedString(r.Object, "status", "message"); msg != "rendered by version 1" {
			t.Errorf("%s: status.message %q", r.GetName(), msg)
		}
		waitForConfigMap(t, f, r.GetName(), `renderVersion: "1"`)
	}

	update(t, promise, func(p *v1alpha1.Promise) {
		p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Env[0].Value = "2"
	})
	for _, r := range requests {
		waitForConfigMap(t, f, r.GetName(), `renderVersion: "2"`)
		waitFor(t, r.GetName()+" to say version 2", func() error {
			waitForRequest(t, r, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
			if msg, _, _ := unstructured.NestedString(r.Object, "status", "message"); msg != "rendered by version 2" {
				return fmt.Errorf("status.message %q", msg)
			}
			return nil
		})
	}

	gone := requests[2]
	deleteAndWait(t, gone)
	dir := "dev-cluster-1/resources/default/appconfig/" + gone.GetName()
	if got := f.filesUnder(t, dir); len(got) != 0 {
		t.Errorf("files left under %s: %v", dir, got)
	}
	if got := f.lastSubject(t, dir); !strings.HasPrefix(got, "kratix: delete dev-cluster-1: appconfig/default/"+gone.GetName()) {
		t.Errorf("the last commit under %s is %q, not a delete", dir, got)
	}
	for _, r := range requests[:2] {
		waitForConfigMap(t, f, r.GetName(), `renderVersion: "2"`)
	}
}

// waitForConfigMap waits until the request's ConfigMap in Git holds want.
func waitForConfigMap(t *testing.T, f *gitFixture, request, want string) {
	t.Helper()
	path := configMapPath("dev-cluster-1", request)
	waitFor(t, fmt.Sprintf("%s to hold %s", path, want), func() error {
		out, err := f.git(t, "show", "main:"+path)
		if err != nil || !strings.Contains(out, want) {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
}
