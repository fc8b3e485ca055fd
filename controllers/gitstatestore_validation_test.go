package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// A GitStateStore whose Secret holds the server's credentials becomes Ready, says so in
// status.status (the Ready column), and an Event tells of it.
func TestGitStateStoreWithCorrectSecretIsReady(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)

	if store.Status.Status != v1alpha1.StateStoreStatusReady {
		t.Errorf("status.status = %q, want Ready", store.Status.Status)
	}
	cond := waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	if cond.ObservedGeneration != store.Generation {
		t.Errorf("observedGeneration = %d, want %d", cond.ObservedGeneration, store.Generation)
	}
	waitForEvent(t, "GitStateStore", store.Name, corev1.EventTypeNormal, v1alpha1.ReasonStateStoreReady)
	if n := f.commits(t); n != 0 {
		t.Errorf("validation left %d commits; it must write nothing", n)
	}
}

// A wrong password makes the store NotReady without the password showing anywhere; fixing the
// Secret makes it Ready, with one new writer built for the new Secret.
func TestGitStateStoreWrongPasswordThenFixedSecret(t *testing.T) {
	factory := startManager(t)
	f := newGitFixture(t)
	const wrong = "wrong-password-1234"
	secret := basicAuthSecret(t, uniqueName("git-creds"), f.server.Username(), wrong)
	store := f.gitStore(uniqueName("git"), secret.Name)
	create(t, store)

	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions)
	if store.Status.Status != v1alpha1.StateStoreStatusNotReady {
		t.Errorf("status.status = %q, want NotReady", store.Status.Status)
	}
	if !strings.Contains(cond.Message, "authentication") || !strings.Contains(cond.Message, secret.Name) {
		t.Errorf("the message does not say that the credentials of the Secret were refused: %q", cond.Message)
	}
	ev := waitForEvent(t, "GitStateStore", store.Name, corev1.EventTypeWarning, v1alpha1.ReasonErrorValidatingPermissions)
	for _, text := range []string{cond.Message, ev.Note} {
		if strings.Contains(text, wrong) || strings.Contains(text, f.server.Password()) {
			t.Errorf("a password leaked: %q", text)
		}
	}
	if got := factory.builds.Load(); got != 1 {
		t.Errorf("writers built for the first Secret: %d, want 1", got)
	}

	secret.Data[v1alpha1.SecretKeyPassword] = []byte(f.server.Password())
	if err := env.Client.Update(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	waitForEvent(t, "GitStateStore", store.Name, corev1.EventTypeNormal, v1alpha1.ReasonStateStoreReady)
	if got := factory.builds.Load(); got != 2 {
		t.Errorf("writers built after the Secret changed: %d, want 2", got)
	}
}

// A store whose Secret does not exist yet says so, and becomes Ready when the Secret is created,
// without anyone touching the store.
func TestGitStateStoreSecretCreatedLater(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	secretName := uniqueName("git-creds")
	store := f.gitStore(uniqueName("git"), secretName)
	create(t, store)

	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	if !strings.Contains(cond.Message, v1alpha1.DefaultPlatformNS+"/"+secretName) {
		t.Errorf("the message does not name the Secret: %q", cond.Message)
	}
	waitForEvent(t, "GitStateStore", store.Name, corev1.EventTypeWarning, v1alpha1.ReasonSecretNotFound)
	generation := store.Generation

	basicAuthSecret(t, secretName, f.server.Username(), f.server.Password())
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	if store.Generation != generation {
		t.Errorf("the store's generation moved from %d to %d; the test must not touch it", generation, store.Generation)
	}
}

// A Secret without the keys the authentication method needs is reported as such.
func TestGitStateStoreSecretWithoutPassword(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	secret := &corev1.Secret{
		ObjectMeta: storeSecretMeta(t, uniqueName("git-creds")),
		Data:       map[string][]byte{v1alpha1.SecretKeyUsername: []byte(f.server.Username())},
	}
	create(t, secret)
	store := f.gitStore(uniqueName("git"), secret.Name)
	create(t, store)

	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonInvalidSecret)
	if !strings.Contains(cond.Message, "password") {
		t.Errorf("the message does not name the missing key: %q", cond.Message)
	}
}

