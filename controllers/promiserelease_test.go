package controllers

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// releaseServer serves Promises over HTTP on 127.0.0.1 behind basic auth: /<version>/promise.yaml
// is the Promise `name` at that version, /bad.yaml a ConfigMap, anything else 404.
type releaseServer struct {
	*httptest.Server
	user, password string
	requests       atomic.Int64
}

func newReleaseServer(t *testing.T, name string) *releaseServer {
	t.Helper()
	s := &releaseServer{user: "kratix", password: "s3cret-Pa55word"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		user, password, ok := r.BasicAuth()
		if !ok || user != s.user || password != s.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="promises"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/bad.yaml":
			fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-a-promise\n")
		case r.URL.Path == "/unversioned.yaml":
			fmt.Fprintf(w, "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata:\n  name: %s\nspec: {}\n", name)
		case strings.HasSuffix(r.URL.Path, "/promise.yaml") && strings.Count(r.URL.Path, "/") == 2:
			version := strings.Split(r.URL.Path, "/")[1]
			fmt.Fprintf(w, `apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: %s
  labels:
    kratix.io/promise-version: %s
  annotations:
    example.com/served-by: release-server
spec:
  dependencies:
  - apiVersion: v1
    kind: Namespace
    metadata:
      name: ns-%s
`, name, version, strings.ReplaceAll(version, ".", "-"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("the server listens on %s, not loopback", s.URL)
	}
	return s
}

// authSecret creates a Secret with the Authorization header of user:password.
func authSecret(t *testing.T, user, password string) *corev1.Secret {
	t.Helper()
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("release-auth"), Namespace: metav1.NamespaceDefault},
		Data:       map[string][]byte{v1alpha1.SecretKeyAuthorizationHeader: []byte(header)},
	}
	create(t, secret)
	return secret
}

func newRelease(name, url, version string, secret *corev1.Secret) *v1alpha1.PromiseRelease {
	r := &v1alpha1.PromiseRelease{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.PromiseReleaseSpec{
			Version:   version,
			SourceRef: v1alpha1.SourceRef{Type: v1alpha1.SourceTypeHTTP, URL: url},
		},
	}
	if secret != nil {
		r.Spec.SourceRef.SecretRef = &corev1.SecretReference{Name: secret.Name, Namespace: secret.Namespace}
	}
	return r
}

// waitForRelease waits until the release's Installed condition has the status and reason for its
// current generation.
func waitForRelease(t *testing.T, r *v1alpha1.PromiseRelease, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	waitFor(t, fmt.Sprintf("PromiseRelease %s Installed=%s %s", r.Name, status, reason), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(r), r); err != nil {
			return err
		}
		c := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionInstalled)
		switch {
		case c == nil:
			return fmt.Errorf("no Installed condition: %+v", r.Status)
		case c.Status != status || c.Reason != reason:
			return fmt.Errorf("Installed=%s %s: %s", c.Status, c.Reason, c.Message)
		case c.ObservedGeneration != r.Generation:
			return fmt.Errorf("generation %d not observed yet (%d)", r.Generation, c.ObservedGeneration)
		}
		got = *c
		return nil
	})
	return got
}

// waitForReleasedPromise waits until the Promise is at the version, labelled and owned by the
// release, and returns it.
func waitForReleasedPromise(t *testing.T, name string, release *v1alpha1.PromiseRelease, version string) *v1alpha1.Promise {
	t.Helper()
	p := &v1alpha1.Promise{}
	waitFor(t, fmt.Sprintf("Promise %s at version %s", name, version), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, p); err != nil {
			return err
		}
		if v := p.Labels[v1alpha1.LabelPromiseVersion]; v != version {
			return fmt.Errorf("version %q", v)
		}
		return nil
	})
	if got := p.Labels[v1alpha1.LabelPromiseReleaseName]; got != release.Name {
		t.Errorf("label %s=%q, want %q", v1alpha1.LabelPromiseReleaseName, got, release.Name)
	}
	if owner := metav1.GetControllerOf(p); owner == nil || owner.Kind != "PromiseRelease" || owner.Name != release.Name {
		t.Errorf("controller owner %+v, want the PromiseRelease %s", owner, release.Name)
	}
	if got := p.Annotations["example.com/served-by"]; got != "release-server" {
		t.Errorf("annotation of the served Promise %q", got)
	}
	wantNS := "ns-" + strings.ReplaceAll(version, ".", "-")
	if len(p.Spec.Dependencies) != 1 || p.Spec.Dependencies[0].Object["metadata"].(map[string]any)["name"] != wantNS {
		t.Errorf("dependencies %+v, want the Namespace %s", p.Spec.Dependencies, wantNS)
	}
	return p
}

