package scheduling

import (
	"fmt"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// benchmarkWorld is 1,000 Destinations (half env=dev, ten regions) and one resource-level Work
// with 10,000 workload groups: 10,000 groups × 1,000 Destinations. With selectDev each group
// selects env=dev (500 candidates per group for rendezvous hashing); without, groups select
// nothing and every Destination is a candidate.
func benchmarkWorld(selectDev bool) ([]v1alpha1.Destination, *v1alpha1.Work) {
	const destinations, groups = 1000, 10000
	ds := make([]v1alpha1.Destination, 0, destinations)
	for i := 0; i < destinations; i++ {
		ds = append(ds, destination(fmt.Sprintf("worker-%04d", i), labels(
			"env", []string{"dev", "prod"}[i%2],
			"region", fmt.Sprintf("r%d", i%10),
			"kratix.io/owner", "platform",
		)))
	}
	selectors := func(source string) []v1alpha1.WorkloadGroupScheduling {
		if !selectDev {
			return nil
		}
		return []v1alpha1.WorkloadGroupScheduling{selectorFrom(source, "env", "dev")}
	}
	gs := make([]v1alpha1.WorkloadGroup, 0, groups)
	gs = append(gs, group(".", workloads("root"), selectors(v1alpha1.SelectorSourcePromise)...))
	for i := 1; i < groups; i++ {
		gs = append(gs, group(fmt.Sprintf("dir-%05d", i), workloads(fmt.Sprintf("content-%d", i)),
			selectors(v1alpha1.SelectorSourceResourceWorkflow)...))
	}
	return ds, resourceWork("big-request-configure", "big-request", gs...)
}

// BenchmarkPlan measures one full Place (indexing the Destinations included) of 10,000 workload
// groups against 1,000 Destinations: from scratch (every group chosen by rendezvous hashing and
// created) and in steady state (every placement exists and is unchanged), with groups that select
// half the Destinations and with groups that select all of them.
func BenchmarkPlan(b *testing.B) {
	for _, selectDev := range []bool{true, false} {
		destinations, work := benchmarkWorld(selectDev)
		first := Place(work, destinations, nil)
		if len(first.Create) != len(work.Spec.WorkloadGroups) {
			b.Fatalf("created %d placements, want one per group (%d)", len(first.Create), len(work.Spec.WorkloadGroups))
		}
		if again := Place(work, destinations, first.Create); len(again.Unchanged) != len(first.Create) {
			b.Fatalf("steady state: %d unchanged, want %d", len(again.Unchanged), len(first.Create))
		}
		candidates := "500-candidates"
		if !selectDev {
			candidates = "1000-candidates"
		}
		for _, bc := range []struct {
			state    string
			existing []v1alpha1.WorkPlacement
		}{
			{state: "new", existing: nil},
			{state: "steady", existing: first.Create},
		} {
			b.Run(fmt.Sprintf("10000-groups-x-1000-destinations/%s/%s", candidates, bc.state), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					Place(work, destinations, bc.existing)
				}
			})
		}
	}
}
