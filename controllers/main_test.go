package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/pipeline/adapter"
	"kratix.dev/kratix/pipeline/local"
	"kratix.dev/kratix/statestore"
)

var env *testenv.Env

// asAdapter makes this test binary act as `kratix pipeline-adapter` for the local job runner.
const asAdapter = "KRATIX_TEST_RUN_AS_ADAPTER"

func TestMain(m *testing.M) {
	local.MaybeRunChild() // the runner's sandbox re-executes this test binary
	if os.Getenv(asAdapter) == "1" {
		// os.Args is [binary, "pipeline-adapter", step, flags...], as the runner starts it.
		if err := adapter.Main(context.Background(), os.Args[2:], os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Nothing in these tests logs through the global logger; setting it keeps controller-runtime
	// from warning that it was never set.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	os.Exit(testenv.Main(m, &env))
}

// waitTimeout bounds every wait for the controllers: generous, because `make test` runs this
// package in two processes beside the others under -race on two cores, where a wait for a few
// pipelines in turn can take a minute; a passing wait returns as soon as its check does.
const waitTimeout = 90 * time.Second

// countingFactory builds writers with next, the real ones unless a test wraps them, and counts
// the builds.
type countingFactory struct {
	next   writers.Factory
	builds atomic.Int64
}

func (f *countingFactory) New(store client.Object, secret map[string][]byte) (statestore.Writer, error) {
	f.builds.Add(1)
	return f.next.New(store, secret)
}

// startManager runs a manager with the engine's controllers (metrics and probes off) until the
// test ends, and returns the factory that counts the writers it builds. The manager's log is
// printed when the test fails.
func startManager(t *testing.T) *countingFactory {
	t.Helper()
	return startManagerWith(t, env.Config)
}

// startManagerWith is startManager with the manager reaching the API server through cfg.
func startManagerWith(t *testing.T, cfg *rest.Config) *countingFactory {
	t.Helper()
	return startManagerWithOptions(t, cfg, Options{DefaultMaxConcurrentReconciles: 2})
}

// startManagerWithOptions is startManagerWith with the controllers' options; the counting
// factory replaces opts.WriterFactory. Benchmarks use it too, hence testing.TB.
func startManagerWithOptions(t testing.TB, cfg *rest.Config, opts Options) *countingFactory {
	t.Helper()
	factory, stop := runManager(t, cfg, opts, nil)
	t.Cleanup(stop)
	return factory
}

// runManager runs a manager with the engine's controllers, and what extra adds to it, until stop
// is called (which the caller arranges before the test ends); it returns the factory that counts
// the writers it builds. The manager's log is printed when the test fails.
func runManager(t testing.TB, cfg *rest.Config, opts Options, extra func(ctrl.Manager) error) (*countingFactory, func()) {
	t.Helper()
	run := runManagerWith(t, cfg, opts, managerHooks{extra: extra})
	return run.factory, run.stop
}

// managerHooks change what runManagerWith runs beyond the controllers' Options.
type managerHooks struct {
	// extra, when set, adds more to the manager, e.g. the local job runner.
	extra func(ctrl.Manager) error
	// wrapWriters, when set, wraps the factory of the real writers.
	wrapWriters func(writers.Factory) writers.Factory
}

// managerRun is a manager that runManagerWith started.
type managerRun struct {
	// factory counts the writers the manager builds; it replaced opts.WriterFactory.
	factory *countingFactory
	// logs is the manager's log, the writers' included.
	logs *testenv.LogBuffer
	// stop stops the manager and waits for it; the caller arranges for it before the test ends.
	stop func()
}

// runManagerWith is runManager with hooks, and returns the manager's log too.
func runManagerWith(t testing.TB, cfg *rest.Config, opts Options, hooks managerHooks) *managerRun {
	t.Helper()
	logs := &testenv.LogBuffer{}
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Logger:                 zap.New(zap.UseDevMode(true), zap.WriteTo(logs)),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(),
		// Every test starts its own manager with the same controller names.
		Controller: config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	var real writers.Factory = writers.DefaultFactory{Logger: mgr.GetLogger().WithName("statestore-writer"), GitHeadCheckInterval: opts.GitHeadCheckInterval}
	if hooks.wrapWriters != nil {
		real = hooks.wrapWriters(real)
	}
	factory := &countingFactory{next: real}
	opts.WriterFactory = factory
	if err := SetupWithManager(mgr, opts); err != nil {
		t.Fatalf("set up controllers: %v", err)
	}
	if hooks.extra != nil {
		if err := hooks.extra(mgr); err != nil {
			t.Fatalf("set up the manager: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
			if t.Failed() {
				t.Logf("manager log:\n%s", logs.String())
			}
		})
	}
	return &managerRun{factory: factory, logs: logs, stop: stop}
}

// waitFor polls check until it returns nil, failing the test with check's last error after
// waitTimeout.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, what, waitTimeout, 50*time.Millisecond, check)
}

// uniqueName returns prefix with a random suffix, so that no test sees another's objects.
func uniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + "-" + hex.EncodeToString(b)
}

// create creates obj and deletes it when the test ends, waiting until it is gone (the manager,
// stopped after this cleanup, runs the finalizers).
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { deleteAndWait(t, obj) })
}

// deleteAndWait deletes obj and waits until the API server no longer has it.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %T %s: %v", obj, obj.GetName(), err)
		return
	}
	key := client.ObjectKeyFromObject(obj)
	probe := obj.DeepCopyObject().(client.Object)
	waitFor(t, fmt.Sprintf("%T %s is gone", obj, obj.GetName()), func() error {
		err := env.Client.Get(ctx, key, probe)
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		default:
			return fmt.Errorf("still there, finalizers %v", probe.GetFinalizers())
		}
	})
}

