package scheduling

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestPlanIsIndependentOfInputOrder plans the same world with its Destinations, placements and
// workload groups shuffled, and expects the same Plan every time.
func TestPlanIsIndependentOfInputOrder(t *testing.T) {
	var destinations []v1alpha1.Destination
	for i := 0; i < 30; i++ {
		d := destination(fmt.Sprintf("worker-%02d", i), labels("env", []string{"dev", "prod"}[i%2], "zone", fmt.Sprint(i%3)))
		switch i % 7 {
		case 3:
			d = strict(d)
		case 5:
			d = deleting(d)
		}
		destinations = append(destinations, d)
	}
	groups := []v1alpha1.WorkloadGroup{
		group(".", workloads("root"), selectorFrom(v1alpha1.SelectorSourcePromise, "env", "dev")),
		group("db", workloads("db"), selectorFrom(v1alpha1.SelectorSourceResourceWorkflow, "zone", "1")),
		group("cache", workloads("cache")),
		group("nowhere", workloads("x"), selectorFrom(v1alpha1.SelectorSourceResourceWorkflow, "zone", "9")),
	}
	gone := group("gone", workloads("gone"))
	works := map[string]*v1alpha1.Work{
		"Promise-level":  promiseWork("deps", groups...),
		"resource-level": resourceWork("app-configure", "app", groups...),
	}
	for name, work := range works {
		t.Run(name, func(t *testing.T) {
			// Existing placements: a few active, a few misscheduled, one of a group that is gone.
			var existing []v1alpha1.WorkPlacement
			for i, d := range destinations[:12] {
				wp := placed(work, groups[i%len(groups)], d.Name)
				if i%4 == 1 {
					wp = misscheduled(wp)
				}
				existing = append(existing, wp)
			}
			existing = append(existing, placed(work, gone, "worker-00"))

			reference := Place(work, destinations, existing)
			if len(reference.Create)+len(reference.Misschedule)+len(reference.Delete) == 0 {
				t.Fatal("the reference plan changes nothing; the test would prove nothing")
			}
			rng := rand.New(rand.NewSource(7))
			for round := 0; round < 50; round++ {
				d := append([]v1alpha1.Destination(nil), destinations...)
				e := append([]v1alpha1.WorkPlacement(nil), existing...)
				w := work.DeepCopy()
				rng.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
				rng.Shuffle(len(e), func(i, j int) { e[i], e[j] = e[j], e[i] })
				g := w.Spec.WorkloadGroups
				rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
				if got := Place(w, d, e); !reflect.DeepEqual(got, reference) {
					t.Fatalf("round %d: shuffled inputs give another plan\n got %+v\nwant %+v", round, namesOf(got), namesOf(reference))
				}
			}
		})
	}
}

// TestAddingDestinationsNeverMovesResourcePlacements places many resource requests, adds
// Destinations that would win some of them if they were placed afresh, and expects every existing
// placement to stay where it is.
func TestAddingDestinationsNeverMovesResourcePlacements(t *testing.T) {
	workers := func(from, to int) []v1alpha1.Destination {
		var d []v1alpha1.Destination
		for i := from; i < to; i++ {
			d = append(d, destination(fmt.Sprintf("worker-%d", i), labels("env", "dev")))
		}
		return d
	}
	before, after := workers(0, 5), workers(0, 10)
	moved := 0
	for i := 0; i < 300; i++ {
		work := resourceWork(fmt.Sprintf("request-%d-configure", i), fmt.Sprintf("request-%d", i), group(".", workloads("x")))
		placements := apply(t, nil, Place(work, before, nil))

		plan := Place(work, after, placements)
		if expected := (planNames{Unchanged: placementNames(placements)}); !reflect.DeepEqual(namesOf(plan), want(expected)) {
			t.Fatalf("%s: adding Destinations changed its placement: %+v", work.Name, namesOf(plan))
		}
		if fresh := Place(work, after, nil); fresh.Create[0].Spec.TargetDestinationName != placements[0].Spec.TargetDestinationName {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no request would go elsewhere if placed afresh; the test proves nothing")
	}
}

// TestRemovingADestinationMovesOnlyItsPlacements expects the placements on a removed Destination
// to be misscheduled and replaced, and every other placement to stay.
func TestRemovingADestinationMovesOnlyItsPlacements(t *testing.T) {
	var all []v1alpha1.Destination
	for i := 0; i < 6; i++ {
		all = append(all, destination(fmt.Sprintf("worker-%d", i), nil))
	}
	remaining := all[1:]
	onRemoved := 0
	for i := 0; i < 200; i++ {
		work := resourceWork(fmt.Sprintf("request-%d-configure", i), fmt.Sprintf("request-%d", i), group(".", workloads("x")))
		placements := apply(t, nil, Place(work, all, nil))
		plan := Place(work, remaining, placements)
		if placements[0].Spec.TargetDestinationName == "worker-0" {
			onRemoved++
			if len(plan.Misschedule) != 1 || len(plan.Create) != 1 {
				t.Fatalf("%s on the removed Destination: plan %+v, want it misscheduled and placed again", work.Name, namesOf(plan))
			}
			continue
		}
		if len(plan.Unchanged) != 1 || plan.Desired() != 1 || len(plan.Misschedule) != 0 {
			t.Fatalf("%s on a remaining Destination moved: %+v", work.Name, namesOf(plan))
		}
	}
	if onRemoved == 0 {
		t.Fatal("nothing was on the removed Destination; the test proves nothing")
	}
}

// TestResourcePlacementsSpreadEvenly places 1,000 resource requests over 10 equal Destinations
// and expects each Destination to receive within 20% of an even share.
func TestResourcePlacementsSpreadEvenly(t *testing.T) {
	var destinations []v1alpha1.Destination
	for i := 0; i < 10; i++ {
		destinations = append(destinations, destination(fmt.Sprintf("worker-%d", i), labels("env", "dev")))
	}
	set := NewDestinationSet(destinations)
	counts := map[string]int{}
	for i := 0; i < 1000; i++ {
		work := resourceWork(fmt.Sprintf("request-%d-configure", i), fmt.Sprintf("request-%d", i),
			group(".", workloads("x"), selectorFrom(v1alpha1.SelectorSourcePromise, "env", "dev")))
		for _, wp := range set.Place(work, nil).Create {
			counts[wp.Spec.TargetDestinationName]++
		}
	}
	t.Logf("placements per Destination: %v", counts)
	for _, d := range destinations {
		if n := counts[d.Name]; n < 80 || n > 120 {
			t.Errorf("%s received %d of 1000 placements, want 80..120 (counts %v)", d.Name, n, counts)
		}
	}
}
