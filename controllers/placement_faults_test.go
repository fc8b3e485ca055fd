package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// onlyPlacement waits until the Work has exactly one placement and returns it.
func onlyPlacement(t *testing.T, work *v1alpha1.Work) *v1alpha1.WorkPlacement {
	t.Helper()
	wps := waitForPlacements(t, work, "one placement", func(wps []v1alpha1.WorkPlacement) error {
		if len(wps) != 1 {
			return fmt.Errorf("placements %v", placementNames(wps))
		}
		return nil
	})
	return &wps[0]
}

// writtenWork creates a Promise-level Work of pipeline configure with one file holding manifest,
// for the one Destination that selector matches, and waits until its placement is written.
func writtenWork(t *testing.T, namespace string, selector map[string]string, manifest string) (*v1alpha1.Work, *v1alpha1.WorkPlacement) {
	t.Helper()
	work := newWork(t, namespace, "", rootGroup(t, selector, manifest))
	work.Spec.PipelineName = "configure"
	createWork(t, work)
	wp := onlyPlacement(t, work)
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	return work, wp
}

// releaseOnFailure removes the finalizers of obj, if it is still there, when the test has failed
// and its cleanups run (the ones registered before this one run after it): an object stuck on a
// finalizer would otherwise outlive the test, and its Work's and placements' cleanups would wait
// on it too.
func releaseOnFailure(t *testing.T, obj client.Object) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		probe := obj.DeepCopyObject().(client.Object)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), probe); err != nil {
				return err
			}
			if len(probe.GetFinalizers()) == 0 {
				return nil
			}
			t.Logf("the test failed: removing the finalizers %v of %T %s", probe.GetFinalizers(), obj, obj.GetName())
			probe.SetFinalizers(nil)
			return env.Client.Update(context.Background(), probe)
		})
		if client.IgnoreNotFound(err) != nil {
			t.Errorf("release %T %s: %v", obj, obj.GetName(), err)
		}
	})
}

