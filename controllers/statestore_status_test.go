package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/statestore"
	"kratix.dev/kratix/statestore/git"
)

func TestSetStoreReadyCondition(t *testing.T) {
	base := storeFacts{
		target:       `repository "https://git.example.com/state.git" branch "main"`,
		secretRef:    "default/git-creds",
		requiredKeys: []string{"username", "password"},
	}
	with := func(change func(*storeFacts)) storeFacts {
		f := base
		change(&f)
		return f
	}
	cases := []struct {
		name        string
		facts       storeFacts
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantStatusV string
		wantInMsg   []string
	}{
		{"validated", base, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady, v1alpha1.StateStoreStatusReady,
			[]string{"https://git.example.com/state.git"}},
		{"secret in a namespace the engine does not read", with(func(f *storeFacts) {
			f.secretForbidden, f.secretNamespaces = true, []string{"kratix-platform-system", "team-a"}
		}), metav1.ConditionFalse, v1alpha1.ReasonSecretNamespaceNotAllowed, v1alpha1.StateStoreStatusNotReady,
			[]string{`"default/git-creds"`, "(kratix-platform-system, team-a)", "--state-store-secret-namespaces"}},
		{"secret missing", with(func(f *storeFacts) { f.secretMissing = true }),
			metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound, v1alpha1.StateStoreStatusNotReady,
			[]string{`"default/git-creds" not found`, "username and password"}},
		{"secret lacks a key", with(func(f *storeFacts) { f.missingKeys = []string{"password"} }),
			metav1.ConditionFalse, v1alpha1.ReasonInvalidSecret, v1alpha1.StateStoreStatusNotReady,
			[]string{"lacks the keys password"}},
		{"credentials refused", with(func(f *storeFacts) {
			f.writerErr = statestore.NewError(statestore.ErrAuthentication, "check push access", nil)
		}), metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions, v1alpha1.StateStoreStatusNotReady,
			[]string{"authentication failed", `credentials in Secret "default/git-creds"`}},
		{"store missing", with(func(f *storeFacts) {
			f.writerErr = statestore.NewError(statestore.ErrNotFound, `bucket "b"`, nil)
		}), metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions, v1alpha1.StateStoreStatusNotReady,
			[]string{"not found", "create it"}},
		{"credentials over plain http", with(func(f *storeFacts) {
			f.target = `repository "http://git.example.com/state.git" branch "main"`
			f.writerErr = statestore.NewError(statestore.ErrInvalidConfig, "git state store", git.ErrCredentialsOverHTTP)
		}), metav1.ConditionFalse, v1alpha1.ReasonCredentialsOverHTTP, v1alpha1.StateStoreStatusNotReady,
			[]string{`credentials in Secret "default/git-creds"`, "clear text", "http://git.example.com/state.git", "https", "spec.insecure"}},
		{"unreachable", with(func(f *storeFacts) {
			f.writerErr = statestore.NewError(statestore.ErrTransient, "clone", errors.New("connection refused"))
		}), metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions, v1alpha1.StateStoreStatusNotReady,
			[]string{"connection refused", "retries"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var status v1alpha1.StateStoreStatus
			setStoreReadyCondition(&status, 3, tc.facts)
			c := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
			if c == nil {
				t.Fatal("no Ready condition")
			}
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason || status.Status != tc.wantStatusV {
				t.Errorf("got Ready=%s %s, status %q; want Ready=%s %s, status %q", c.Status, c.Reason, status.Status, tc.wantStatus, tc.wantReason, tc.wantStatusV)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(c.Message, s) {
					t.Errorf("message %q lacks %q", c.Message, s)
				}
			}
		})
	}
}

