package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/pipeline/adapter"
)

// TestUpstreamFieldsApply: objects written for upstream Kratix with the fields of its
// api/v1alpha1 that this engine once refused (or pruned) apply unchanged, with strict field
// validation as kubectl uses it, and keep the fields; what upstream refuses too stays refused.
func TestUpstreamFieldsApply(t *testing.T) {
	startManager(t)
	pipelineWith := func(restart corev1.RestartPolicy) *v1alpha1.Promise {
		p := apiPromise(t, uniqueName("restart"), uniqueName("restart")+".example.com", "Thing")
		pl := shPipeline("render", "true")
		pl.Spec.RestartPolicy = restart
		p.Spec.Workflows.Resource.Configure = []v1alpha1.Pipeline{pl}
		return p
	}
	destination := func(path string) *v1alpha1.Destination {
		d := labelledDestination(uniqueName("root"), nil)
		d.Spec.Path = path
		return d
	}
	tests := []struct {
		name    string
		obj     client.Object
		check   func(client.Object) error
		refused string // part of the refusal, or "" when the object must apply
	}{
		{
			name: "requiredPromises without a version (any version)",
			obj: func() client.Object {
				p := apiPromise(t, uniqueName("compound"), uniqueName("compound")+".example.com", "App")
				p.Spec.RequiredPromises = []v1alpha1.RequiredPromise{{Name: "postgres"}, {Name: "redis", Version: "v1.2.0"}}
				return p
			}(),
			check: func(o client.Object) error {
				got := o.(*v1alpha1.Promise).Spec.RequiredPromises
				if len(got) != 2 || got[0] != (v1alpha1.RequiredPromise{Name: "postgres"}) || got[1].Version != "v1.2.0" {
					return fmt.Errorf("requiredPromises %+v", got)
				}
				return nil
			},
		},
		{
			name: "pipeline restartPolicy OnFailure",
			obj:  pipelineWith(corev1.RestartPolicyOnFailure),
			check: func(o client.Object) error {
				if got := o.(*v1alpha1.Promise).Spec.Workflows.Resource.Configure[0].Spec.RestartPolicy; got != corev1.RestartPolicyOnFailure {
					return fmt.Errorf("restartPolicy %q", got)
				}
				return nil
			},
		},
		{name: "pipeline restartPolicy Always, which no Job may have", obj: pipelineWith(corev1.RestartPolicyAlways), refused: "restartPolicy"},
		{name: "Destination path /", obj: destination("/"), check: destinationPath("/")},
		{name: "Destination path .", obj: destination("."), check: destinationPath(".")},
		{name: "Destination path /dev, absolute", obj: destination("/dev"), refused: "path must be relative"},
		{name: "Destination path ../dev", obj: destination("../dev"), refused: "path must be relative"},
		{
			name: "GitStateStore authMethod githubApp",
			obj: &v1alpha1.GitStateStore{
				ObjectMeta: metav1.ObjectMeta{Name: uniqueName("app")},
				Spec: v1alpha1.GitStateStoreSpec{
					StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: storeSecretRef("no-such-secret")},
					URL:                  "https://github.com/org/state.git", AuthMethod: v1alpha1.AuthMethodGitHubApp,
				},
			},
			check: func(o client.Object) error {
				if got := o.(*v1alpha1.GitStateStore).Spec.AuthMethod; got != v1alpha1.AuthMethodGitHubApp {
					return fmt.Errorf("authMethod %q", got)
				}
				return nil
			},
		},
		{
			name: "GitStateStore authMethod githubApp without a secretRef",
			obj: &v1alpha1.GitStateStore{
				ObjectMeta: metav1.ObjectMeta{Name: uniqueName("app")},
				Spec:       v1alpha1.GitStateStoreSpec{URL: "https://github.com/org/state.git", AuthMethod: v1alpha1.AuthMethodGitHubApp},
			},
			refused: "authMethod githubApp needs a secretRef",
		},
		{
			name: "BucketStateStore useDualStack",
			obj: &v1alpha1.BucketStateStore{
				ObjectMeta: metav1.ObjectMeta{Name: uniqueName("bucket")},
				Spec: v1alpha1.BucketStateStoreSpec{
					StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: storeSecretRef("no-such-secret")},
					Endpoint:             "s3.amazonaws.com", BucketName: "kratix", UseDualStack: true,
				},
			},
			check: func(o client.Object) error {
				if !o.(*v1alpha1.BucketStateStore).Spec.UseDualStack {
					return fmt.Errorf("useDualStack lost")
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := env.Client.Create(t.Context(), tt.obj, client.FieldValidation(metav1.FieldValidationStrict))
			if tt.refused != "" {
				if err == nil {
					t.Cleanup(func() { deleteAndWait(t, tt.obj) })
					t.Fatalf("applied; want it refused with %q", tt.refused)
				}
				if !strings.Contains(err.Error(), tt.refused) {
					t.Errorf("refused with %v; want %q", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			t.Cleanup(func() { deleteAndWait(t, tt.obj) })
			got := tt.obj.DeepCopyObject().(client.Object)
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(tt.obj), got); err != nil {
				t.Fatal(err)
			}
			if err := tt.check(got); err != nil {
				t.Error(err)
			}
		})
	}
}

func destinationPath(want string) func(client.Object) error {
	return func(o client.Object) error {
		if got := o.(*v1alpha1.Destination).Spec.Path; got != want {
			return fmt.Errorf("path %q, want %q", got, want)
		}
		return nil
	}
}

// TestPipelineRestartPolicyInJob: a pipeline's restartPolicy is its Job's Pod's, which the API
// server accepts; without one the Pod's is Never.
func TestPipelineRestartPolicyInJob(t *testing.T) {
	startManager(t)
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	for _, tt := range []struct {
		set, want corev1.RestartPolicy
	}{
		{"", corev1.RestartPolicyNever},
		{corev1.RestartPolicyOnFailure, corev1.RestartPolicyOnFailure},
		{corev1.RestartPolicyNever, corev1.RestartPolicyNever},
	} {
		t.Run(fmt.Sprintf("restartPolicy %q", tt.set), func(t *testing.T) {
			promise, _ := workflowPromise(t, renderScript)
			setup := shPipeline("setup", "echo setting up")
			setup.Spec.RestartPolicy = tt.set
			promise.Spec.Workflows.Promise.Configure = []v1alpha1.Pipeline{setup}
			promise.Spec.Workflows.Promise.Delete, promise.Spec.Workflows.Resource.Delete = nil, nil
			create(t, promise)
			w := pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise, Action: v1alpha1.WorkflowActionConfigure, Promise: promise}
			waitFor(t, "the Promise Configure Job", func() error {
				var jobs batchv1.JobList
				if err := env.Client.List(t.Context(), &jobs, client.InNamespace(v1alpha1.DefaultPlatformNS), client.MatchingLabels(w.Selector())); err != nil {
					return err
				}
				if len(jobs.Items) != 1 {
					return fmt.Errorf("%d Jobs", len(jobs.Items))
				}
				if got := jobs.Items[0].Spec.Template.Spec.RestartPolicy; got != tt.want {
					t.Errorf("the Job's Pod restartPolicy is %q, want %q", got, tt.want)
				}
				return nil
			})
		})
	}
}

