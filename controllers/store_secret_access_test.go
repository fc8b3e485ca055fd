package controllers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestOnlyWhoMayReadASecretPointsAStoreAtIt: the admission policy kratix-store-secret-access
// (config/policy) refuses a state store whose spec is new or changed, written by someone who
// may not get the Secret it names: they could otherwise have the engine send the platform's Git
// credentials to a server of their choice. Someone who may read the Secret, and changes of a
// store's metadata alone, pass.
func TestOnlyWhoMayReadASecretPointsAStoreAtIt(t *testing.T) {
	startManager(t)
	const password = "the-platforms-git-token-0123456789"
	secret := basicAuthSecret(t, uniqueName("platform-git"), "platform-bot", password)

	// A server of mallory's choice.
	server := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(server.Close)

	// mallory may manage GitStateStores and read no Secret; trent may also read this one.
	storeRules := []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"gitstatestores"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}
	mallory := userWith(t, uniqueName("mallory"), storeRules)
	trent := userWith(t, uniqueName("trent"), append(storeRules, rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secret.Name}, Verbs: []string{"get"}}))

	storeAt := func(url string) *v1alpha1.GitStateStore {
		return &v1alpha1.GitStateStore{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName("store")},
			Spec: v1alpha1.GitStateStoreSpec{
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: storeSecretRef(secret.Name)},
				URL:                  url, Branch: "main", Insecure: true,
			},
		}
	}
	refused := func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "kratix-store-secret-access") &&
			strings.Contains(err.Error(), "may not have the engine use Secret "+secret.Namespace+"/"+secret.Name)
	}

	if err := mallory.Create(t.Context(), storeAt(server.URL+"/org/state.git")); !refused(err) {
		t.Errorf("mallory, who cannot read the Secret, creates a store that names it: %v, want the policy's refusal", err)
	}

	// trent may read the Secret: his store is admitted.
	store := storeAt(server.URL + "/org/state.git")
	if err := trent.Create(t.Context(), store); err != nil {
		t.Fatalf("trent, who may read the Secret, creates a store that names it: %v", err)
	}
	t.Cleanup(func() { deleteAndWait(t, store) })

	// mallory may still label it, but not point it elsewhere.
	if err := mallory.Get(t.Context(), client.ObjectKeyFromObject(store), store); err != nil {
		t.Fatal(err)
	}
	labelled := store.DeepCopy()
	labelled.Labels = map[string]string{"team": "platform"}
	if err := mallory.Update(t.Context(), labelled); err != nil {
		t.Errorf("mallory labels the store: %v", err)
	}
	if err := mallory.Get(t.Context(), client.ObjectKeyFromObject(store), store); err != nil {
		t.Fatal(err)
	}
	moved := store.DeepCopy()
	moved.Spec.URL = server.URL + "/elsewhere.git"
	if err := mallory.Update(t.Context(), moved); !refused(err) {
		t.Errorf("mallory points the store at another URL: %v, want the policy's refusal", err)
	}
}

// userWith is a client acting as a new user who holds the rules cluster-wide.
func userWith(t *testing.T, user string, rules []rbacv1.PolicyRule) client.Client {
	t.Helper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("role")}, Rules: rules}
	create(t, role)
	create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	})
	return actingAs(t, user, "system:authenticated")
}

// TestOnlyWhoMayReadASecretPointsAReleaseAtIt: the admission policy
// kratix-promiserelease-secret-access refuses a PromiseRelease whose spec is new or changed,
// written by someone who may not get the Secret that its sourceRef names: the engine sends that
// Secret's authorizationHeader to the release's URL.
func TestOnlyWhoMayReadASecretPointsAReleaseAtIt(t *testing.T) {
	startManager(t)
	secret := basicAuthSecret(t, uniqueName("promise-source"), "reader", "the-promise-registry-token")
	server := httptest.NewServer(http.NotFoundHandler()) // a server of mallory's choice
	t.Cleanup(server.Close)

	releaseRules := []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"promisereleases"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}
	mallory := userWith(t, uniqueName("mallory"), releaseRules)
	trent := userWith(t, uniqueName("trent"), append(releaseRules, rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secret.Name}, Verbs: []string{"get"}}))
	releaseAt := func(url string) *v1alpha1.PromiseRelease {
		return &v1alpha1.PromiseRelease{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName("release")},
			Spec: v1alpha1.PromiseReleaseSpec{Version: "v1.0.0", SourceRef: v1alpha1.SourceRef{Type: "http", URL: url,
				SecretRef: &corev1.SecretReference{Name: secret.Name, Namespace: secret.Namespace}}},
		}
	}
	refused := func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "kratix-promiserelease-secret-access") &&
			strings.Contains(err.Error(), "may not have the engine use Secret "+secret.Namespace+"/"+secret.Name)
	}
	if err := mallory.Create(t.Context(), releaseAt(server.URL+"/promise.yaml")); !refused(err) {
		t.Errorf("mallory, who cannot read the Secret, creates a release that names it: %v, want the policy's refusal", err)
	}
	release := releaseAt(server.URL + "/promise.yaml")
	if err := trent.Create(t.Context(), release); err != nil {
		t.Fatalf("trent, who may read the Secret, creates a release that names it: %v", err)
	}
	t.Cleanup(func() { deleteAndWait(t, release) })
	if err := mallory.Get(t.Context(), client.ObjectKeyFromObject(release), release); err != nil {
		t.Fatal(err)
	}
	moved := release.DeepCopy()
	moved.Spec.SourceRef.URL = server.URL + "/elsewhere.yaml"
	if err := mallory.Update(t.Context(), moved); !refused(err) {
		t.Errorf("mallory points the release at another URL: %v, want the policy's refusal", err)
	}
}

// actingAs is a client of the test's API server that impersonates user in groups: it has only
// the rights granted to them.
func actingAs(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
