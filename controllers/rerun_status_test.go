package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
)

// A Promise update re-runs a Ready request quietly: a short re-run leaves the request Ready all
// along, writes its outcome alone and records no Event; a re-run that lasts longer than the
// delay says so (Ready False, PipelinesInProgress, with an Event) before its outcome.
func TestRerunOfAReadyRequest(t *testing.T) {
	// readyRequest starts a platform with the delay and a Promise whose pipeline sleeps $SLEEP,
	// and returns it with a request that is Ready.
	readyRequest := func(t *testing.T, delay time.Duration) (*v1alpha1.Promise, *unstructured.Unstructured) {
		startPlatformWith(t, Options{DefaultMaxConcurrentReconciles: 2, RerunStatusDelay: delay})
		exampleStore(t, newGitFixture(t), "updates/destinations.yaml")
		promise, group := workflowPromise(t, renderScript+"\nsleep \"${SLEEP:-0}\"")
		create(t, promise)
		waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
		request := thing(group, uniqueName("rerun"))
		create(t, request)
		waitForRequest(t, request, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
		return promise, request
	}

	t.Run("short", func(t *testing.T) {
		// A minute: longer than a short run takes on the busiest machine.
		promise, request := readyRequest(t, time.Minute)
		before, since := requestSpecHash(request), time.Now()
		setPipelineEnv(t, promise, "VERSION", "2")
		var seen []string
		waitFor(t, "the request re-ran for the new spec", func() error {
			ready := readyOf(t, request)
			if ready == nil || ready.Status != metav1.ConditionTrue {
				seen = append(seen, fmt.Sprintf("%v", ready))
			}
			if requestSpecHash(request) == before || ready == nil || ready.Status != metav1.ConditionTrue {
				return fmt.Errorf("spec %s, Ready %v", requestSpecHash(request), ready)
			}
			return nil
		})
		if len(seen) > 0 {
			t.Errorf("a short re-run showed the request not Ready: %v", seen)
		}
		for _, e := range namespacedEventsOf(t, "default", "Thing", request.GetName()) {
			if e.EventTime.After(since) {
				t.Errorf("a short re-run recorded an Event: %s %s: %s", e.Type, e.Reason, e.Note)
			}
		}
	})

	t.Run("long", func(t *testing.T) {
		const delay = 3 * time.Second
		promise, request := readyRequest(t, delay)
		before, since := requestSpecHash(request), time.Now()
		// Longer than the local runner's 10 s before it writes a Job's start (StartStatusDelay).
		setPipelineEnv(t, promise, "SLEEP", "15")
		progress := waitForRequest(t, request, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPipelinesInProgress)
		// Transition times are to the second.
		if shown := progress.LastTransitionTime.Sub(since); shown < delay-time.Second {
			t.Errorf("the long re-run showed after %s, before the delay of %s", shown, delay)
		}
		waitForNamespacedEvent(t, "default", "Thing", request.GetName(), "Normal", v1alpha1.ReasonPipelinesInProgress, func(string) bool { return true })
		waitForRequest(t, request, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
		if requestSpecHash(request) == before {
			t.Errorf("the request is Ready with the spec it ran before the update")
		}
	})
}

// readyOf reads the request again and returns its Ready condition.
func readyOf(t *testing.T, obj *unstructured.Unstructured) *metav1.Condition {
	t.Helper()
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	conds, err := conditions.FromUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
}

// setPipelineEnv sets an environment variable of the container of the Promise's resource
// configure pipeline: a change of the Promise's spec, which re-runs its requests.
func setPipelineEnv(t *testing.T, promise *v1alpha1.Promise, name, value string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(promise), promise); err != nil {
			return err
		}
		c := &promise.Spec.Workflows.Resource.Configure[0].Spec.Containers[0]
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env = append(c.Env[:i], c.Env[i+1:]...)
				break
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
		return env.Client.Update(t.Context(), promise)
	})
	if err != nil {
		t.Fatalf("set %s=%s in Promise %s: %v", name, value, promise.Name, err)
	}
}