// TestWorkGenerationAndLastExecution: every run of the work-writer stamps its Work's
// spec.lastExecutionTimestamp, which changes the Work's generation; a placement's
// spec.generation is the Work's generation when the placement's content last changed, so a run
// with the same output does not rewrite it, and one with new output does.
func TestWorkGenerationAndLastExecution(t *testing.T) {
	startManager(t)
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	dest := labelledDestination(uniqueName("gen"), map[string]string{"gen-test": "yes"})
	create(t, dest)
	name := uniqueName("gen")
	aenv := adapter.Env{Action: v1alpha1.WorkflowActionConfigure, Type: v1alpha1.WorkflowTypePromise, Promise: name,
		Pipeline: "render", Name: name, ClusterScoped: true, PipelineNamespace: v1alpha1.DefaultPlatformNS,
		PromiseSelectors: []v1alpha1.PromiseScheduling{{MatchLabels: map[string]string{"gen-test": "yes"}}}, LastPipeline: true}
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "ns.yaml"), []byte(namespaceManifest("gen")), 0o600); err != nil {
		t.Fatal(err)
	}

	var work *v1alpha1.Work
	var changed int64 // the Work's generation when the files last changed
	for run := 1; run <= 3; run++ {
		if run == 3 {
			if err := os.WriteFile(filepath.Join(out, "ns.yaml"), []byte(namespaceManifest("gen-changed")), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		before := metav1.Now().Rfc3339Copy()
		w, err := adapter.WriteWork(t.Context(), env.Client, aenv, out, t.TempDir(), 0)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if run == 1 {
			t.Cleanup(func() {
				deleteAndWait(t, w)
				for _, wp := range listPlacements(t, w) {
					deleteAndWait(t, &wp)
				}
			})
		}
		if ts := w.Spec.LastExecutionTimestamp; ts.IsZero() || ts.Before(&before) {
			t.Errorf("run %d: lastExecutionTimestamp %v, want one at or after %v", run, ts, before)
		}
		if work != nil && w.Generation <= work.Generation {
			t.Errorf("run %d: generation %d, not above the first run's %d", run, w.Generation, work.Generation)
		}
		work = w
		if run != 2 {
			changed = work.Generation
		}
		waitForPlacements(t, work, fmt.Sprintf("run %d: the placement at the Work's generation %d", run, changed), func(wps []v1alpha1.WorkPlacement) error {
			if len(wps) != 1 {
				return fmt.Errorf("%d placements", len(wps))
			}
			if wps[0].Spec.WorkGeneration != changed {
				return fmt.Errorf("spec.generation %d", wps[0].Spec.WorkGeneration)
			}
			return nil
		})
		if run < 3 {
			// Stamps have one-second resolution: the next run's must differ.
			waitFor(t, "the next second", func() error {
				if !metav1.Now().Rfc3339Copy().After(w.Spec.LastExecutionTimestamp.Time) {
					return fmt.Errorf("same second")
				}
				return nil
			})
		}
	}
}

// TestStoreObservedGeneration: a store's status.observedGeneration is the generation its status
// describes, for both kinds, and follows a change of the spec.
func TestStoreObservedGeneration(t *testing.T) {
	startManager(t)
	gitStore := newGitFixture(t).readyGitStore(t)
	s3 := newS3Fixture(t)
	if err := s3.server.CreateBucket(t.Context(), "observed"); err != nil {
		t.Fatal(err)
	}
	bucketStore := s3.bucketStore("observed")
	create(t, bucketStore)
	waitForCondition(t, bucketStore, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)

	for _, tt := range []struct {
		name     string
		store    client.Object
		observed func() int64
		change   func()
	}{
		{"GitStateStore", gitStore, func() int64 { return gitStore.Status.ObservedGeneration }, func() {
			update(t, gitStore, func(s *v1alpha1.GitStateStore) { s.Spec.GitAuthor.Email = "kratix@example.com" })
		}},
		{"BucketStateStore", bucketStore, func() int64 { return bucketStore.Status.ObservedGeneration }, func() {
			update(t, bucketStore, func(s *v1alpha1.BucketStateStore) { s.Spec.UseDualStack = true })
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for step := 0; step < 2; step++ {
				if step == 1 {
					tt.change()
				}
				waitFor(t, "status.observedGeneration to be the generation", func() error {
					if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(tt.store), tt.store); err != nil {
						return err
					}
					if got, want := tt.observed(), tt.store.GetGeneration(); got != want {
						return fmt.Errorf("observedGeneration %d, generation %d", got, want)
					}
					return nil
				})
			}
			if tt.store.GetGeneration() < 2 {
				t.Errorf("generation %d: the change did not take", tt.store.GetGeneration())
			}
		})
	}
}