// A PromiseRelease installs the Promise its URL serves behind basic auth, upgrades it when its
// URL and version change, fills in an empty version, and deletes it when it is deleted.
func TestPromiseReleaseInstallUpgradeDelete(t *testing.T) {
	startManagerWithOptions(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2, PromiseReleaseRetryInterval: time.Second})
	name := uniqueName("released")
	srv := newReleaseServer(t, name)
	secret := authSecret(t, srv.user, srv.password)

	release := newRelease(uniqueName("release"), srv.URL+"/v1.0.0/promise.yaml", "v1.0.0", secret)
	create(t, release)
	c := waitForRelease(t, release, metav1.ConditionTrue, v1alpha1.ReasonInstalledSuccessfully)
	if release.Status.Status != v1alpha1.PromiseReleaseStatusInstalled {
		t.Errorf("status.status %q", release.Status.Status)
	}
	if !slices.Contains(release.Finalizers, v1alpha1.FinalizerPromiseCleanup) {
		t.Errorf("finalizers %v lack %s", release.Finalizers, v1alpha1.FinalizerPromiseCleanup)
	}
	t.Logf("installed: %s", c.Message)
	waitForReleasedPromise(t, name, release, "v1.0.0")

	// Up to date: no fetch while nothing changes.
	before := srv.requests.Load()
	time.Sleep(2 * time.Second)
	if n := srv.requests.Load() - before; n != 0 {
		t.Errorf("%d fetches of an installed release whose spec did not change", n)
	}

	// Upgrade by URL.
	base := release.DeepCopy()
	release.Spec.SourceRef.URL = srv.URL + "/v2.0.0/promise.yaml"
	release.Spec.Version = "v2.0.0"
	if err := env.Client.Patch(t.Context(), release, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitForRelease(t, release, metav1.ConditionTrue, v1alpha1.ReasonInstalledSuccessfully)
	waitForReleasedPromise(t, name, release, "v2.0.0")

	// The Promise deleted by hand comes back.
	if err := env.Client.Delete(t.Context(), &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Promise is installed again", func() error {
		p := &v1alpha1.Promise{}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, p); err != nil {
			return err
		}
		if !p.DeletionTimestamp.IsZero() {
			return fmt.Errorf("still being deleted")
		}
		return nil
	})

	// Deleting the release deletes its Promise, then the release.
	deleteAndWait(t, release)
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, &v1alpha1.Promise{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Promise outlived its release: %v", err)
	}

	// A release without a version takes the served Promise's.
	unversioned := newRelease(uniqueName("release"), srv.URL+"/v3.1.0/promise.yaml", "", secret)
	create(t, unversioned)
	waitForRelease(t, unversioned, metav1.ConditionTrue, v1alpha1.ReasonInstalledSuccessfully)
	if unversioned.Spec.Version != "v3.1.0" {
		t.Errorf("spec.version %q, want the served v3.1.0", unversioned.Spec.Version)
	}
	waitForReleasedPromise(t, name, unversioned, "v3.1.0")
	deleteAndWait(t, unversioned)
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, &v1alpha1.Promise{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Promise outlived its release: %v", err)
	}
}

// A reconcile that reads the release from a cache not yet showing its install's status (the
// installed Promise's own events start one at once) does not fetch the Promise again; a new
// generation does.
func TestAReleaseReadBehindItsInstallIsNotFetchedAgain(t *testing.T) {
	name := uniqueName("released")
	srv := newReleaseServer(t, name)
	secret := authSecret(t, srv.user, srv.password)
	release := newRelease(uniqueName("release"), srv.URL+"/v1.0.0/promise.yaml", "v1.0.0", secret)
	create(t, release)
	behind := release.DeepCopy() // the release as a cache that has not seen the install's status
	r := &PromiseReleaseReconciler{Client: env.Client, APIReader: env.Client}
	if _, _, err := r.install(t.Context(), release); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: name}}) })
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d fetches to install, want 1", n)
	}
	if err := env.Client.Status().Update(t.Context(), release); err != nil { // as Reconcile writes it
		t.Fatal(err)
	}

	if _, _, err := r.install(t.Context(), behind); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d fetches after a reconcile of the release as it was before its install, want 1", n)
	}
	base := release.DeepCopy()
	release.Spec.SourceRef.URL, release.Spec.Version = srv.URL+"/v2.0.0/promise.yaml", "v2.0.0"
	if err := env.Client.Patch(t.Context(), release, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.install(t.Context(), release); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d fetches after a reconcile of a new generation, want 2", n)
	}
}

