package controllers

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestOnlyTheEngineDeletesTheLatestRevision: the admission policy
// kratix-latest-revision-deletion (config/policy) refuses deleting a PromiseRevision whose
// status.latest is true from a user who may delete revisions but lacks the verb
// delete-latest-revisions that the engine's role holds; an older revision they may delete, and
// with the verb the latest one too.
func TestOnlyTheEngineDeletesTheLatestRevision(t *testing.T) {
	rules := func(verbs ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"promiserevisions"},
			Verbs: append([]string{"get", "list", "delete"}, verbs...)}}
	}
	user := userWith(t, uniqueName("platform-user"), rules())
	engine := userWith(t, uniqueName("engine"), rules(v1alpha1.VerbDeleteLatestRevisions))
	revision := func(latest bool) *v1alpha1.PromiseRevision {
		t.Helper()
		rev := &v1alpha1.PromiseRevision{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName("things-v1")},
			Spec:       v1alpha1.PromiseRevisionSpec{PromiseRef: v1alpha1.PromiseRef{Name: "things"}, Version: "v1"},
		}
		if err := env.Client.Create(t.Context(), rev); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), rev) })
		if latest {
			rev.Status.Latest = true
			if err := env.Client.Status().Update(t.Context(), rev); err != nil {
				t.Fatal(err)
			}
		}
		return rev
	}

	latest := revision(true)
	err := user.Delete(t.Context(), latest)
	if err == nil || !strings.Contains(err.Error(), "kratix-latest-revision-deletion") || !strings.Contains(err.Error(), "can not delete the latest PromiseRevision") {
		t.Errorf("a user deletes the latest revision: %v, want the policy's refusal", err)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(latest), latest); err != nil {
		t.Errorf("the latest revision: %v", err)
	}
	if err := engine.Delete(t.Context(), latest); err != nil {
		t.Errorf("the engine's verb deletes the latest revision: %v", err)
	}
	older := revision(false)
	if err := user.Delete(t.Context(), older); err != nil {
		t.Errorf("a user deletes an older revision: %v", err)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(older), older); !apierrors.IsNotFound(err) {
		t.Errorf("the older revision after its deletion: %v", err)
	}
}