// When the Git server is down, a placement that needs a write says WriteSucceeded=False with
// reason WriteFailed and a Warning Event; when it is back, the placement recovers without help
// and every change made during the outage is in Git.
func TestPlacementRecoversWhenGitServerIsBack(t *testing.T) {
	startManager(t)
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	selector := map[string]string{"site": uniqueName("outage")}
	dest := readyDestinationOn(t, store, uniqueName("dest"), selector)
	work, wp := writtenWork(t, ns, selector, namespaceManifest("v1"))
	dir := dest.Spec.Path + "/dependencies/namespace/configure/" + wp.Spec.ID[:5]
	if got := f.show(t, dir+"/manifest.yaml"); got != namespaceManifest("v1") {
		t.Fatalf("manifest before the outage = %q", got)
	}
	v1Commit := wp.Status.VersionID

	if err := f.server.Stop(); err != nil {
		t.Fatalf("stop the Git server: %v", err)
	}
	// Should the test stop early, the placements still need the server to be deleted; Restart
	// fails harmlessly when the server is already running.
	t.Cleanup(func() { _ = f.server.Restart() })

	update(t, work, func(w *v1alpha1.Work) {
		w.Spec.WorkloadGroups = []v1alpha1.WorkloadGroup{rootGroup(t, selector, namespaceManifest("v2"))}
	})
	want := work.Spec.WorkloadGroups[0].Workloads
	waitForPlacements(t, work, "the placement holds v2", func(wps []v1alpha1.WorkPlacement) error {
		if len(wps) != 1 || !equality.Semantic.DeepEqual(wps[0].Spec.Workloads, want) {
			return fmt.Errorf("placements %v", placementNames(wps))
		}
		return nil
	})
	cond := waitForPlacement(t, wp, v1alpha1.ConditionWriteSucceeded, metav1.ConditionFalse, v1alpha1.ReasonWriteFailed)
	if !strings.Contains(cond.Message, dest.Name) {
		t.Errorf("WriteSucceeded message does not name the Destination %s: %q", dest.Name, cond.Message)
	}
	if strings.Contains(cond.Message, f.server.Password()) {
		t.Errorf("WriteSucceeded message holds the password: %q", cond.Message)
	}
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonWriteFailed)
	waitForNamespacedEvent(t, ns, "WorkPlacement", wp.Name, corev1.EventTypeWarning, v1alpha1.ReasonWriteFailed,
		func(note string) bool { return strings.Contains(note, dest.Name) })

	// A second Work, of another Promise, during the outage.
	other := newWork(t, ns, "", rootGroup(t, selector, namespaceManifest("other")))
	other.Spec.PromiseName = "other"
	other.Spec.PipelineName = "configure"
	createWork(t, other)
	otherWP := onlyPlacement(t, other)
	waitForPlacement(t, otherWP, v1alpha1.ConditionWriteSucceeded, metav1.ConditionFalse, v1alpha1.ReasonWriteFailed)

	if err := f.server.Restart(); err != nil {
		t.Fatalf("restart the Git server: %v", err)
	}
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	waitForPlacement(t, otherWP, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	checkCondition(t, wp.Status.Conditions, v1alpha1.ConditionWriteSucceeded, wantCondition{metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded, dir})
	waitForNamespacedEvent(t, ns, "WorkPlacement", wp.Name, corev1.EventTypeNormal, v1alpha1.ReasonWriteSucceeded, func(string) bool { return true })

	if got := f.show(t, dir+"/manifest.yaml"); got != namespaceManifest("v2") {
		t.Errorf("manifest after the outage = %q, want v2", got)
	}
	otherFile := dest.Spec.Path + "/dependencies/other/configure/" + otherWP.Spec.ID[:5] + "/manifest.yaml"
	if got := f.show(t, otherFile); got != namespaceManifest("other") {
		t.Errorf("the second Work's manifest = %q", got)
	}
	for _, p := range canaryPaths(dest.Spec.Path) {
		if !slices.Contains(f.files(t), p) {
			t.Errorf("canary file %s is gone", p)
		}
	}
	if got, err := f.git(t, "show", v1Commit+":"+dir+"/manifest.yaml"); err != nil || got != namespaceManifest("v1") {
		t.Errorf("the v1 commit %s lost its manifest: %q, %v", v1Commit, got, err)
	}
	if _, err := f.git(t, "merge-base", "--is-ancestor", v1Commit, "main"); err != nil {
		t.Errorf("the v1 commit %s is no longer on main: %v", v1Commit, err)
	}
	for _, w := range []*v1alpha1.WorkPlacement{wp, otherWP} {
		if _, err := f.git(t, "merge-base", "--is-ancestor", w.Status.VersionID, "main"); err != nil {
			t.Errorf("placement %s's versionID %s is not on main: %v", w.Name, w.Status.VersionID, err)
		}
	}
}

