package writers

import (
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/metrics/metricstest"
	"kratix.dev/kratix/statestore"
)

// TestRegistryWritersAreMeasured writes through the registry's writer of a real Git store: every
// write counts by its result and its duration is observed, each pushed commit's size is
// observed, and removing the store removes its series.
func TestRegistryWritersAreMeasured(t *testing.T) {
	f := newFixture(t)
	f.store.Name = "metrics-test"
	store := map[string]string{"kind": v1alpha1.KindGitStateStore, "store": f.store.Name}
	writes := func(result string) float64 {
		return metricstest.Read(t, metrics.StateStoreWritesName, map[string]string{"kind": v1alpha1.KindGitStateStore, "store": f.store.Name, "result": result}).Value
	}
	t.Cleanup(func() { metrics.ForgetStore(v1alpha1.KindGitStateStore, f.store.Name) })
	w := f.ensureReady(t)
	got, err := f.registry.Get(v1alpha1.KindGitStateStore, f.store.Name)
	if err != nil || got != w {
		t.Fatalf("Get = %v, %v; want the writer Ensure returned", got, err)
	}
	before := map[string]float64{}
	for _, r := range []string{metrics.WriteSuccess, metrics.WriteUnchanged, metrics.WriteFailure} {
		before[r] = writes(r)
	}
	durations := metricstest.Read(t, metrics.StateStoreWriteDurationName, store).Count
	batches := metricstest.Read(t, metrics.CommitBatchSizeName, store)

	hello := statestore.Change{
		Files:  []statestore.File{{Path: "dev/hello.yaml", Content: []byte("a: 1\n")}},
		Origin: statestore.Origin{Destination: "dev"},
	}
	for range 2 { // the second finds the file as it is
		if _, err := got.Apply(t.Context(), hello); err != nil {
			t.Fatal(err)
		}
	}
	escape := statestore.Change{Files: []statestore.File{{Path: "../outside.yaml", Content: []byte("a: 1\n")}}}
	if _, err := got.Apply(t.Context(), escape); err == nil {
		t.Fatal("a path outside the store was written")
	}

	for r, want := range map[string]float64{metrics.WriteSuccess: 1, metrics.WriteUnchanged: 1, metrics.WriteFailure: 1} {
		if d := writes(r) - before[r]; d != want {
			t.Errorf("%s writes went up by %v, want %v", r, d, want)
		}
	}
	if d := metricstest.Read(t, metrics.StateStoreWriteDurationName, store).Count - durations; d != 3 {
		t.Errorf("%d write durations observed, want 3", d)
	}
	after := metricstest.Read(t, metrics.CommitBatchSizeName, store)
	if after.Count-batches.Count != 1 || after.Sum-batches.Sum != 1 {
		t.Errorf("commit batches: %d more, holding %v changes; want one commit of 1 change",
			after.Count-batches.Count, after.Sum-batches.Sum)
	}

	f.registry.Remove(Key{Kind: v1alpha1.KindGitStateStore, Name: f.store.Name})
	if r := metricstest.Read(t, metrics.StateStoreWriteDurationName, store); r.Count != 0 {
		t.Errorf("a removed store still has %d write durations", r.Count)
	}
}
