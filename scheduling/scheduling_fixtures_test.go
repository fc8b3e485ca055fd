package scheduling

import (
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// Test fixtures shared by the tests of this package.

const testNamespace = "team-a"

// destination is a Destination named name with the given labels.
func destination(name string, labels map[string]string) v1alpha1.Destination {
	return v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: v1alpha1.DestinationSpec{
			StateStoreRef: v1alpha1.StateStoreReference{Kind: "GitStateStore", Name: "default"},
			Path:          name,
		},
	}
}

// strict is d with strictMatchLabels set.
func strict(d v1alpha1.Destination) v1alpha1.Destination {
	d.Spec.StrictMatchLabels = true
	return d
}

// deleting is d with a deletionTimestamp.
func deleting(d v1alpha1.Destination) v1alpha1.Destination {
	now := metav1.NewTime(time.Unix(1700000000, 0))
	d.DeletionTimestamp = &now
	return d
}

// labels builds a label map from key, value pairs.
func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// selectorFrom is one selector entry of a workload group.
func selectorFrom(source string, kv ...string) v1alpha1.WorkloadGroupScheduling {
	return v1alpha1.WorkloadGroupScheduling{MatchLabels: labels(kv...), Source: source}
}

// workloads is one file per content string, named after its position.
func workloads(contents ...string) []v1alpha1.Workload {
	var w []v1alpha1.Workload
	for i, c := range contents {
		w = append(w, v1alpha1.Workload{Filepath: "file-" + string(rune('a'+i)) + ".yaml", Content: c})
	}
	return w
}

// group is a workload group for directory (RootDirectory for the root group).
func group(directory string, files []v1alpha1.Workload, selectors ...v1alpha1.WorkloadGroupScheduling) v1alpha1.WorkloadGroup {
	return v1alpha1.WorkloadGroup{
		ID:                   GroupID(directory),
		Directory:            directory,
		Workloads:            files,
		DestinationSelectors: selectors,
	}
}

// promiseWork is a Promise-level Work (static dependencies of promise "namespace").
func promiseWork(name string, groups ...v1alpha1.WorkloadGroup) *v1alpha1.Work {
	return &v1alpha1.Work{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: v1alpha1.DefaultPlatformNS},
		Spec:       v1alpha1.WorkSpec{PromiseName: "namespace", WorkloadGroups: groups},
	}
}

// resourceWork is the Work of resource request resource of promise "app", pipeline "configure".
func resourceWork(name, resource string, groups ...v1alpha1.WorkloadGroup) *v1alpha1.Work {
	return &v1alpha1.Work{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: v1alpha1.WorkSpec{
			PromiseName:    "app",
			ResourceName:   resource,
			PipelineName:   "configure",
			WorkloadGroups: groups,
		},
	}
}

// apply carries out plan on existing as a controller would and returns the placements that exist
// afterwards, sorted by name.
func apply(t *testing.T, existing []v1alpha1.WorkPlacement, plan Plan) []v1alpha1.WorkPlacement {
	t.Helper()
	byName := map[string]v1alpha1.WorkPlacement{}
	for _, wp := range existing {
		byName[wp.Name] = wp
	}
	for _, wp := range plan.Create {
		if _, exists := byName[wp.Name]; exists {
			t.Fatalf("plan creates %s, which exists", wp.Name)
		}
		byName[wp.Name] = wp
	}
	for _, list := range [][]v1alpha1.WorkPlacement{plan.Update, plan.Misschedule, plan.Unmisschedule} {
		for _, wp := range list {
			if _, exists := byName[wp.Name]; !exists {
				t.Fatalf("plan changes %s, which does not exist", wp.Name)
			}
			byName[wp.Name] = wp
		}
	}
	for _, wp := range plan.Delete {
		delete(byName, wp.Name)
	}
	out := make([]v1alpha1.WorkPlacement, 0, len(byName))
	for _, wp := range byName {
		out = append(out, wp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// placementNames are the names of placements, in order.
func placementNames(placements []v1alpha1.WorkPlacement) []string {
	out := []string{}
	for _, wp := range placements {
		out = append(out, wp.Name)
	}
	return out
}

// contents are the contents of a placement's workloads, in order.
func contents(wp v1alpha1.WorkPlacement) []string {
	out := []string{}
	for _, w := range wp.Spec.Workloads {
		out = append(out, w.Content)
	}
	return out
}
