package scheduling

import (
	"reflect"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

func TestPlaceTargets(t *testing.T) {
	promiseSel := selectorFrom(v1alpha1.SelectorSourcePromise, "env", "dev")
	destinations := []v1alpha1.Destination{
		destination("dev-1", labels("env", "dev")),
		destination("dev-2", labels("env", "dev", "zone", "b")),
		strict(destination("dev-strict", labels("env", "dev"))),
		deleting(destination("dev-leaving", labels("env", "dev"))),
		destination("prod", labels("env", "prod")),
		destination("unlabelled", nil),
	}
	tests := []struct {
		name            string
		work            *v1alpha1.Work
		wantTargets     []string // every Destination that gets a placement, for Promise-level Works
		wantOneOf       []string // the candidates of a resource-level group; exactly one is chosen
		wantUnscheduled []string
	}{
		{
			name:        "Promise-level Work goes to every matching Destination",
			work:        promiseWork("deps", group(".", workloads("ns"), promiseSel)),
			wantTargets: []string{"dev-1", "dev-2", "dev-strict"},
		},
		{
			name:        "Promise-level Work without selectors skips strict labelled Destinations",
			work:        promiseWork("deps", group(".", workloads("ns"))),
			wantTargets: []string{"dev-1", "dev-2", "prod", "unlabelled"},
		},
		{
			name:      "resource-level group goes to exactly one matching Destination",
			work:      resourceWork("app-1", "app-1", group(".", workloads("app"), promiseSel)),
			wantOneOf: []string{"dev-1", "dev-2", "dev-strict"},
		},
		{
			name:            "no matching Destination leaves the group unscheduled",
			work:            promiseWork("deps", group(".", workloads("ns"), selectorFrom(v1alpha1.SelectorSourcePromise, "env", "qa"))),
			wantUnscheduled: []string{RootGroupID},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Place(tt.work, destinations, nil)
			var targets []string
			for _, wp := range plan.Create {
				targets = append(targets, wp.Spec.TargetDestinationName)
			}
			switch {
			case tt.wantOneOf != nil:
				if len(targets) != 1 || !contains(tt.wantOneOf, targets[0]) {
					t.Fatalf("placed on %v, want exactly one of %v", targets, tt.wantOneOf)
				}
			case !reflect.DeepEqual(targets, tt.wantTargets):
				t.Fatalf("placed on %v, want %v", targets, tt.wantTargets)
			}
			if !reflect.DeepEqual(plan.Unscheduled, tt.wantUnscheduled) {
				t.Errorf("Unscheduled = %v, want %v", plan.Unscheduled, tt.wantUnscheduled)
			}
		})
	}
}

func TestResourcePlacementGoesToTheHighestScore(t *testing.T) {
	var destinations []v1alpha1.Destination
	var candidates []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		destinations = append(destinations, destination(n, labels("env", "dev")))
		candidates = append(candidates, n)
	}
	for _, resource := range []string{"r1", "r2", "r3", "r4", "r5", "r6"} {
		work := resourceWork(resource+"-configure", resource, group(".", workloads("x")))
		want, best := "", uint64(0)
		for _, c := range candidates {
			if s := PlacementScore(work.Namespace, work.Name, RootGroupID, c); want == "" || s > best {
				want, best = c, s
			}
		}
		plan := Place(work, destinations, nil)
		if len(plan.Create) != 1 || plan.Create[0].Spec.TargetDestinationName != want {
			t.Errorf("%s: placed on %v, want %s (highest PlacementScore)", resource, placementNames(plan.Create), want)
		}
	}
}

func TestEachDirectoryGroupIsPlacedBySelectorAlone(t *testing.T) {
	destinations := []v1alpha1.Destination{
		destination("dev", labels("env", "dev")),
		destination("db", labels("storage", "ssd")),
	}
	work := promiseWork("deps",
		group(".", workloads("app"), selectorFrom(v1alpha1.SelectorSourcePromise, "env", "dev")),
		group("db", workloads("db"), selectorFrom(v1alpha1.SelectorSourcePromiseWorkflow, "storage", "ssd"),
			selectorFrom(v1alpha1.SelectorSourcePromise, "env", "dev")),
	)
	plan := Place(work, destinations, nil)
	want := []string{"deps.db-" + GroupID("db")[:5], "deps.dev"}
	if got := placementNames(plan.Create); !reflect.DeepEqual(got, want) {
		t.Fatalf("Create = %v, want %v", got, want)
	}
}