// Each failure to install is in the release's status, with a message that says what to fix and
// never the credentials; fixing it installs the Promise.
func TestPromiseReleaseFailures(t *testing.T) {
	startManagerWithOptions(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2, PromiseReleaseRetryInterval: time.Second})
	name := uniqueName("released")
	srv := newReleaseServer(t, name)
	good := authSecret(t, srv.user, srv.password)
	wrongPassword := "not-the-Pa55word"
	wrong := authSecret(t, srv.user, wrongPassword)

	cases := []struct {
		name, path, version string
		secret              *corev1.Secret
		reason              string
		says                []string
	}{
		{"not found", "/v9.9.9/missing.yaml", "v9.9.9", good, v1alpha1.ReasonFailedToFetchPromise, []string{"404", "no Promise at this URL", "spec.sourceRef.url"}},
		{"wrong password", "/v1.0.0/promise.yaml", "v1.0.0", wrong, v1alpha1.ReasonUnauthorized, []string{"401", "refused the credentials", wrong.Namespace + "/" + wrong.Name, "authorizationHeader"}},
		{"no credentials", "/v1.0.0/promise.yaml", "v1.0.0", nil, v1alpha1.ReasonUnauthorized, []string{"401", "spec.sourceRef.secretRef"}},
		{"not a Promise", "/bad.yaml", "v1.0.0", good, v1alpha1.ReasonInvalidPromise, []string{"ConfigMap", "not a Promise"}},
		{"no version label", "/unversioned.yaml", "v1.0.0", good, v1alpha1.ReasonVersionLabelNotFound, []string{v1alpha1.LabelPromiseVersion}},
		{"other version", "/v1.0.0/promise.yaml", "v2.0.0", good, v1alpha1.ReasonVersionNotMatching, []string{"found: v1.0.0, expected: v2.0.0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			release := newRelease(uniqueName("release"), srv.URL+tc.path, tc.version, tc.secret)
			create(t, release)
			c := waitForRelease(t, release, metav1.ConditionFalse, tc.reason)
			t.Logf("%s: %s", c.Reason, c.Message)
			if release.Status.Status != v1alpha1.PromiseReleaseStatusErrorInstalling {
				t.Errorf("status.status %q", release.Status.Status)
			}
			for _, s := range tc.says {
				if !strings.Contains(c.Message, s) {
					t.Errorf("message %q does not say %q", c.Message, s)
				}
			}
			for _, secret := range []string{srv.password, wrongPassword, string(good.Data[v1alpha1.SecretKeyAuthorizationHeader]), string(wrong.Data[v1alpha1.SecretKeyAuthorizationHeader])} {
				if strings.Contains(c.Message, secret) {
					t.Errorf("message %q holds a credential", c.Message)
				}
			}
			ev := waitForEvent(t, "PromiseRelease", release.Name, corev1.EventTypeWarning, tc.reason)
			if strings.Contains(ev.Note, srv.password) || strings.Contains(ev.Note, wrongPassword) {
				t.Errorf("Event %q holds a credential", ev.Note)
			}
			if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, &v1alpha1.Promise{}); !apierrors.IsNotFound(err) {
				t.Errorf("a Promise was installed: %v", err)
			}
		})
	}

	// Fixing the Secret of the release with the wrong password installs the Promise on the
	// next retry.
	t.Run("fixed password", func(t *testing.T) {
		secret := authSecret(t, srv.user, wrongPassword)
		release := newRelease(uniqueName("release"), srv.URL+"/v1.0.0/promise.yaml", "v1.0.0", secret)
		create(t, release)
		waitForRelease(t, release, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized)
		secret.Data = good.Data
		if err := env.Client.Update(t.Context(), secret); err != nil {
			t.Fatal(err)
		}
		waitForRelease(t, release, metav1.ConditionTrue, v1alpha1.ReasonInstalledSuccessfully)
		waitForReleasedPromise(t, name, release, "v1.0.0")
		deleteAndWait(t, release)
	})
}