// gitFixture is a Git HTTP server with one empty repository.
type gitFixture struct {
	server *gitserver.HTTPServer
	repo   string
}

func newGitFixture(t *testing.T) *gitFixture {
	t.Helper()
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	f := &gitFixture{server: server, repo: "state.git"}
	if _, err := server.CreateRepo(f.repo, "main"); err != nil {
		t.Fatal(err)
	}
	return f
}

// git runs the git CLI on the repository.
func (f *gitFixture) git(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return f.server.Git(t.Context(), f.repo, args...)
}

// files lists the files on main, or nothing when main has no commit yet.
func (f *gitFixture) files(t *testing.T) []string {
	t.Helper()
	if _, err := f.git(t, "rev-parse", "--verify", "--quiet", "refs/heads/main"); err != nil {
		return nil
	}
	out, err := f.git(t, "ls-tree", "-r", "--name-only", "main")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}

// commits is the number of commits on main.
func (f *gitFixture) commits(t testing.TB) int {
	t.Helper()
	if _, err := f.git(t, "rev-parse", "--verify", "--quiet", "refs/heads/main"); err != nil {
		return 0
	}
	out, err := f.git(t, "rev-list", "--count", "main")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscan(out, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// storeSecretMeta is the metadata of a state store's Secret: in the platform namespace, the
// one namespace where the manager reads store Secrets by default.
func storeSecretMeta(t testing.TB, name string) metav1.ObjectMeta {
	t.Helper()
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	return metav1.ObjectMeta{Name: name, Namespace: v1alpha1.DefaultPlatformNS}
}

// storeSecretRef names a Secret that storeSecretMeta made.
func storeSecretRef(name string) *v1alpha1.SecretRef {
	return &v1alpha1.SecretRef{Name: name, Namespace: v1alpha1.DefaultPlatformNS}
}

// basicAuthSecret creates a store's Secret with a username and password.
func basicAuthSecret(t *testing.T, name, username, password string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: storeSecretMeta(t, name),
		Data:       map[string][]byte{v1alpha1.SecretKeyUsername: []byte(username), v1alpha1.SecretKeyPassword: []byte(password)},
	}
	create(t, s)
	return s
}

// gitStore returns a GitStateStore for the fixture's repository, with a Secret in the platform
// namespace (not created here).
func (f *gitFixture) gitStore(name, secretName string) *v1alpha1.GitStateStore {
	return &v1alpha1.GitStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.GitStateStoreSpec{
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: storeSecretRef(secretName)},
			URL:                  f.server.URL(f.repo),
			Branch:               "main",
			// The loopback server takes basic auth over plain http.
			Insecure: true,
		},
	}
}

// readyGitStore creates a Secret and a GitStateStore with the server's credentials and waits
// until the store is Ready.
func (f *gitFixture) readyGitStore(t *testing.T) *v1alpha1.GitStateStore {
	t.Helper()
	secret := basicAuthSecret(t, uniqueName("git-creds"), f.server.Username(), f.server.Password())
	store := f.gitStore(uniqueName("git"), secret.Name)
	create(t, store)
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	return store
}

// conditionsOf reads obj again and returns its conditions.
func conditionsOf(t *testing.T, obj client.Object) ([]metav1.Condition, error) {
	t.Helper()
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil, err
	}
	switch o := obj.(type) {
	case *v1alpha1.GitStateStore:
		return o.Status.Conditions, nil
	case *v1alpha1.BucketStateStore:
		return o.Status.Conditions, nil
	case *v1alpha1.Destination:
		return o.Status.Conditions, nil
	}
	return nil, fmt.Errorf("%T has no conditions", obj)
}

// waitForCondition waits until obj's Ready condition has the status and reason, leaves the latest
// obj in place, and returns the condition.
func waitForCondition(t *testing.T, obj client.Object, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	waitFor(t, fmt.Sprintf("%T %s Ready=%s %s", obj, obj.GetName(), status, reason), func() error {
		conds, err := conditionsOf(t, obj)
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		if c == nil {
			return fmt.Errorf("no Ready condition")
		}
		if c.Status != status || c.Reason != reason {
			return fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
		}
		got = *c
		return nil
	})
	return got
}

// eventsOf lists the Events about a cluster-scoped object (they live in namespace default).
func eventsOf(t *testing.T, kind, name string) []eventsv1.Event {
	t.Helper()
	return namespacedEventsOf(t, metav1.NamespaceDefault, kind, name)
}

// namespacedEventsOf lists the Events about an object whose Events live in namespace.
func namespacedEventsOf(t *testing.T, namespace, kind, name string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(t.Context(), &list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// waitForEvent waits for an Event with the type and reason about the object and returns it.
func waitForEvent(t *testing.T, kind, name, eventType, reason string) eventsv1.Event {
	t.Helper()
	var got eventsv1.Event
	waitFor(t, fmt.Sprintf("a %s Event %s on %s %s", eventType, reason, kind, name), func() error {
		evs := eventsOf(t, kind, name)
		for _, e := range evs {
			if e.Type == eventType && e.Reason == reason {
				got = e
				return nil
			}
		}
		return fmt.Errorf("events so far: %v", describeEvents(evs))
	})
	return got
}

func describeEvents(evs []eventsv1.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Type+" "+e.Reason+": "+e.Note)
	}
	return out
}
