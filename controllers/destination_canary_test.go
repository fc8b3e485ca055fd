package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

var canaryFiles = []string{"dependencies/kratix-canary-namespace.yaml", "resources/kratix-canary-configmap.yaml"}

// destination returns a Destination (not created) of the store at path.
func destination(kind, store, path string) *v1alpha1.Destination {
	return &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("dest"), Labels: map[string]string{"environment": "dev"}},
		Spec: v1alpha1.DestinationSpec{
			StateStoreRef: v1alpha1.StateStoreReference{Kind: kind, Name: store},
			Path:          path,
		},
	}
}

// withPrefix returns the canary files under dir.
func canaryPaths(dir string) []string {
	out := make([]string, 0, len(canaryFiles))
	for _, f := range canaryFiles {
		out = append(out, dir+"/"+f)
	}
	return out
}

// A Destination on a ready Git store gets its canary files in one commit that names it, and
// Ready=True TestDocumentsWritten; a later reconcile that changes nothing commits nothing.
func TestDestinationWritesCanaryFilesToGit(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	dest := destination(v1alpha1.KindGitStateStore, store.Name, "dev-1")
	create(t, dest)

	cond := waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	if cond.ObservedGeneration != dest.Generation {
		t.Errorf("observedGeneration = %d, want %d", cond.ObservedGeneration, dest.Generation)
	}
	if got, want := f.files(t), canaryPaths("dev-1"); !slices.Equal(got, want) {
		t.Errorf("files on main = %v, want %v", got, want)
	}
	subject, err := f.git(t, "log", "-1", "--format=%s", "main")
	if err != nil {
		t.Fatal(err)
	}
	if want := "kratix: update " + dest.Name; strings.TrimSpace(subject) != want {
		t.Errorf("commit subject %q, want %q", strings.TrimSpace(subject), want)
	}
	if !slices.Contains(dest.Finalizers, v1alpha1.FinalizerDestinationCleanup) {
		t.Errorf("finalizers %v lack %s", dest.Finalizers, v1alpha1.FinalizerDestinationCleanup)
	}
	waitForEvent(t, "Destination", dest.Name, corev1.EventTypeNormal, v1alpha1.ReasonTestDocumentsWritten)

	// A spec change that does not touch the canary files makes the controller write them again,
	// which must leave the repository as it was.
	commits := f.commits(t)
	dest.Spec.StrictMatchLabels = true
	if err := env.Client.Update(t.Context(), dest); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Destination's new generation is observed", func() error {
		conds, err := conditionsOf(t, dest)
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		if c == nil || c.Reason != v1alpha1.ReasonTestDocumentsWritten || c.ObservedGeneration != dest.Generation {
			return fmt.Errorf("Ready condition %+v at generation %d", c, dest.Generation)
		}
		return nil
	})
	if got := f.commits(t); got != commits {
		t.Errorf("commits went from %d to %d on a reconcile that changed nothing", commits, got)
	}
}

// A Destination with initWorkloads.enabled false gets no canary files and is still Ready.
func TestDestinationWithoutInitWorkloads(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	quiet := destination(v1alpha1.KindGitStateStore, store.Name, "quiet")
	disabled := false
	quiet.Spec.InitWorkloads.Enabled = &disabled
	create(t, quiet)
	// A second Destination with canary files proves that the controller did write for the store.
	loud := destination(v1alpha1.KindGitStateStore, store.Name, "loud")
	create(t, loud)

	waitForCondition(t, quiet, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	waitForCondition(t, loud, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	if got, want := f.files(t), canaryPaths("loud"); !slices.Equal(got, want) {
		t.Errorf("files on main = %v, want only %v", got, want)
	}
}

// A Destination waits for its store: StateStoreNotReady while the store's Secret is missing,
// then Ready with its canary files once the Secret exists.
func TestDestinationWaitsForItsStore(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	secretName := uniqueName("git-creds")
	store := f.gitStore(uniqueName("git"), secretName)
	create(t, store)
	dest := destination(v1alpha1.KindGitStateStore, store.Name, "dev-2")
	create(t, dest)

	cond := waitForCondition(t, dest, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)
	if !strings.Contains(cond.Message, store.Name) {
		t.Errorf("the message does not name the store: %q", cond.Message)
	}
	waitForEvent(t, "Destination", dest.Name, corev1.EventTypeWarning, v1alpha1.ReasonStateStoreNotReady)
	if n := f.commits(t); n != 0 {
		t.Fatalf("%d commits before the store was ready", n)
	}

	if got := dest.Status.LastWriteTime; got != nil { // dest as waitForCondition read it
		t.Errorf("status.lastWriteTime = %v before anything was written", got)
	}

	basicAuthSecret(t, secretName, f.server.Username(), f.server.Password())
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	if got, want := f.files(t), canaryPaths("dev-2"); !slices.Equal(got, want) {
		t.Errorf("files on main = %v, want %v", got, want)
	}
	if dest.Status.LastWriteTime == nil {
		t.Errorf("status.lastWriteTime is empty after the canary files were written")
	}
}

// A Destination on a BucketStateStore gets its canary objects under the store's path.
func TestDestinationWritesCanaryFilesToBucket(t *testing.T) {
	startManager(t)
	s3 := newS3Fixture(t)
	if err := s3.server.CreateBucket(t.Context(), "kratix"); err != nil {
		t.Fatal(err)
	}
	store := s3.bucketStore("kratix")
	store.Spec.Path = "platform"
	create(t, store)
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	dest := destination(v1alpha1.KindBucketStateStore, store.Name, "edge")
	create(t, dest)

	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	client, err := s3.server.Client()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for obj := range client.ListObjects(t.Context(), "kratix", minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	if want := canaryPaths("platform/edge"); !slices.Equal(keys, want) {
		t.Errorf("objects = %v, want %v", keys, want)
	}
}
