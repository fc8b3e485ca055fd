package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/metrics/metricstest"
)

// TestASlowStoreDoesNotStallOtherStoresPlacements: someone who may create a store and a
// Destination points the store at a server that holds every push, and gives the Destination
// labels that many Works select. Their placements may take only half of the WorkPlacement
// workers (two here) at once (store_slots.go), so another store's placement is written while
// the stalled ones wait; they wait in their store's line for a slot to be handed to them,
// without a reconcile meanwhile.
func TestASlowStoreDoesNotStallOtherStoresPlacements(t *testing.T) {
	startManager(t) // two workers per controller
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)

	healthy := newGitFixture(t)
	healthyStore := healthy.readyGitStore(t)
	victimLabels := map[string]string{"victim": uniqueName("v")}
	victimDest := readyDestinationOn(t, healthyStore, uniqueName("prod"), victimLabels)

	tarpit := newGitFixture(t)
	tarpitStore := tarpit.readyGitStore(t)
	shared := map[string]string{"shared": uniqueName("s")}
	evil := readyDestinationOn(t, tarpitStore, uniqueName("evil"), shared)
	// From now on the attacker's server holds every push (until the test ends).
	marker := holdPushes(t, tarpit)

	// Works that select the label the attacker copied onto their Destination.
	var held []*v1alpha1.WorkPlacement
	for i := range 4 {
		w := newWork(t, ns, "", rootGroup(t, shared, namespaceManifest(fmt.Sprintf("shared-%d", i))))
		w.Spec.PipelineName = "deps"
		createWork(t, w)
		held = append(held, placementKey(w, w.Name+"."+evil.Name))
	}
	time.Sleep(3 * time.Second) // their placements reach the writer, which pushes and waits

	// Another tenant's Work, for a Destination on a healthy store.
	work := newWork(t, ns, "", rootGroup(t, victimLabels, namespaceManifest("victim")))
	work.Spec.PipelineName = "deps"
	createWork(t, work)
	wp := placementKey(work, work.Name+"."+victimDest.Name)
	start := time.Now()
	defer func() { _ = os.Remove(marker) }()
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	t.Logf("the healthy store's placement was written after %s", time.Since(start).Round(time.Second))

	reconciles := func() float64 {
		return metricstest.Read(t, "controller_runtime_reconcile_total", map[string]string{"controller": "workplacement"}).Value
	}
	before := reconciles()
	time.Sleep(3 * time.Second)
	if n := reconciles() - before; n > 1 {
		t.Errorf("the placements waiting for the held store were reconciled %v times in 3 s; want them to wait without", n)
	}

	// The server lets pushes through: each placement is woken in turn as the one before it
	// releases its slot, well before the minute after which a waiting placement looks again.
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for _, wp := range held {
		testenv.Eventually(t, "the held store's placement "+wp.Name+" is written", 20*time.Second, 50*time.Millisecond, func() error {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(wp), wp); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(wp.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Reason != v1alpha1.ReasonWriteSucceeded {
				return fmt.Errorf("not written yet: %v", c)
			}
			return nil
		})
	}
	t.Logf("the held store's placements were written %s after its server let pushes through", time.Since(start).Round(time.Second))
}

// holdPushes has the fixture's server hold every push until the returned marker file is
// removed; the test's end removes it.
func holdPushes(t *testing.T, f *gitFixture) string {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "hold")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(f.server.Root(), f.repo, "hooks", "pre-receive")
	script := fmt.Sprintf("#!/bin/sh\ncat >/dev/null\nwhile [ -e %q ]; do sleep 0.2; done\n", marker)
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Remove(marker)
		_ = os.Remove(hook)
	})
	return marker
}
