package controllers

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// versionScript writes one file named after the version, so that a request's Works say which
// version of the Promise rendered them.
func versionScript(version string) string {
	return fmt.Sprintf(`set -eu
name=$(grep -m1 '^  name:' /kratix/input/object.yaml | awk '{print $2}')
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %%s-%[1]s\n  namespace: default\n' "$name" > /kratix/output/%[1]s.yaml`, version)
}

// brokenScript fails the pipeline.
const brokenScript = `echo 'version is broken' >&2; exit 1`

// versionedPromise is a workflowPromise labelled with the version, whose configure pipeline runs
// script.
func versionedPromise(t *testing.T, version, script string) (*v1alpha1.Promise, string) {
	t.Helper()
	p, group := workflowPromise(t, script)
	p.Labels = map[string]string{v1alpha1.LabelPromiseVersion: version}
	return p, group
}

// setPromiseVersion moves the Promise to a new version whose configure pipeline runs script.
func setPromiseVersion(t *testing.T, p *v1alpha1.Promise, version, script string) {
	t.Helper()
	update(t, p, func(p *v1alpha1.Promise) {
		p.Labels[v1alpha1.LabelPromiseVersion] = version
		p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Args = []string{script}
	})
}

// workFiles lists the files of the request's Works, sorted.
func workFiles(t *testing.T, promise string, obj *unstructured.Unstructured) []string {
	t.Helper()
	var files []string
	for _, l := range requestWorkloads(t, promise, obj) {
		files = append(files, l.Filepath)
	}
	slices.Sort(files)
	return files
}

// waitForFiles waits until the request's Works hold exactly the files.
func waitForFiles(t *testing.T, promise string, obj *unstructured.Unstructured, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("request %s's Works hold %v", obj.GetName(), want), func() error {
		if got := workFiles(t, promise, obj); !slices.Equal(got, want) {
			return fmt.Errorf("files %v", got)
		}
		return nil
	})
}

// bindingsOf lists the ResourceBindings of a request by their labels, as the engine finds them.
func bindingsOf(t *testing.T, promise string, obj *unstructured.Unstructured) []v1alpha1.ResourceBinding {
	t.Helper()
	var list v1alpha1.ResourceBindingList
	if err := env.Client.List(t.Context(), &list, client.InNamespace(obj.GetNamespace()), client.MatchingLabels{
		v1alpha1.LabelPromiseName: names.LabelValue(promise), v1alpha1.LabelResourceName: names.LabelValue(obj.GetName())}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitForBinding waits until the request has one ResourceBinding that passes check, and returns it.
func waitForBinding(t *testing.T, promise string, obj *unstructured.Unstructured, what string, check func(*v1alpha1.ResourceBinding) error) *v1alpha1.ResourceBinding {
	t.Helper()
	var got *v1alpha1.ResourceBinding
	waitFor(t, fmt.Sprintf("the binding of %s: %s", obj.GetName(), what), func() error {
		list := bindingsOf(t, promise, obj)
		if len(list) != 1 {
			return fmt.Errorf("%d bindings", len(list))
		}
		got = &list[0]
		return check(got)
	})
	return got
}

// upgradeState checks the binding's UpgradeSucceeded condition, lastAppliedVersion and
// failedVersion.
func upgradeState(status metav1.ConditionStatus, reason, applied, failed string) func(*v1alpha1.ResourceBinding) error {
	return func(b *v1alpha1.ResourceBinding) error {
		c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionUpgradeSucceeded)
		if c == nil || c.Status != status || c.Reason != reason || b.Status.LastAppliedVersion != applied || b.Status.FailedVersion != failed {
			return fmt.Errorf("status %+v", b.Status)
		}
		return nil
	}
}

// setBindingVersion points the request's binding at a version.
func setBindingVersion(t *testing.T, b *v1alpha1.ResourceBinding, version string) {
	t.Helper()
	update(t, b, func(b *v1alpha1.ResourceBinding) { b.Spec.Version = version })
}

// revisionState checks a PromiseRevision's latest flag and label.
func revisionState(t *testing.T, name string, latest bool) error {
	t.Helper()
	rev := &v1alpha1.PromiseRevision{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, rev); err != nil {
		return err
	}
	if rev.Status.Latest != latest || (rev.Labels[v1alpha1.LabelLatestRevision] == "true") != latest {
		return fmt.Errorf("revision %s: status.latest %v, labels %v; want latest %v", name, rev.Status.Latest, rev.Labels, latest)
	}
	return nil
}

// stable checks for a while that f keeps returning the same value.
func stable[T comparable](t *testing.T, what string, d time.Duration, f func() T) {
	t.Helper()
	first := f()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got := f(); got != first {
			t.Fatalf("%s changed from %v to %v", what, first, got)
		}
	}
}

