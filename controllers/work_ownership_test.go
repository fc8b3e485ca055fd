package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

func TestWorkOwnershipRefusal(t *testing.T) {
	opts := pipeline.Options{PlatformNamespace: "platform"}
	plain := &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: "redis"}}
	shared := plain.DeepCopy()
	shared.Spec.Workflows.Config.PipelineNamespace = "pipelines"
	work := func(ns, resourceNamespace, resource string) *v1alpha1.Work {
		return &v1alpha1.Work{
			ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: ns},
			Spec:       v1alpha1.WorkSpec{PromiseName: "redis", ResourceNamespace: resourceNamespace, ResourceName: resource},
		}
	}
	for _, tc := range []struct {
		name    string
		work    *v1alpha1.Work
		promise *v1alpha1.Promise
		refused string // a part of the refusal; "" for none
	}{
		{"Promise-level Work in the platform namespace", work("platform", "", ""), plain, ""},
		{"Promise-level Work in a tenant's namespace", work("team-a", "", ""), plain, `must be in namespace "platform"`},
		{"Promise-level Work of a Promise that does not exist, in a tenant's namespace", work("team-a", "", ""), nil, `must be in namespace "platform"`},
		{"resource Work beside its request", work("team-a", "team-a", "cache"), plain, ""},
		{"resource Work for another namespace's request", work("team-a", "team-b", "cache"), plain, `request "team-b/cache" must be in namespace "team-b"`},
		{"resource Work in the Promise's pipelineNamespace", work("pipelines", "team-b", "cache"), shared, ""},
		{"resource Work beside its request when the Promise has a pipelineNamespace", work("team-b", "team-b", "cache"), shared, `must be in namespace "pipelines"`},
		{"resource Work of a cluster-scoped request in the platform namespace", work("platform", "", "cache"), plain, ""},
		{"resource Work of a cluster-scoped request in a tenant's namespace", work("team-a", "", "cache"), plain, `request "cache" (cluster-scoped) must be in namespace "platform"`},
		{"resource Work of a Promise that does not exist, beside its request", work("team-a", "team-a", "cache"), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ownerRefusal(workOwner(tc.work), tc.promise, opts)
			switch {
			case tc.refused == "" && got != "":
				t.Errorf("refused: %s", got)
			case tc.refused != "" && !strings.Contains(got, tc.refused):
				t.Errorf("refusal %q, want one that says %q", got, tc.refused)
			}
		})
	}
}

// TestWorkOutsideItsOwnersNamespaceIsNotScheduled: whoever can write Works in a tenant's
// namespace (every pipeline ServiceAccount there) writes one in another Promise's name; a
// matching Destination exists, yet nothing is placed, and the Work says why.
func TestWorkOutsideItsOwnersNamespaceIsNotScheduled(t *testing.T) {
	startManager(t)
	ns := uniqueName("tenant")
	ensureNamespace(t, ns)
	selector := map[string]string{"ownership": uniqueName("any")}
	create(t, labelledDestination(uniqueName("dest"), selector))

	for _, work := range []*v1alpha1.Work{
		newWork(t, ns, "", rootGroup(t, selector, namespaceManifest("dependencies"))),
		func() *v1alpha1.Work {
			w := newWork(t, ns, "cache", rootGroup(t, selector, namespaceManifest("cache")))
			w.Spec.ResourceNamespace = "someone-else"
			return w
		}(),
	} {
		createWork(t, work)
		cond := waitForWorkCondition(t, work, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonWorkNotOwned)
		if !strings.Contains(cond.Message, "nothing of it is scheduled") {
			t.Errorf("ScheduleSucceeded message %q", cond.Message)
		}
		waitForNamespacedEvent(t, ns, "Work", work.Name, corev1.EventTypeWarning, v1alpha1.ReasonWorkNotOwned, func(string) bool { return true })
		if wps := listPlacements(t, work); len(wps) != 0 {
			t.Errorf("the refused Work %s has placements %v", work.Name, placementNames(wps))
		}
	}
}
