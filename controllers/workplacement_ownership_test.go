package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestAWorkPlacementWritesOnlyWhatItsNamespaceOwns: a WorkPlacement says whose files it holds,
// as a Work does, and the same rule applies (work_ownership.go): one in team-a naming team-b's
// request, with no Work behind it (a tenant whose role lets it create WorkPlacements), writes
// nothing (ScheduleSucceeded and Ready False, WorkNotOwned), and its deletion removes nothing
// of team-b's.
func TestAWorkPlacementWritesOnlyWhatItsNamespaceOwns(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	selector := map[string]string{"attack": uniqueName("wp")}
	dest := readyDestinationOn(t, store, uniqueName("dev"), selector)
	teamA, teamB := uniqueName("team-a"), uniqueName("team-b")
	ensureNamespace(t, teamA)
	ensureNamespace(t, teamB)

	// team-b's request db has its files on dev, written by its own Work.
	victimManifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db-config\n  namespace: " + teamB + "\ndata:\n  owner: team-b\n"
	work := newWork(t, teamB, "db", rootGroup(t, selector, victimManifest))
	work.Spec.PipelineName = "render"
	createWork(t, work)
	victimWP := placementKey(work, work.Name+"."+dest.Name)
	waitForPlacement(t, victimWP, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	victimFile := victimWP.Status.Path + "/manifest.yaml"
	if got := f.show(t, victimFile); got != victimManifest {
		t.Fatalf("%s = %q", victimFile, got)
	}

	// A WorkPlacement in team-a, no Work behind it, naming team-b's request.
	evil := &v1alpha1.WorkPlacement{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("wp"), Namespace: teamA},
		Spec: v1alpha1.WorkPlacementSpec{
			TargetDestinationName: dest.Name,
			PromiseName:           work.Spec.PromiseName,
			ResourceNamespace:     teamB,
			ResourceName:          "db",
			PipelineName:          "render",
			ID:                    work.Spec.WorkloadGroups[0].ID,
			Workloads: placementWorkloads(t, map[string]string{"manifest.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db-config\n  namespace: " + teamB +
				"\ndata:\n  owner: team-a\n  DATABASE_URL: postgres://attacker.example/db\n"}),
		},
	}
	create(t, evil)
	waitFor(t, "the placement in team-a has a WriteSucceeded condition", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(evil), evil); err != nil {
			return err
		}
		if meta.FindStatusCondition(evil.Status.Conditions, v1alpha1.ConditionWriteSucceeded) == nil {
			return fmt.Errorf("no WriteSucceeded condition yet")
		}
		return nil
	})
	if c := meta.FindStatusCondition(evil.Status.Conditions, v1alpha1.ConditionWriteSucceeded); c.Status == metav1.ConditionTrue || c.Reason != v1alpha1.ReasonWorkNotOwned {
		t.Errorf("WorkPlacement %s/%s, which no Work controls, wrote team-b's directory %s: WriteSucceeded=%s %s", teamA, evil.Name, evil.Status.Path, c.Status, c.Reason)
	}
	waitForPlacement(t, evil, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonWorkNotOwned)
	if got := f.show(t, victimFile); got != victimManifest {
		t.Errorf("team-b's %s now holds what team-a wrote:\n%s", victimFile, got)
	}

	deleteAndWait(t, evil)
	if got := f.filesUnder(t, victimWP.Status.Path); len(got) == 0 {
		t.Errorf("deleting team-a's WorkPlacement removed team-b's directory %s", victimWP.Status.Path)
	}
}

// TestOnlyTheEngineWritesWorkPlacements: the admission policy kratix-workplacement-writers
// (config/policy) refuses a WorkPlacement, or a change of its spec or labels, from a user whose
// role lets them write WorkPlacements but who lacks the verb write-workplacements that the
// engine's role holds; with that verb (and for administrators) it passes.
func TestOnlyTheEngineWritesWorkPlacements(t *testing.T) {
	ns := uniqueName("team")
	ensureNamespace(t, ns)
	writes := []string{"get", "list", "create", "update", "patch", "delete"}
	tenant := userWith(t, uniqueName("tenant"), []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"workplacements"}, Verbs: writes}})
	engine := userWith(t, uniqueName("engine"), []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"workplacements"},
		Verbs: append(writes, v1alpha1.VerbWriteWorkPlacements)}})

	wp := newPlacement(t, uniqueName("dest"), "db", map[string]string{"a.yaml": "kind: A\n"})
	wp.Namespace, wp.Spec.ResourceNamespace = ns, ns
	err := tenant.Create(t.Context(), wp.DeepCopy())
	if err == nil || !strings.Contains(err.Error(), "kratix-workplacement-writers") {
		t.Errorf("a tenant creates a WorkPlacement: %v, want the policy's refusal", err)
	}
	if err := engine.Create(t.Context(), wp); err != nil {
		t.Fatalf("the engine's verb creates a WorkPlacement: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), wp) })
	if err := tenant.Get(t.Context(), client.ObjectKeyFromObject(wp), wp); err != nil {
		t.Fatal(err)
	}
	frozen := wp.DeepCopy()
	frozen.Labels = map[string]string{v1alpha1.LabelMisscheduled: "true"}
	if err := tenant.Update(t.Context(), frozen); err == nil || !strings.Contains(err.Error(), "kratix-workplacement-writers") {
		t.Errorf("a tenant labels a WorkPlacement misscheduled: %v, want the policy's refusal", err)
	}
}