// Upstream Kratix's "versions and bindings" lifecycle (test/system/promise_revision_test.go):
// a revision per version, the latest one moving; a binding per request following latest, its
// labels following the request's; a request pinned to a version keeps its output while another
// moves on, and moves up or down with its binding; a failing version fails the binding without
// running again until a retry asked on the binding; a working version recovers; deleted bindings
// come back with the version they had.
func TestResourceBindingLifecycle(t *testing.T) {
	startPlatform(t)
	promise, group := versionedPromise(t, "v1", versionScript("v1"))
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	v1, v2 := revisionName(promise.Name, "v1"), revisionName(promise.Name, "v2")
	waitFor(t, "revision v1 is the latest", func() error { return revisionState(t, v1, true) })

	first, second := thing(group, uniqueName("first")), thing(group, uniqueName("second"))
	first.SetLabels(map[string]string{"team": "blue"})
	create(t, first)
	create(t, second)
	for _, r := range []*unstructured.Unstructured{first, second} {
		waitForFiles(t, promise.Name, r, "v1.yaml")
		b := waitForBinding(t, promise.Name, r, "latest, at v1", func(b *v1alpha1.ResourceBinding) error {
			if b.Spec.Version != v1alpha1.BindingVersionLatest || b.Spec.PromiseRef.Name != promise.Name || b.Spec.ResourceRef.Name != r.GetName() {
				return fmt.Errorf("spec %+v", b.Spec)
			}
			return upgradeState(metav1.ConditionTrue, v1alpha1.ReasonUpgradeComplete, "v1", "")(b)
		})
		if b.Name != bindingName(r.GetName(), promise.Name) {
			t.Errorf("binding name %s", b.Name)
		}
		waitForNamespacedEvent(t, r.GetNamespace(), "Thing", r.GetName(), corev1.EventTypeNormal, v1alpha1.ReasonBindingCreated, func(string) bool { return true })
		waitFor(t, "status.resourceBindingVersion latest", func() error {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(r), r); err != nil {
				return err
			}
			if v := requestBindingVersion(r); v != v1alpha1.BindingVersionLatest {
				return fmt.Errorf("status.resourceBindingVersion %q: %v", v, r.Object["status"])
			}
			return nil
		})
	}

	t.Log("the binding's labels follow the request's")
	waitForBinding(t, promise.Name, first, "labelled team=blue", func(b *v1alpha1.ResourceBinding) error {
		if b.Labels["team"] != "blue" {
			return fmt.Errorf("labels %v", b.Labels)
		}
		return nil
	})
	update(t, first, func(o *unstructured.Unstructured) { o.SetLabels(map[string]string{"tier": "gold"}) })
	waitForBinding(t, promise.Name, first, "labelled tier=gold only", func(b *v1alpha1.ResourceBinding) error {
		if _, ok := b.Labels["team"]; ok || b.Labels["tier"] != "gold" {
			return fmt.Errorf("labels %v", b.Labels)
		}
		return nil
	})

	t.Log("pin the second request to v1, move the Promise to v2")
	setBindingVersion(t, &bindingsOf(t, promise.Name, second)[0], "v1")
	secondJobs := jobsOf(t, promise.Name, second.GetName(), "render")
	secondWorks, err := ResourceWorks(t.Context(), env.Client, promise.Name, second)
	if err != nil || len(secondWorks) != 1 {
		t.Fatalf("the second request's Works: %v, %v", secondWorks, err)
	}
	setPromiseVersion(t, promise, "v2", versionScript("v2"))
	waitFor(t, "revision v2 is the latest, v1 not", func() error {
		if err := revisionState(t, v2, true); err != nil {
			return err
		}
		return revisionState(t, v1, false)
	})
	waitForFiles(t, promise.Name, first, "v2.yaml")
	waitForBinding(t, promise.Name, first, "at v2", upgradeState(metav1.ConditionTrue, v1alpha1.ReasonUpgradeComplete, "v2", ""))
	stable(t, "the pinned request's Jobs", 2*time.Second, func() int { return jobsOf(t, promise.Name, second.GetName(), "render") })
	if got := jobsOf(t, promise.Name, second.GetName(), "render"); got != secondJobs {
		t.Errorf("the pinned request ran again: %d Jobs, had %d", got, secondJobs)
	}
	after, err := ResourceWorks(t.Context(), env.Client, promise.Name, second)
	if err != nil || len(after) != 1 || after[0].ResourceVersion != secondWorks[0].ResourceVersion {
		t.Errorf("the pinned request's Work changed: %v, %v", after, err)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(second), second); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := unstructured.NestedString(second.Object, "status", "promiseVersion"); v != "v1" {
		t.Errorf("the pinned request's status.promiseVersion %q", v)
	}

	t.Log("upgrade and downgrade the pinned request through its binding")
	setBindingVersion(t, &bindingsOf(t, promise.Name, second)[0], "v2")
	waitForFiles(t, promise.Name, second, "v2.yaml")
	waitForBinding(t, promise.Name, second, "at v2", upgradeState(metav1.ConditionTrue, v1alpha1.ReasonUpgradeComplete, "v2", ""))
	setBindingVersion(t, &bindingsOf(t, promise.Name, second)[0], "v1")
	waitForFiles(t, promise.Name, second, "v1.yaml")
	waitForBinding(t, promise.Name, second, "back at v1", upgradeState(metav1.ConditionTrue, v1alpha1.ReasonUpgradeComplete, "v1", ""))

	t.Log("a failing version fails the binding and does not run again by itself")
	setPromiseVersion(t, promise, "v3", brokenScript)
	failed := waitForBinding(t, promise.Name, first, "failed at v3", upgradeState(metav1.ConditionFalse, v1alpha1.ReasonUpgradeFailed, "v2", "v3"))
	if c := meta.FindStatusCondition(failed.Status.Conditions, v1alpha1.ConditionUpgradeSucceeded); c.Message == "" {
		t.Errorf("UpgradeFailed without the workflow's failure")
	}
	firstJobs := jobsOf(t, promise.Name, first.GetName(), "render")
	stable(t, "the failed request's Jobs", 3*time.Second, func() int { return jobsOf(t, promise.Name, first.GetName(), "render") })
	waitForFiles(t, promise.Name, first, "v2.yaml")

	t.Log("a retry asked on the binding runs the failed version again")
	update(t, failed, func(b *v1alpha1.ResourceBinding) { b.Labels[v1alpha1.LabelManualReconciliation] = "true" })
	waitFor(t, "a new Job of the failed version", func() error {
		if got := jobsOf(t, promise.Name, first.GetName(), "render"); got <= firstJobs {
			return fmt.Errorf("%d Jobs", got)
		}
		return nil
	})
	waitForBinding(t, promise.Name, first, "retry label gone, failed again", func(b *v1alpha1.ResourceBinding) error {
		if _, ok := b.Labels[v1alpha1.LabelManualReconciliation]; ok {
			return fmt.Errorf("labels %v", b.Labels)
		}
		return upgradeState(metav1.ConditionFalse, v1alpha1.ReasonUpgradeFailed, "v2", "v3")(b)
	})

	t.Log("a working version recovers")
	setPromiseVersion(t, promise, "v4", versionScript("v4"))
	waitForFiles(t, promise.Name, first, "v4.yaml")
	waitForBinding(t, promise.Name, first, "at v4", upgradeState(metav1.ConditionTrue, v1alpha1.ReasonUpgradeComplete, "v4", ""))

	t.Log("deleted bindings come back with the version they had")
	secondJobs = jobsOf(t, promise.Name, second.GetName(), "render")
	if err := env.Client.DeleteAllOf(t.Context(), &v1alpha1.ResourceBinding{}, client.InNamespace("default"),
		client.MatchingLabels{v1alpha1.LabelPromiseName: names.LabelValue(promise.Name)}); err != nil {
		t.Fatal(err)
	}
	for r, want := range map[*unstructured.Unstructured]string{first: v1alpha1.BindingVersionLatest, second: "v1"} {
		waitForBinding(t, promise.Name, r, "created again at "+want, func(b *v1alpha1.ResourceBinding) error {
			if b.Spec.Version != want {
				return fmt.Errorf("spec.version %q", b.Spec.Version)
			}
			return nil
		})
	}
	stable(t, "the pinned request's Jobs", time.Second, func() int { return jobsOf(t, promise.Name, second.GetName(), "render") })
	waitForFiles(t, promise.Name, second, "v1.yaml")
	if got := jobsOf(t, promise.Name, second.GetName(), "render"); got != secondJobs {
		t.Errorf("re-creating the binding ran the pinned request again: %d Jobs, had %d", got, secondJobs)
	}

	t.Log("deleting a request deletes its binding only")
	deleteAndWait(t, second)
	waitFor(t, "the second request's binding is gone", func() error {
		if n := len(bindingsOf(t, promise.Name, second)); n != 0 {
			return fmt.Errorf("%d bindings", n)
		}
		return nil
	})
	if n := len(bindingsOf(t, promise.Name, first)); n != 1 {
		t.Errorf("the first request has %d bindings", n)
	}
}

