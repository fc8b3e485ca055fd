package scheduling

import (
	"reflect"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

func TestGroupSelector(t *testing.T) {
	const (
		promise  = v1alpha1.SelectorSourcePromise
		promiseW = v1alpha1.SelectorSourcePromiseWorkflow
		resource = v1alpha1.SelectorSourceResourceWorkflow
	)
	tests := []struct {
		name      string
		directory string
		selectors []v1alpha1.WorkloadGroupScheduling
		want      map[string]string
	}{
		{
			name:      "no selectors select nothing in particular",
			directory: ".",
			want:      map[string]string{},
		},
		{
			name:      "sources are AND-ed",
			directory: ".",
			selectors: []v1alpha1.WorkloadGroupScheduling{
				selectorFrom(resource, "tier", "gold"),
				selectorFrom(promiseW, "region", "eu"),
				selectorFrom(promise, "env", "prod"),
			},
			want: labels("tier", "gold", "region", "eu", "env", "prod"),
		},
		{
			name:      "promise wins a conflict even when listed first",
			directory: ".",
			selectors: []v1alpha1.WorkloadGroupScheduling{
				selectorFrom(promise, "env", "prod"),
				selectorFrom(promiseW, "env", "staging"),
				selectorFrom(resource, "env", "dev"),
			},
			want: labels("env", "prod"),
		},
		{
			name:      "promise workflow wins over resource workflow",
			directory: ".",
			selectors: []v1alpha1.WorkloadGroupScheduling{
				selectorFrom(promiseW, "env", "staging"),
				selectorFrom(resource, "env", "dev"),
			},
			want: labels("env", "staging"),
		},
		{
			name:      "later entry of the same source wins",
			directory: ".",
			selectors: []v1alpha1.WorkloadGroupScheduling{
				selectorFrom(promise, "env", "dev"),
				selectorFrom(promise, "env", "prod", "zone", "a"),
			},
			want: labels("env", "prod", "zone", "a"),
		},
		{
			name:      "directory group uses only its own entry",
			directory: "db",
			selectors: []v1alpha1.WorkloadGroupScheduling{
				selectorFrom(resource, "storage", "ssd"),
				selectorFrom(promise, "env", "prod"),
			},
			want: labels("storage", "ssd"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := group(tt.directory, nil, tt.selectors...)
			if got := GroupSelector(&g); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GroupSelector = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGroupSelectorDoesNotAliasTheWork(t *testing.T) {
	g := group(".", nil, selectorFrom(v1alpha1.SelectorSourcePromise, "env", "prod"))
	GroupSelector(&g)["env"] = "dev"
	if g.DestinationSelectors[0].MatchLabels["env"] != "prod" {
		t.Fatal("changing the resolved selector changed the Work")
	}
}
