package controllers

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
)

// The ClusterRole that `make manifests` generates from the controllers' RBAC markers is enough
// for them: a manager that runs as a user bound to it alone validates a store, makes a
// Destination ready and cleans it up.
func TestControllersNeedNoMoreThanTheGeneratedClusterRole(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatalf("read the generated ClusterRole (run `make manifests`): %v", err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		t.Fatal(err)
	}
	role.ObjectMeta = metav1.ObjectMeta{Name: uniqueName("kratix-manager-test")}
	create(t, &role)
	user := uniqueName("kratix-manager")
	create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	})
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	startManagerWith(t, cfg)

	f := newGitFixture(t)
	store := f.readyGitStore(t)
	dest := destination(v1alpha1.KindGitStateStore, store.Name, "rbac")
	dest.Spec.Cleanup = v1alpha1.DestinationCleanupAll
	create(t, dest)
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	waitForEvent(t, "Destination", dest.Name, "Normal", v1alpha1.ReasonTestDocumentsWritten)

	deleteAndWait(t, dest)
	if got := f.files(t); slices.Contains(got, canaryPaths("rbac")[0]) {
		t.Errorf("files on main after deletion: %v", got)
	}
}