// A binding created before its request is adopted: the request runs the version the binding
// names, and has that binding only. Its delete workflow is the one of the version it applied,
// not the Promise's current one, and its binding goes with it.
func TestResourceBindingAdoptedAndDeleteUsesAppliedVersion(t *testing.T) {
	startPlatform(t)
	promise, group := versionedPromise(t, "v1", versionScript("v1"))
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	// v2's delete workflow fails: a request deleted with it would stay.
	update(t, promise, func(p *v1alpha1.Promise) {
		p.Labels[v1alpha1.LabelPromiseVersion] = "v2"
		p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0].Args = []string{versionScript("v2")}
		p.Spec.Workflows.Resource.Delete[0].Spec.Containers[0].Args = []string{brokenScript}
	})
	waitFor(t, "revision v2 is the latest", func() error { return revisionState(t, revisionName(promise.Name, "v2"), true) })

	request := thing(group, uniqueName("early"))
	binding := &v1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("handmade"), Namespace: "default", Labels: map[string]string{
			v1alpha1.LabelPromiseName: names.LabelValue(promise.Name), v1alpha1.LabelResourceName: names.LabelValue(request.GetName())}},
		Spec: v1alpha1.ResourceBindingSpec{Version: "v1", PromiseRef: v1alpha1.PromiseRef{Name: promise.Name},
			ResourceRef: v1alpha1.ResourceRef{Name: request.GetName(), Namespace: "default"}},
	}
	create(t, binding)
	if err := env.Client.Create(t.Context(), request); err != nil {
		t.Fatal(err)
	}
	waitForFiles(t, promise.Name, request, "v1.yaml")
	got := waitForBinding(t, promise.Name, request, "at v1", upgradeState(metav1.ConditionTrue, v1alpha1.ReasonUpgradeComplete, "v1", ""))
	if got.Name != binding.Name {
		t.Errorf("the request's binding is %s, want the one made before it, %s", got.Name, binding.Name)
	}
	var all v1alpha1.ResourceBindingList
	if err := env.Client.List(t.Context(), &all, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range all.Items {
		if b.Spec.ResourceRef.Name == request.GetName() {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d bindings name the request", n)
	}

	deleteAndWait(t, request) // stuck if v2's failing delete workflow ran
	waitFor(t, "the adopted binding is gone", func() error {
		if n := len(bindingsOf(t, promise.Name, request)); n != 0 {
			return fmt.Errorf("%d bindings", n)
		}
		return nil
	})
}

// Deleting an older PromiseRevision deletes the requests bound to its version (upstream's
// kratix.io/resource-request-cleanup finalizer), unless the revision carries
// kratix.io/skip-resource-request-cleanup-on-delete=true; requests on other versions stay.
func TestDeletingARevisionDeletesItsRequests(t *testing.T) {
	startPlatform(t)
	promise, group := versionedPromise(t, "v1", versionScript("v1"))
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	onV1, onV2, onLatest := thing(group, uniqueName("on-v1")), thing(group, uniqueName("on-v2")), thing(group, uniqueName("on-latest"))
	for _, r := range []*unstructured.Unstructured{onV1, onV2, onLatest} {
		create(t, r)
		waitForFiles(t, promise.Name, r, "v1.yaml")
	}
	setBindingVersion(t, &bindingsOf(t, promise.Name, onV1)[0], "v1")
	setPromiseVersion(t, promise, "v2", versionScript("v2"))
	waitForFiles(t, promise.Name, onV2, "v2.yaml")
	setBindingVersion(t, &bindingsOf(t, promise.Name, onV2)[0], "v2")
	setPromiseVersion(t, promise, "v3", versionScript("v3"))
	waitForFiles(t, promise.Name, onLatest, "v3.yaml")

	revisions := map[string]*v1alpha1.PromiseRevision{}
	for _, v := range []string{"v1", "v2"} {
		rev := &v1alpha1.PromiseRevision{ObjectMeta: metav1.ObjectMeta{Name: revisionName(promise.Name, v)}}
		waitFor(t, "revision "+v+" has the request cleanup finalizer", func() error {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(rev), rev); err != nil {
				return err
			}
			if !slices.Contains(rev.Finalizers, v1alpha1.FinalizerRevisionRequestCleanup) {
				return fmt.Errorf("finalizers %v", rev.Finalizers)
			}
			return nil
		})
		revisions[v] = rev
	}
	update(t, revisions["v2"], func(r *v1alpha1.PromiseRevision) {
		r.Annotations = map[string]string{v1alpha1.AnnotationSkipRequestCleanup: "true"}
	})
	deleteAndWait(t, revisions["v2"])
	deleteAndWait(t, revisions["v1"])
	waitFor(t, "the request bound to v1 is gone", func() error {
		err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(onV1), onV1)
		if err == nil {
			return fmt.Errorf("still there")
		}
		return client.IgnoreNotFound(err)
	})
	for _, r := range []*unstructured.Unstructured{onV2, onLatest} {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(r), r); err != nil || !r.GetDeletionTimestamp().IsZero() {
			t.Errorf("request %s: %v, deletion %v", r.GetName(), err, r.GetDeletionTimestamp())
		}
	}
}