func TestDesiredPlacementObject(t *testing.T) {
	work := resourceWork("app-1-configure", "app-1", group("db", workloads("db-manifest")))
	work.Spec.ResourceNamespace = "requests"
	plan := Place(work, []v1alpha1.Destination{destination("dev", nil)}, nil)
	if len(plan.Create) != 1 {
		t.Fatalf("Create = %v, want one placement", placementNames(plan.Create))
	}
	got := plan.Create[0]
	id := GroupID("db")
	if got.Name != "app-1-configure.dev-"+id[:5] || got.Namespace != testNamespace {
		t.Errorf("placement %s/%s, want %s/app-1-configure.dev-%s", got.Namespace, got.Name, testNamespace, id[:5])
	}
	wantLabels := map[string]string{
		v1alpha1.LabelWork:              "app-1-configure",
		v1alpha1.LabelWorkloadGroupID:   id,
		v1alpha1.LabelTargetDestination: "dev",
		v1alpha1.LabelPromiseName:       "app",
		v1alpha1.LabelResourceName:      "app-1",
		v1alpha1.LabelResourceNamespace: "requests",
		v1alpha1.LabelPipelineName:      "configure",
	}
	if !reflect.DeepEqual(got.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", got.Labels, wantLabels)
	}
	wantSpec := v1alpha1.WorkPlacementSpec{
		TargetDestinationName: "dev",
		Workloads:             workloads("db-manifest"),
		PromiseName:           "app",
		ResourceName:          "app-1",
		ResourceNamespace:     "requests",
		ID:                    id,
		PipelineName:          "configure",
	}
	if !reflect.DeepEqual(got.Spec, wantSpec) {
		t.Errorf("spec = %+v, want %+v", got.Spec, wantSpec)
	}
	got.Spec.Workloads[0].Content = "changed"
	if work.Spec.WorkloadGroups[0].Workloads[0].Content != "db-manifest" {
		t.Error("the plan's workloads alias the Work's")
	}
}

func TestResourceNamespaceDefaultsToTheWorksNamespace(t *testing.T) {
	work := resourceWork("app-1-configure", "app-1", group(".", workloads("x")))
	plan := Place(work, []v1alpha1.Destination{destination("dev", nil)}, nil)
	if got := plan.Create[0].Spec.ResourceNamespace; got != testNamespace {
		t.Errorf("resourceNamespace = %q, want the Work's namespace %q", got, testNamespace)
	}
	deps := promiseWork("deps", group(".", workloads("x")))
	plan = Place(deps, []v1alpha1.Destination{destination("dev", nil)}, nil)
	if got := plan.Create[0]; got.Spec.ResourceNamespace != "" || got.Labels[v1alpha1.LabelResourceName] != "" {
		t.Errorf("Promise-level placement has resource fields: %+v", got)
	}
}

func TestLongNamesAreShortenedInLabels(t *testing.T) {
	long := "app-very-long-name-that-goes-on-and-on-and-on-beyond-sixty-three-characters"
	work := resourceWork(long, long, group(".", workloads("x")))
	plan := Place(work, []v1alpha1.Destination{destination(long, nil)}, nil)
	for k, v := range plan.Create[0].Labels {
		if len(v) > names.MaxLabelValueLength {
			t.Errorf("label %s = %q is %d long", k, v, len(v))
		}
	}
	// The shortened kratix.io/work label still ties the placement to its Work.
	again := Place(work, []v1alpha1.Destination{destination(long, nil)}, plan.Create)
	if !reflect.DeepEqual(again.Unchanged, placementNames(plan.Create)) {
		t.Errorf("re-planning did not recognise the placement: %+v", again)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
