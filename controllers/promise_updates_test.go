package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// exampleStore creates the GitStateStore "default" of the examples on the fixture, and the
// example's Destinations one after another, each once the one before is Ready: each Destination's
// test documents then have a commit of their own, as in the README (created together, the writer
// may batch them into one).
func exampleStore(t *testing.T, f *gitFixture, destinations string) []*v1alpha1.Destination {
	t.Helper()
	secret := basicAuthSecret(t, uniqueName("git-creds"), f.server.Username(), f.server.Password())
	store := f.gitStore("default", secret.Name)
	create(t, store)
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	var dests []*v1alpha1.Destination
	for _, obj := range exampleObjects(t, destinations) {
		d := &v1alpha1.Destination{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, d); err != nil {
			t.Fatal(err)
		}
		create(t, d)
		waitForCondition(t, d, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
		dests = append(dests, d)
	}
	return dests
}

// The seed page's "Updates" scenario (examples/updates/README.md) through the real
// controllers: a Promise's static dependency goes to dev; the updated Promise sends a new one to
// prod, leaving dev's misscheduled and frozen; deleting the misscheduled placements removes foo
// in a commit of its own.
func TestPromiseUpdatesExample(t *testing.T) {
	startPlatform(t)
	f := newGitFixture(t)
	exampleStore(t, f, "updates/destinations.yaml")

	promise := examplePromise(t, "updates/promise-v1.yaml")
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	const devFile = "dev-cluster-1/dependencies/promise-name/5058f/static/promise-name-dependencies.yaml"
	var foo string
	waitFor(t, "foo under dev-cluster-1", func() error {
		out, err := f.git(t, "show", "main:"+devFile)
		if err != nil || !strings.Contains(out, "name: foo") {
			return fmt.Errorf("%s: %q, %v", devFile, out, err)
		}
		foo = out
		return nil
	})
	if got := f.filesUnder(t, "prod-cluster-1/dependencies/promise-name"); len(got) != 0 {
		t.Errorf("prod-cluster-1 got the dev dependency: %v", got)
	}

	v2 := examplePromise(t, "updates/promise-v2.yaml")
	update(t, promise, func(p *v1alpha1.Promise) { p.Spec = v2.Spec })
	const prodFile = "prod-cluster-1/dependencies/promise-name/5058f/static/promise-name-dependencies.yaml"
	waitFor(t, "bar under prod-cluster-1", func() error {
		out, err := f.git(t, "show", "main:"+prodFile)
		if err != nil || !strings.Contains(out, "name: bar") {
			return fmt.Errorf("%s: %q, %v", prodFile, out, err)
		}
		return nil
	})
	if got := f.show(t, devFile); got != foo {
		t.Errorf("dev-cluster-1's file changed:\n%s\nwas:\n%s", got, foo)
	}
	var wps v1alpha1.WorkPlacementList
	waitFor(t, "the dev placement to be misscheduled", func() error {
		if err := env.Client.List(t.Context(), &wps, client.MatchingLabels{v1alpha1.LabelMisscheduled: v1alpha1.LabelMisscheduledValue}); err != nil {
			return err
		}
		if len(wps.Items) != 1 || wps.Items[0].Spec.TargetDestinationName != "dev-cluster-1" {
			return fmt.Errorf("misscheduled placements: %v", placementNames(wps.Items))
		}
		return nil
	})
	out := kubectl(t, "get", "workplacements", "-A", "--show-labels")
	if !strings.Contains(out, "kratix.io/misscheduled=true") || !strings.Contains(out, "prod-cluster-1") {
		t.Errorf("kubectl get workplacements -A --show-labels:\n%s", out)
	}

	kubectl(t, "delete", "workplacements", "-A", "-l", "kratix.io/misscheduled=true")
	waitFor(t, "foo to leave dev-cluster-1", func() error {
		if got := f.filesUnder(t, "dev-cluster-1/dependencies/promise-name"); len(got) != 0 {
			return fmt.Errorf("still there: %v", got)
		}
		return nil
	})
	log, err := f.git(t, "log", "--format=%s", "main", "--", "dev-cluster-1")
	if err != nil {
		t.Fatal(err)
	}
	subjects := strings.Split(strings.TrimSpace(log), "\n")
	want := []string{"kratix: delete dev-cluster-1: promise-name", "kratix: update dev-cluster-1: promise-name", "kratix: update dev-cluster-1"}
	if !slices.Equal(subjects, want) {
		t.Errorf("git log -- dev-cluster-1:\n%s\nwant:\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"))
	}
}