// observedGeneration is the generation a condition was computed from, failures included
// (metav1.Condition's documented meaning): a failure of the current spec does not read as an
// old success.
func TestConditionObservesTheGenerationItWasComputedFrom(t *testing.T) {
	var status v1alpha1.StateStoreStatus
	setStoreReadyCondition(&status, 1, storeFacts{})
	setStoreReadyCondition(&status, 2, storeFacts{secretMissing: true})
	ready := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
	if ready.ObservedGeneration != 2 || ready.Status != metav1.ConditionFalse {
		t.Errorf("after a failure at generation 2: %s at observedGeneration %d, want False at 2", ready.Status, ready.ObservedGeneration)
	}
	if storeNotReadyReason(ready, 2) == "" {
		t.Error("a store that failed its current spec reads as ready")
	}
	setStoreReadyCondition(&status, 3, storeFacts{})
	if got := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady).ObservedGeneration; got != 3 {
		t.Errorf("after success at generation 3, observedGeneration = %d, want 3", got)
	}
}

func TestStoreResult(t *testing.T) {
	const interval = 7 * time.Minute
	cases := []struct {
		name         string
		facts        storeFacts
		wantRequeue  time.Duration
		wantErr      bool
		wantTerminal bool
	}{
		{"ready: revalidate later", storeFacts{}, interval, false, false},
		{"secret missing: the Secret watch brings it back", storeFacts{secretMissing: true}, 0, false, false},
		{"missing keys: terminal", storeFacts{missingKeys: []string{"password"}}, 0, true, true},
		{"refused credentials: terminal", storeFacts{writerErr: statestore.NewError(statestore.ErrAuthentication, "push", nil)}, 0, true, true},
		{"invalid config: terminal", storeFacts{writerErr: statestore.NewError(statestore.ErrInvalidConfig, "url", nil)}, 0, true, true},
		{"unreachable: backoff", storeFacts{writerErr: statestore.NewError(statestore.ErrTransient, "clone", nil)}, 0, true, false},
		{"bucket missing: backoff until it exists", storeFacts{writerErr: statestore.NewError(statestore.ErrNotFound, "bucket", nil)}, 0, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := storeResult(tc.facts, interval)
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %s, want %s", res.RequeueAfter, tc.wantRequeue)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := errors.Is(err, reconcile.TerminalError(nil)); got != tc.wantTerminal {
				t.Errorf("terminal = %v, want %v (err %v)", got, tc.wantTerminal, err)
			}
		})
	}
}

func TestRedactError(t *testing.T) {
	secret := map[string][]byte{"username": []byte("git"), "password": []byte("s3cr3t-pa55")}
	cause := statestore.NewError(statestore.ErrAuthentication, "push to https://git:s3cr3t-pa55@example.com", nil)
	err := redactError(cause, secret)
	if strings.Contains(err.Error(), "s3cr3t-pa55") {
		t.Errorf("the password survived: %q", err.Error())
	}
	if !errors.Is(err, statestore.ErrAuthentication) {
		t.Errorf("the error lost its kind: %v", err)
	}
	if redactError(nil, secret) != nil {
		t.Error("nil became an error")
	}
}

// The description of a store in its messages shows its URL or endpoint without userinfo, and a
// URL that does not parse not at all.
func TestStoreTargetHidesCredentials(t *testing.T) {
	for _, store := range []client.Object{
		&v1alpha1.GitStateStore{Spec: v1alpha1.GitStateStoreSpec{URL: "https://ghp_hunter2token@github.com/org/state.git"}},
		&v1alpha1.GitStateStore{Spec: v1alpha1.GitStateStoreSpec{URL: "https://user:hunter2-pw@git.example.com/state.git"}},
		&v1alpha1.GitStateStore{Spec: v1alpha1.GitStateStoreSpec{URL: "https://user:hunter2-pw%zz@git.example.com/state.git"}},
		&v1alpha1.BucketStateStore{Spec: v1alpha1.BucketStateStoreSpec{BucketName: "b", Endpoint: "key:hunter2-secret@s3.example.com:9000"}},
	} {
		kind, err := writers.KeyOf(store)
		if err != nil {
			t.Fatal(err)
		}
		target := storeKinds[kind.Kind].view(store).target
		if strings.Contains(target, "hunter2") {
			t.Errorf("the description shows a credential: %s", target)
		}
		if !strings.Contains(target, "example.com") && !strings.Contains(target, "github.com") && !strings.Contains(target, "unparseable") {
			t.Errorf("the description lost the host: %s", target)
		}
	}
}
