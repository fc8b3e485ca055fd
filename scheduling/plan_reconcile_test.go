package scheduling

import (
	"reflect"
	"sort"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// placed is the placement a previous plan would have created for the group of work on dest.
func placed(work *v1alpha1.Work, g v1alpha1.WorkloadGroup, dest string) v1alpha1.WorkPlacement {
	return DesiredPlacement(work, &g, dest)
}

// misscheduled is wp labelled misscheduled.
func misscheduled(wp v1alpha1.WorkPlacement) v1alpha1.WorkPlacement {
	return markedMisscheduled(&wp)
}

// planNames is a plan reduced to names, for comparing with a table's expectations.
type planNames struct {
	Create, Update, Misschedule, Unmisschedule, Delete, Unchanged, Frozen, Unscheduled []string
}

func namesOf(p Plan) planNames {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return planNames{
		Create: placementNames(p.Create), Update: placementNames(p.Update), Misschedule: placementNames(p.Misschedule),
		Unmisschedule: placementNames(p.Unmisschedule), Delete: placementNames(p.Delete),
		Unchanged: orEmpty(p.Unchanged), Frozen: orEmpty(p.Frozen), Unscheduled: orEmpty(p.Unscheduled),
	}
}

// want fills the unset lists of a table's expectation with empty lists.
func want(p planNames) planNames {
	for _, s := range []*[]string{&p.Create, &p.Update, &p.Misschedule, &p.Unmisschedule, &p.Delete, &p.Unchanged, &p.Frozen, &p.Unscheduled} {
		if *s == nil {
			*s = []string{}
		}
		sort.Strings(*s)
	}
	return p
}

func TestPlanReconcilesExistingPlacements(t *testing.T) {
	dev := labels("env", "dev")
	devSel := selectorFrom(v1alpha1.SelectorSourcePromise, "env", "dev")
	root := group(".", workloads("v1"), devSel)
	rootV2 := group(".", workloads("v2"), devSel)
	db := group("db", workloads("db"), selectorFrom(v1alpha1.SelectorSourcePromiseWorkflow, "env", "dev"))
	deps := promiseWork("deps", root)
	depsV2 := promiseWork("deps", rootV2)
	app := resourceWork("app", "app", root)
	dbName := "deps.a-" + GroupID("db")[:5]

	// For the resource-level cases: the Destination that app's root group scores lowest on.
	scoreOrder := []string{"a", "b", "c"}
	sort.Slice(scoreOrder, func(i, j int) bool {
		return PlacementScore(app.Namespace, app.Name, RootGroupID, scoreOrder[i]) < PlacementScore(app.Namespace, app.Name, RootGroupID, scoreOrder[j])
	})
	lowest := scoreOrder[0]

	otherWork := placed(promiseWork("other", root), root, "a")
	legacy := misscheduled(placed(deps, root, "a"))
	legacy.Name = "aaa-legacy" // sorts before deps.a

	tests := []struct {
		name         string
		work         *v1alpha1.Work
		destinations []v1alpha1.Destination
		existing     []v1alpha1.WorkPlacement
		want         planNames
	}{
		{
			name:         "new matching Destination gets a placement",
			work:         deps,
			destinations: []v1alpha1.Destination{destination("a", dev), destination("b", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a")},
			want:         planNames{Create: []string{"deps.b"}, Unchanged: []string{"deps.a"}},
		},
		{
			name:         "changed workloads update the placement",
			work:         depsV2,
			destinations: []v1alpha1.Destination{destination("a", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a")},
			want:         planNames{Update: []string{"deps.a"}},
		},
		{
			name:         "Destination that stops matching misschedules its placement",
			work:         depsV2,
			destinations: []v1alpha1.Destination{destination("a", labels("env", "prod"))},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a")},
			want:         planNames{Misschedule: []string{"deps.a"}, Unscheduled: []string{RootGroupID}},
		},
		{
			name:         "Destination being deleted misschedules its placement",
			work:         deps,
			destinations: []v1alpha1.Destination{deleting(destination("a", dev)), destination("b", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a")},
			want:         planNames{Create: []string{"deps.b"}, Misschedule: []string{"deps.a"}},
		},
		{
			name:         "Destination that is gone misschedules its placement",
			work:         deps,
			destinations: []v1alpha1.Destination{destination("b", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a")},
			want:         planNames{Create: []string{"deps.b"}, Misschedule: []string{"deps.a"}},
		},
		{
			name:         "misscheduled placement stays frozen and is not updated",
			work:         depsV2,
			destinations: []v1alpha1.Destination{destination("a", nil), destination("b", dev)},
			existing:     []v1alpha1.WorkPlacement{misscheduled(placed(deps, root, "a")), placed(depsV2, rootV2, "b")},
			want:         planNames{Frozen: []string{"deps.a"}, Unchanged: []string{"deps.b"}},
		},
		{
			name:         "misscheduled placement whose Destination matches again is un-marked",
			work:         depsV2,
			destinations: []v1alpha1.Destination{destination("a", dev)},
			existing:     []v1alpha1.WorkPlacement{misscheduled(placed(deps, root, "a"))},
			want:         planNames{Unmisschedule: []string{"deps.a"}},
		},
		{
			name:         "of two placements on one Destination the active one is kept",
			work:         deps,
			destinations: []v1alpha1.Destination{destination("a", dev)},
			existing:     []v1alpha1.WorkPlacement{legacy, placed(deps, root, "a")},
			want:         planNames{Unchanged: []string{"deps.a"}, Frozen: []string{"aaa-legacy"}},
		},
		{
			name:         "placement of a group gone from the Work is deleted",
			work:         deps,
			destinations: []v1alpha1.Destination{destination("a", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a"), placed(deps, db, "a")},
			want:         planNames{Unchanged: []string{"deps.a"}, Delete: []string{dbName}},
		},
		{
			name:         "misscheduled placement of a group gone from the Work is not deleted",
			work:         deps,
			destinations: []v1alpha1.Destination{destination("a", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a"), misscheduled(placed(deps, db, "a"))},
			want:         planNames{Unchanged: []string{"deps.a"}, Frozen: []string{dbName}},
		},
		{
			name:         "Work without groups deletes its active placements",
			work:         promiseWork("deps"),
			destinations: []v1alpha1.Destination{destination("a", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(deps, root, "a")},
			want:         planNames{Delete: []string{"deps.a"}},
		},
		{
			name:         "placements of other Works are left alone",
			work:         deps,
			destinations: []v1alpha1.Destination{destination("a", dev)},
			existing:     []v1alpha1.WorkPlacement{otherWork},
			want:         planNames{Create: []string{"deps.a"}},
		},
		{
			name:         "resource placement is kept on a matching Destination that scores lower",
			work:         app,
			destinations: []v1alpha1.Destination{destination("a", dev), destination("b", dev), destination("c", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(app, root, lowest)},
			want:         planNames{Unchanged: []string{"app." + lowest}},
		},
		{
			name:         "resource placement moves when its Destination stops matching",
			work:         app,
			destinations: []v1alpha1.Destination{destination("a", nil), destination("b", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(app, root, "a")},
			want:         planNames{Create: []string{"app.b"}, Misschedule: []string{"app.a"}},
		},
		{
			name:         "active resource placement beats a misscheduled one that matches again",
			work:         app,
			destinations: []v1alpha1.Destination{destination("a", dev), destination("b", dev)},
			existing:     []v1alpha1.WorkPlacement{misscheduled(placed(app, root, "a")), placed(app, root, "b")},
			want:         planNames{Unchanged: []string{"app.b"}, Frozen: []string{"app.a"}},
		},
		{
			name:         "misscheduled resource placement is un-marked when its Destination is the one that matches",
			work:         app,
			destinations: []v1alpha1.Destination{destination("a", dev), destination("b", nil)},
			existing:     []v1alpha1.WorkPlacement{misscheduled(placed(app, root, "a")), placed(app, root, "b")},
			want:         planNames{Unmisschedule: []string{"app.a"}, Misschedule: []string{"app.b"}},
		},
		{
			name:         "second active placement of a resource group is misscheduled",
			work:         app,
			destinations: []v1alpha1.Destination{destination("a", dev), destination("b", dev)},
			existing:     []v1alpha1.WorkPlacement{placed(app, root, "a"), placed(app, root, "b")},
			want: func() planNames {
				keep, other := "a", "b"
				if PlacementScore(app.Namespace, app.Name, RootGroupID, "b") > PlacementScore(app.Namespace, app.Name, RootGroupID, "a") {
					keep, other = "b", "a"
				}
				return planNames{Unchanged: []string{"app." + keep}, Misschedule: []string{"app." + other}}
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Place(tt.work, tt.destinations, tt.existing)
			if got, want := namesOf(plan), want(tt.want); !reflect.DeepEqual(got, want) {
				t.Fatalf("plan\n got %+v\nwant %+v", got, want)
			}
			checkEveryPlacementOnce(t, tt.work, tt.existing, plan)
		})
	}
}

// checkEveryPlacementOnce fails unless each existing placement of the Work is in exactly one list
// of the plan.
func checkEveryPlacementOnce(t *testing.T, work *v1alpha1.Work, existing []v1alpha1.WorkPlacement, plan Plan) {
	t.Helper()
	seen := map[string]int{}
	for _, list := range [][]string{placementNames(plan.Update), placementNames(plan.Misschedule), placementNames(plan.Unmisschedule), placementNames(plan.Delete), plan.Unchanged, plan.Frozen} {
		for _, n := range list {
			seen[n]++
		}
	}
	for i := range existing {
		if !belongsTo(&existing[i], work) {
			if seen[existing[i].Name] != 0 {
				t.Errorf("placement %s of another Work is in the plan", existing[i].Name)
			}
			continue
		}
		if seen[existing[i].Name] != 1 {
			t.Errorf("placement %s is in %d lists of the plan, want 1", existing[i].Name, seen[existing[i].Name])
		}
	}
}

func TestPlanObjects(t *testing.T) {
	devSel := selectorFrom(v1alpha1.SelectorSourcePromise, "env", "dev")
	v1 := promiseWork("deps", group(".", workloads("v1"), devSel))
	v2 := promiseWork("deps", group(".", workloads("v2"), devSel))
	existing := placed(v1, v1.Spec.WorkloadGroups[0], "a")
	existing.ResourceVersion = "42"
	existing.Labels["team"] = "platform"
	existing.Annotations = map[string]string{"note": "keep"}
	existing.Finalizers = []string{v1alpha1.FinalizerRepoCleanup}

	t.Run("update carries the new spec and keeps what the engine does not own", func(t *testing.T) {
		plan := Place(v2, []v1alpha1.Destination{destination("a", labels("env", "dev"))}, []v1alpha1.WorkPlacement{existing})
		if len(plan.Update) != 1 {
			t.Fatalf("Update = %v, want deps.a", placementNames(plan.Update))
		}
		got := plan.Update[0]
		if !reflect.DeepEqual(contents(got), []string{"v2"}) {
			t.Errorf("updated workloads = %v, want [v2]", contents(got))
		}
		if got.ResourceVersion != "42" || got.Labels["team"] != "platform" || got.Annotations["note"] != "keep" || len(got.Finalizers) != 1 {
			t.Errorf("update lost metadata: %+v", got.ObjectMeta)
		}
	})
	t.Run("misschedule labels the placement and keeps its spec", func(t *testing.T) {
		plan := Place(v2, []v1alpha1.Destination{destination("a", labels("env", "prod"))}, []v1alpha1.WorkPlacement{existing})
		if len(plan.Misschedule) != 1 {
			t.Fatalf("Misschedule = %v, want deps.a", placementNames(plan.Misschedule))
		}
		got := plan.Misschedule[0]
		if !got.IsMisscheduled() || !reflect.DeepEqual(contents(got), []string{"v1"}) || got.Labels["team"] != "platform" {
			t.Errorf("misscheduled placement = %+v, want the label and workloads [v1]", got)
		}
		if existing.IsMisscheduled() {
			t.Error("planning changed the caller's placement")
		}
	})
	t.Run("unmisschedule removes the label and brings the spec up to date", func(t *testing.T) {
		frozen := misscheduled(existing)
		plan := Place(v2, []v1alpha1.Destination{destination("a", labels("env", "dev"))}, []v1alpha1.WorkPlacement{frozen})
		if len(plan.Unmisschedule) != 1 {
			t.Fatalf("Unmisschedule = %v, want deps.a", placementNames(plan.Unmisschedule))
		}
		got := plan.Unmisschedule[0]
		if got.IsMisscheduled() || !reflect.DeepEqual(contents(got), []string{"v2"}) {
			t.Errorf("un-marked placement = %+v, want no label and workloads [v2]", got)
		}
		if plan.Desired() != 1 {
			t.Errorf("Desired = %d, want 1", plan.Desired())
		}
	})
}
