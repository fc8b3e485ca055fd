package controllers

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestDestinationsOfTwoStoresOnOneRepositoryCannotShareADirectory: two GitStateStores may name
// one repository and branch (one store per team on a shared repository). A Destination on the
// second store with the first store's Destination's directory is refused (PathOverlaps), writes
// nothing, and its deletion with cleanup all removes nothing of the other's.
func TestDestinationsOfTwoStoresOnOneRepositoryCannotShareADirectory(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	victimStore := f.readyGitStore(t)
	secret := basicAuthSecret(t, uniqueName("git-creds"), f.server.Username(), f.server.Password())
	otherStore := f.gitStore(uniqueName("git"), secret.Name) // the same URL and branch
	create(t, otherStore)
	waitForCondition(t, otherStore, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)

	victim := destination(v1alpha1.KindGitStateStore, victimStore.Name, "prod-eu")
	victim.Name = "a-" + victim.Name // created in the same second as the other, the name decides
	create(t, victim)
	waitForCondition(t, victim, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	want := canaryPaths("prod-eu")
	if got := f.filesUnder(t, "prod-eu"); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("files under prod-eu = %v, want %v", got, want)
	}

	evil := destination(v1alpha1.KindGitStateStore, otherStore.Name, "prod-eu")
	evil.Name = "z-" + evil.Name
	evil.Spec.Cleanup = v1alpha1.DestinationCleanupAll
	if err := env.Client.Create(t.Context(), evil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second Destination has a Ready condition", func() error {
		conds, err := conditionsOf(t, evil)
		if err != nil {
			return err
		}
		if c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); c == nil || c.Reason == "" {
			return errNoReady
		}
		return nil
	})
	if c := meta.FindStatusCondition(evil.Status.Conditions, v1alpha1.ConditionReady); c.Reason != v1alpha1.ReasonPathOverlaps {
		t.Errorf("Destination %s on store %s, path prod-eu, is Ready=%s %s; the directory is Destination %s's (store %s, the same repository and branch): want PathOverlaps",
			evil.Name, otherStore.Name, c.Status, c.Reason, victim.Name, victimStore.Name)
	}

	deleteAndWait(t, evil)
	if got := f.filesUnder(t, "prod-eu"); len(got) != len(want) {
		t.Errorf("after Destination %s (another store) was deleted, the files under Destination %s's directory are %v; want %v",
			evil.Name, victim.Name, got, want)
	}
}

var errNoReady = errorString("no Ready condition with a reason yet")

type errorString string

func (e errorString) Error() string { return string(e) }
