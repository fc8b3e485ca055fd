package scheduling

import (
	"reflect"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

func TestBuildWorkloadGroups(t *testing.T) {
	promiseSelectors := []v1alpha1.PromiseScheduling{
		{MatchLabels: labels("env", "prod")},
		{},
		{MatchLabels: labels("zone", "a")},
	}
	fromPromise := []v1alpha1.WorkloadGroupScheduling{
		selectorFrom(v1alpha1.SelectorSourcePromise, "env", "prod"),
		selectorFrom(v1alpha1.SelectorSourcePromise, "zone", "a"),
	}
	tests := []struct {
		name         string
		entries      []DestinationSelector
		workflowType string
		want         []v1alpha1.WorkloadGroup
	}{
		{
			name:         "no file: root group with the Promise's selectors",
			workflowType: v1alpha1.WorkflowTypePromise,
			want:         []v1alpha1.WorkloadGroup{{ID: RootGroupID, Directory: ".", DestinationSelectors: fromPromise}},
		},
		{
			name:         "root entries of a resource workflow come before the Promise's",
			entries:      []DestinationSelector{{MatchLabels: labels("tier", "gold")}, {MatchLabels: labels("env", "dev")}},
			workflowType: v1alpha1.WorkflowTypeResource,
			want: []v1alpha1.WorkloadGroup{{ID: RootGroupID, Directory: ".", DestinationSelectors: append([]v1alpha1.WorkloadGroupScheduling{
				selectorFrom(v1alpha1.SelectorSourceResourceWorkflow, "tier", "gold"),
				selectorFrom(v1alpha1.SelectorSourceResourceWorkflow, "env", "dev"),
			}, fromPromise...)}},
		},
		{
			name: "directory entries of a Promise workflow become groups of their own",
			entries: []DestinationSelector{
				{Directory: "db", MatchLabels: labels("storage", "ssd")},
				{MatchLabels: labels("tier", "gold")},
				{Directory: "cache", MatchLabels: labels("memory", "high")},
			},
			workflowType: v1alpha1.WorkflowTypePromise,
			want: []v1alpha1.WorkloadGroup{
				{ID: RootGroupID, Directory: ".", DestinationSelectors: append([]v1alpha1.WorkloadGroupScheduling{
					selectorFrom(v1alpha1.SelectorSourcePromiseWorkflow, "tier", "gold"),
				}, fromPromise...)},
				{ID: GroupID("db"), Directory: "db", DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
					selectorFrom(v1alpha1.SelectorSourcePromiseWorkflow, "storage", "ssd"),
				}},
				{ID: GroupID("cache"), Directory: "cache", DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
					selectorFrom(v1alpha1.SelectorSourcePromiseWorkflow, "memory", "high"),
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildWorkloadGroups(tt.entries, promiseSelectors, tt.workflowType)
			if err != nil {
				t.Fatalf("BuildWorkloadGroups: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBuildWorkloadGroupsRejects(t *testing.T) {
	if _, err := BuildWorkloadGroups(nil, nil, "job"); err == nil {
		t.Error("accepted workflow type \"job\"")
	}
	if _, err := BuildWorkloadGroups([]DestinationSelector{{Directory: "a/b", MatchLabels: labels("x", "y")}}, nil, v1alpha1.WorkflowTypeResource); err == nil {
		t.Error("accepted a nested directory")
	}
}

// TestBuiltGroupsScheduleAsTheContractSays connects the file to placement: the Promise's selector
// wins on the root group, and a directory group ignores it.
func TestBuiltGroupsScheduleAsTheContractSays(t *testing.T) {
	entries, err := ParseDestinationSelectors([]byte("- matchLabels: {env: dev}\n- directory: db\n  matchLabels: {storage: ssd}\n"))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := BuildWorkloadGroups(entries, []v1alpha1.PromiseScheduling{{MatchLabels: labels("env", "prod")}}, v1alpha1.WorkflowTypeResource)
	if err != nil {
		t.Fatal(err)
	}
	if got := GroupSelector(&groups[0]); !reflect.DeepEqual(got, labels("env", "prod")) {
		t.Errorf("root selector = %v, want the Promise's env=prod", got)
	}
	if got := GroupSelector(&groups[1]); !reflect.DeepEqual(got, labels("storage", "ssd")) {
		t.Errorf("db selector = %v, want its own storage=ssd", got)
	}
	groups[0].DestinationSelectors[0].MatchLabels["env"] = "changed"
	if entries[0].MatchLabels["env"] != "dev" {
		t.Error("the built groups alias the parsed entries")
	}
}
