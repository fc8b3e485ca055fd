package scheduling

import (
	"reflect"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestSeedExampleUpdatesLeaveMisscheduledPlacementsFrozen follows CONTRACT.md §5: a Promise with
// selector environment=dev and dependency Namespace foo is updated to environment=prod with
// Namespace bar, then to baz. The dev placement is misscheduled and keeps foo; prod follows the
// updates.
func TestSeedExampleUpdatesLeaveMisscheduledPlacementsFrozen(t *testing.T) {
	destinations := []v1alpha1.Destination{
		destination("dev", labels("environment", "dev")),
		destination("prod", labels("environment", "prod")),
	}
	version := func(environment, namespace string) *v1alpha1.Work {
		return promiseWork("namespace-static-deps", group(".", workloads("Namespace "+namespace),
			selectorFrom(v1alpha1.SelectorSourcePromise, "environment", environment)))
	}
	const devName, prodName = "namespace-static-deps.dev", "namespace-static-deps.prod"

	type state struct {
		name         string
		misscheduled bool
		contents     []string
	}
	steps := []struct {
		name      string
		work      *v1alpha1.Work
		wantPlan  planNames
		wantState []state
	}{
		{
			name:      "dev selector places foo on dev",
			work:      version("dev", "foo"),
			wantPlan:  planNames{Create: []string{devName}},
			wantState: []state{{devName, false, []string{"Namespace foo"}}},
		},
		{
			name:     "prod selector with bar misschedules dev and places bar on prod",
			work:     version("prod", "bar"),
			wantPlan: planNames{Create: []string{prodName}, Misschedule: []string{devName}},
			wantState: []state{
				{devName, true, []string{"Namespace foo"}},
				{prodName, false, []string{"Namespace bar"}},
			},
		},
		{
			name:     "baz updates prod and leaves dev frozen with foo",
			work:     version("prod", "baz"),
			wantPlan: planNames{Update: []string{prodName}, Frozen: []string{devName}},
			wantState: []state{
				{devName, true, []string{"Namespace foo"}},
				{prodName, false, []string{"Namespace baz"}},
			},
		},
	}

	var placements []v1alpha1.WorkPlacement
	for _, step := range steps {
		plan := Place(step.work, destinations, placements)
		if got, want := namesOf(plan), want(step.wantPlan); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: plan\n got %+v\nwant %+v", step.name, got, want)
		}
		placements = apply(t, placements, plan)
		var got []state
		for _, wp := range placements {
			got = append(got, state{wp.Name, wp.IsMisscheduled(), contents(wp)})
		}
		if !reflect.DeepEqual(got, step.wantState) {
			t.Fatalf("%s: placements\n got %+v\nwant %+v", step.name, got, step.wantState)
		}
	}
}
