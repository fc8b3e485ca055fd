package controllers

import (
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// waitForRequirements waits until the Promise's status.requiredPromises holds the states, by
// name, and returns the Promise.
func waitForRequirements(t *testing.T, p *v1alpha1.Promise, want map[string]string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("Promise %s requirements %v", p.Name, want), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		got := map[string]string{}
		for _, r := range p.Status.RequiredPromises {
			got[r.Name] = r.State
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("status.requiredPromises = %+v", p.Status.RequiredPromises)
		}
		return nil
	})
}

// A Promise whose required Promises are missing, at another version or unavailable is
// Unavailable, says what is missing, and its requests wait without running their workflow; it
// converges once they arrive, and is Unavailable again when one goes.
func TestRequiredPromisesHoldAPromiseUnavailable(t *testing.T) {
	startPlatform(t)
	f := newGitFixture(t)
	exampleStore(t, f, "updates/destinations.yaml")

	db, ing := uniqueName("db"), uniqueName("ing")
	app, group := workflowPromise(t, renderScript)
	app.Spec.RequiredPromises = []v1alpha1.RequiredPromise{{Name: db, Version: "v2"}, {Name: ing}}
	if err := env.Client.Create(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	// Its request's Work asks for environment: dev, which later tests' Destinations also have.
	t.Cleanup(func() { deleteAndWait(t, app) })
	c := waitForPromise(t, app, v1alpha1.ConditionRequirementsFulfilled, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotInstalled)
	for _, want := range []string{db + " v2 is not installed", ing + " is not installed"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("RequirementsFulfilled message %q does not say %q", c.Message, want)
		}
	}
	waitForPromise(t, app, v1alpha1.ConditionAvailable, metav1.ConditionFalse, v1alpha1.ReasonRequirementsUnmet)
	waitForRequirements(t, app, map[string]string{db: v1alpha1.RequirementStateNotInstalled, ing: v1alpha1.RequirementStateNotInstalled})
	if app.Status.Status != "Unavailable" {
		t.Errorf("status.status = %q", app.Status.Status)
	}
	if out := kubectl(t, "get", "promise", app.Name); !strings.Contains(out, "Unavailable") || !strings.Contains(out, db) {
		t.Errorf("kubectl get promise:\n%s", out)
	}

	// The API is served, but a request waits: no Job runs for it.
	req := thing(group, "waiting")
	waitFor(t, "the API to be served", func() error {
		if err := env.Client.Create(t.Context(), req); err != nil {
			_ = env.Client.Get(t.Context(), client.ObjectKeyFromObject(app), app)
			return fmt.Errorf("%w (Promise status %+v)", err, app.Status)
		}
		return nil
	})
	rc := waitForRequest(t, req, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotFulfilled)
	if !strings.Contains(rc.Message, ing+" is not installed") {
		t.Errorf("request's Ready message %q does not name what is missing", rc.Message)
	}
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.MatchingLabels{
		v1alpha1.LabelPromiseName: app.Name, v1alpha1.LabelWorkflowType: v1alpha1.WorkflowTypeResource,
	}); err != nil || len(jobs.Items) != 0 {
		t.Fatalf("the waiting request ran %d Jobs (%v)", len(jobs.Items), err)
	}

	// The required Promises arrive; one at the wrong version.
	dbPromise := apiPromise(t, db, db+".example.com", "Database", "size")
	dbPromise.Labels = map[string]string{v1alpha1.LabelPromiseVersion: "v1"}
	ingPromise := apiPromise(t, ing, ing+".example.com", "Ingress", "host")
	for _, p := range []*v1alpha1.Promise{dbPromise, ingPromise} {
		if err := env.Client.Create(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, p) })
	}
	waitForRequirements(t, app, map[string]string{db: v1alpha1.RequirementStateNotInstalledAtSpecifiedVersion, ing: v1alpha1.RequirementStateInstalled})
	c = waitForPromise(t, app, v1alpha1.ConditionRequirementsFulfilled, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotInstalled)
	if !strings.Contains(c.Message, db+" v2 is installed at another version") || strings.Contains(c.Message, ing) {
		t.Errorf("RequirementsFulfilled message %q", c.Message)
	}

	// At the right version everything converges: the request's workflow runs.
	update(t, dbPromise, func(p *v1alpha1.Promise) { p.Labels[v1alpha1.LabelPromiseVersion] = "v2" })
	waitForPromise(t, app, v1alpha1.ConditionRequirementsFulfilled, metav1.ConditionTrue, v1alpha1.ReasonRequirementsInstalled)
	waitForPromise(t, app, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	waitForRequirements(t, app, map[string]string{db: v1alpha1.RequirementStateInstalled, ing: v1alpha1.RequirementStateInstalled})
	waitForRequest(t, req, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	path := "dev-cluster-1/resources/default/" + app.Name + "/waiting/render/5058f/configmap.yaml"
	if got := f.show(t, path); !strings.Contains(got, "name: waiting") {
		t.Errorf("%s = %q", path, got)
	}

	// A required Promise goes: the Promise is Unavailable again, its requests wait again.
	deleteAndWait(t, ingPromise)
	c = waitForPromise(t, app, v1alpha1.ConditionRequirementsFulfilled, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotInstalled)
	if !strings.Contains(c.Message, ing+" is not installed") {
		t.Errorf("RequirementsFulfilled message %q", c.Message)
	}
	waitForPromise(t, app, v1alpha1.ConditionAvailable, metav1.ConditionFalse, v1alpha1.ReasonRequirementsUnmet)
	update(t, req, func(o *unstructured.Unstructured) {
		o.Object["spec"] = map[string]any{"color": "green"}
	})
	waitForRequest(t, req, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRequirementsNotFulfilled)

	// A Promise that no longer requires anything drops the condition and the list.
	update(t, app, func(p *v1alpha1.Promise) { p.Spec.RequiredPromises = nil })
	waitForPromise(t, app, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionRequirementsFulfilled) != nil || len(app.Status.RequiredPromises) != 0 {
		t.Errorf("status kept the requirements: %+v", app.Status)
	}
	waitForRequest(t, req, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
}
