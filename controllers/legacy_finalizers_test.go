package controllers

import (
	"fmt"
	"slices"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestUpstreamFinalizersAreRetired: a Promise and a Work created by upstream Kratix carry
// finalizers that this engine does not handle. The engine removes them, so that deleting such
// objects completes instead of hanging on a finalizer nobody removes.
func TestUpstreamFinalizersAreRetired(t *testing.T) {
	startManager(t)

	promise := apiPromise(t, uniqueName("upstream"), "upstream.example.com", "Upstream")
	promise.Finalizers = []string{v1alpha1.LegacyFinalizerDependenciesCleanup, v1alpha1.LegacyFinalizerDynamicController}
	create(t, promise)
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	work := newWork(t, v1alpha1.DefaultPlatformNS, "", rootGroup(t, nil, "kind: ConfigMap\n"))
	work.Finalizers = []string{v1alpha1.LegacyFinalizerWorkPlacementCleanup}
	createWork(t, work)

	waitFor(t, "the upstream finalizers are replaced by the engine's", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(promise), promise); err != nil {
			return err
		}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(work), work); err != nil {
			return err
		}
		for _, f := range append(slices.Clone(promise.Finalizers), work.Finalizers...) {
			switch f {
			case v1alpha1.LegacyFinalizerDependenciesCleanup, v1alpha1.LegacyFinalizerDynamicController, v1alpha1.LegacyFinalizerWorkPlacementCleanup:
				return fmt.Errorf("still carries %s (Promise %v, Work %v)", f, promise.Finalizers, work.Finalizers)
			}
		}
		if !slices.Contains(promise.Finalizers, v1alpha1.FinalizerWorkCleanup) || !slices.Contains(work.Finalizers, v1alpha1.FinalizerWorkCleanup) {
			return fmt.Errorf("the engine's finalizers are not there yet (Promise %v, Work %v)", promise.Finalizers, work.Finalizers)
		}
		return nil
	})
	deleteAndWait(t, work)
	deleteAndWait(t, promise)
}