// Changing the store's spec (here to a repository that does not exist) is validated again.
func TestGitStateStoreSpecChangeIsValidatedAgain(t *testing.T) {
	factory := startManager(t)
	f := newGitFixture(t)
	store := f.readyGitStore(t)

	store.Spec.URL = f.server.URL("missing.git")
	if err := env.Client.Update(t.Context(), store); err != nil {
		t.Fatal(err)
	}
	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions)
	if !strings.Contains(cond.Message, "missing.git") {
		t.Errorf("the message does not name the repository: %q", cond.Message)
	}
	if cond.ObservedGeneration != store.Generation {
		t.Errorf("the failure's observedGeneration = %d, want the spec it validated, %d", cond.ObservedGeneration, store.Generation)
	}
	if got := factory.builds.Load(); got != 2 {
		t.Errorf("writers built: %d, want 2 (one per spec)", got)
	}
}

// TestStoreSecretOutsideAllowedNamespacesIsNeverRead: whoever may create a store names a Secret
// of another namespace (here default, holding working credentials) and a URL of their choice.
// The manager, by default reading store Secrets from the platform namespace alone, never reads
// it and says why; a manager told to allow any namespace uses it.
func TestStoreSecretOutsideAllowedNamespacesIsNeverRead(t *testing.T) {
	f := newGitFixture(t)
	store, secret := storeWithSecretInDefault(t, f)

	factory := startManager(t)
	create(t, store)
	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonSecretNamespaceNotAllowed)
	if !strings.Contains(cond.Message, "default/"+secret.Name) || !strings.Contains(cond.Message, v1alpha1.DefaultPlatformNS) {
		t.Errorf("the message does not name the Secret and the namespaces allowed: %q", cond.Message)
	}
	if n := factory.builds.Load(); n != 0 {
		t.Errorf("%d writers were built, so the Secret was read and its credentials sent", n)
	}
	if n := f.server.Stats().Requests; n != 0 {
		t.Errorf("the Git server saw %d requests", n)
	}
}

// TestStoreSecretNamespacesCanBeWidened: --state-store-secret-namespaces=* lets a store use a
// Secret of any namespace.
func TestStoreSecretNamespacesCanBeWidened(t *testing.T) {
	f := newGitFixture(t)
	store, _ := storeWithSecretInDefault(t, f)
	startManagerWithOptions(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2, StateStoreSecretNamespaces: []string{AnyNamespace}})
	create(t, store)
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
}

// A store that would send its Secret's credentials over plain http is not Ready, with a reason of
// its own and a Warning Event, and the server hears nothing from it; insecure: true accepts the
// risk.
func TestGitStateStoreRefusesCredentialsOverPlainHTTP(t *testing.T) {
	startManager(t)
	f := newGitFixture(t)
	secret := basicAuthSecret(t, uniqueName("git-creds"), f.server.Username(), f.server.Password())
	store := f.gitStore(uniqueName("git"), secret.Name)
	store.Spec.Insecure = false
	requests := f.server.Stats().Requests
	create(t, store)

	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonCredentialsOverHTTP)
	for _, want := range []string{secret.Name, "clear text", f.server.Addr(), "https", "insecure"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("the message does not say %q: %s", want, cond.Message)
		}
	}
	ev := waitForEvent(t, "GitStateStore", store.Name, corev1.EventTypeWarning, v1alpha1.ReasonCredentialsOverHTTP)
	for _, text := range []string{cond.Message, ev.Note} {
		if strings.Contains(text, f.server.Password()) {
			t.Errorf("the password shows: %s", text)
		}
	}
	if n := f.server.Stats().Requests - requests; n != 0 {
		t.Errorf("the server got %d requests from a refused store", n)
	}

	update(t, store, func(s *v1alpha1.GitStateStore) { s.Spec.Insecure = true })
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
}

// storeWithSecretInDefault creates a Secret with the server's credentials in namespace default,
// outside the namespaces the manager reads store Secrets from by default, and returns a store
// (not created) that names it.
func storeWithSecretInDefault(t *testing.T, f *gitFixture) (*v1alpha1.GitStateStore, *corev1.Secret) {
	t.Helper()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("team-creds"), Namespace: metav1.NamespaceDefault},
		Data: map[string][]byte{
			v1alpha1.SecretKeyUsername: []byte(f.server.Username()),
			v1alpha1.SecretKeyPassword: []byte(f.server.Password()),
		},
	}
	create(t, secret)
	store := f.gitStore(uniqueName("git"), secret.Name)
	store.Spec.SecretRef.Namespace = metav1.NamespaceDefault
	return store, secret
}