// TestGitHubAppStore: a GitStateStore with authMethod githubApp and upstream's Secret keys (plus
// apiURL, here a loopback GitHub API) becomes Ready against a git server that accepts only the
// installation tokens that API issues; one whose key is not the App's is not Ready, with a
// message that says so. Neither the key nor a token shows in conditions, Events or the log.
func TestGitHubAppStore(t *testing.T) {
	run := runManagerWith(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2}, managerHooks{})
	t.Cleanup(run.stop)
	api := gitserver.NewGitHubApp(t)
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{Authorize: api.Authorize})
	if _, err := server.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	appStore := func(key []byte) *v1alpha1.GitStateStore {
		secret := &corev1.Secret{ObjectMeta: storeSecretMeta(t, uniqueName("app-creds")), Data: map[string][]byte{
			v1alpha1.SecretKeyAppID:          []byte(api.AppID),
			v1alpha1.SecretKeyInstallationID: []byte(api.InstallationID),
			v1alpha1.SecretKeyPrivateKey:     key,
			v1alpha1.SecretKeyAPIURL:         []byte(api.URL()),
		}}
		create(t, secret)
		f := &gitFixture{server: server, repo: "state.git"}
		store := f.gitStore(uniqueName("app"), secret.Name)
		store.Spec.AuthMethod = v1alpha1.AuthMethodGitHubApp
		create(t, store)
		return store
	}

	good := appStore(api.PrivateKeyPEM)
	waitForCondition(t, good, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	if api.Exchanges() == 0 || api.LastToken() == "" {
		t.Fatalf("the store is Ready without a token exchange (refusals %v)", api.Refusals())
	}
	if refusals := api.Refusals(); len(refusals) > 0 {
		t.Errorf("the API refused the engine's requests: %v", refusals)
	}

	_, otherKey, err := gitserver.GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	bad := appStore(otherKey)
	var message string
	waitFor(t, "the store with another key to say the key was refused", func() error {
		conds, err := conditionsOf(t, bad)
		if err != nil {
			return err
		}
		for _, c := range conds {
			if c.Type == v1alpha1.ConditionReady && c.Status == metav1.ConditionFalse &&
				strings.Contains(c.Message, "the GitHub App's private key or app ID was refused") {
				message = c.Message
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", conds)
	})

	var shown []string
	shown = append(shown, message, run.logs.String())
	for _, store := range []*v1alpha1.GitStateStore{good, bad} {
		shown = append(shown, describeEvents(eventsOf(t, v1alpha1.KindGitStateStore, store.Name))...)
	}
	keyLines := func(pemKey []byte) []string { return strings.Split(strings.TrimSpace(string(pemKey)), "\n")[1:3] }
	secrets := append(append(keyLines(api.PrivateKeyPEM), keyLines(otherKey)...), api.Tokens()...)
	for _, text := range shown {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("a condition, Event or log line shows the key or a token %q", secret)
			}
		}
		if strings.Contains(text, "eyJhbGci") { // the start of every JWT this engine signs
			t.Error("a condition, Event or log line shows the JWT")
		}
	}
}