// A GitStateStore whose Secret does not exist is not Ready (SecretNotFound); its Destination and
// the placements on it wait with a reason that says so, and nothing is written. Creating the
// Secret makes all of them Ready and writes the files.
func TestPlacementWaitsForTheStoreSecret(t *testing.T) {
	startManager(t)
	ns := metav1.NamespaceDefault
	f := newGitFixture(t)
	secret := &corev1.Secret{
		ObjectMeta: storeSecretMeta(t, uniqueName("git-creds")),
		Data: map[string][]byte{
			v1alpha1.SecretKeyUsername: []byte(f.server.Username()),
			v1alpha1.SecretKeyPassword: []byte(f.server.Password()),
		},
	}
	// Deleted after everything else: the placements need a ready store to remove their files.
	t.Cleanup(func() { deleteAndWait(t, secret) })
	store := f.gitStore(uniqueName("git"), secret.Name)
	create(t, store)
	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	if !strings.Contains(cond.Message, secret.Namespace+"/"+secret.Name) {
		t.Errorf("Ready message does not name the Secret: %q", cond.Message)
	}
	if store.Status.Status != v1alpha1.StateStoreStatusNotReady {
		t.Errorf("status.status %q, want %q", store.Status.Status, v1alpha1.StateStoreStatusNotReady)
	}
	waitForEvent(t, v1alpha1.KindGitStateStore, store.Name, corev1.EventTypeWarning, v1alpha1.ReasonSecretNotFound)

	selector := map[string]string{"site": uniqueName("locked")}
	dest := destination(v1alpha1.KindGitStateStore, store.Name, "locked")
	dest.Labels = selector
	create(t, dest)
	cond = waitForCondition(t, dest, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)
	if !strings.Contains(cond.Message, store.Name) || !strings.Contains(cond.Message, v1alpha1.ReasonSecretNotFound) {
		t.Errorf("the Destination's Ready message does not say that the store lacks its Secret: %q", cond.Message)
	}
	work := newWork(t, ns, "my-request", rootGroup(t, selector, namespaceManifest("foo")))
	work.Spec.PipelineName = "instance-configure"
	createWork(t, work)
	wp := onlyPlacement(t, work)
	cond = waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)
	if !strings.Contains(cond.Message, dest.Name) || !strings.Contains(cond.Message, store.Name) {
		t.Errorf("the placement's Ready message does not name the Destination and the store: %q", cond.Message)
	}
	checkCondition(t, wp.Status.Conditions, v1alpha1.ConditionWriteSucceeded, wantCondition{metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady, store.Name})
	waitForWorkCondition(t, work, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPlacementsPending)
	if got := f.files(t); len(got) != 0 {
		t.Errorf("files written without credentials: %v", got)
	}

	if err := env.Client.Create(t.Context(), secret); err != nil {
		t.Fatalf("create the Secret: %v", err)
	}
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	waitForWorkCondition(t, work, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllPlacementsReady)
	file := "locked/resources/" + ns + "/namespace/my-request/instance-configure/" + wp.Spec.ID[:5] + "/manifest.yaml"
	if got := f.show(t, file); got != namespaceManifest("foo") {
		t.Errorf("%s = %q", file, got)
	}
	if got, want := f.files(t), append(canaryPaths("locked"), file); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("files on main = %v, want %v", got, want)
	}
}

// A Destination whose store cannot be written to (its Secret is missing) can be deleted while
// placements on it wait, with either cleanup policy, and so can the Work and the placements
// afterwards: nothing is left behind on a finalizer.
func TestPlacementDeletionCompletesWhileStoreNotReady(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.gitStore(uniqueName("git"), uniqueName("no-such-secret"))
	create(t, store)
	waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)

	for _, cleanup := range []string{v1alpha1.DestinationCleanupNone, v1alpha1.DestinationCleanupAll} {
		t.Run("cleanup "+cleanup, func(t *testing.T) {
			ns := v1alpha1.DefaultPlatformNS
			ensureNamespace(t, ns)
			selector := map[string]string{"site": uniqueName("pending")}
			dest := destination(v1alpha1.KindGitStateStore, store.Name, "pending-"+cleanup)
			dest.Labels = selector
			dest.Spec.Cleanup = cleanup
			create(t, dest)
			waitForCondition(t, dest, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)
			work := newWork(t, ns, "", rootGroup(t, selector, namespaceManifest("foo")))
			work.Spec.PipelineName = "configure"
			createWork(t, work)
			releaseOnFailure(t, dest)
			wp := onlyPlacement(t, work)
			waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)

			deleteAndWait(t, dest)
			deleteAndWait(t, work)
			for _, wp := range listPlacements(t, work) {
				deleteAndWait(t, &wp)
			}
			if left := listPlacements(t, work); len(left) != 0 {
				t.Errorf("placements left: %v", placementNames(left))
			}
			if got := f.files(t); len(got) != 0 {
				t.Errorf("files written to a store without credentials: %v", got)
			}
		})
	}
}
