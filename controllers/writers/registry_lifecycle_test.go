package writers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/statestore"
)

// countingFactory builds the real writers and counts the builds.
type countingFactory struct {
	DefaultFactory
	builds atomic.Int64
}

func (f *countingFactory) New(store client.Object, secret map[string][]byte) (statestore.Writer, error) {
	f.builds.Add(1)
	return f.DefaultFactory.New(store, secret)
}

type fixture struct {
	server   *gitserver.HTTPServer
	factory  *countingFactory
	registry *Registry
	store    *v1alpha1.GitStateStore
	secret   map[string][]byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	if _, err := server.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		server:  server,
		factory: &countingFactory{},
		store: &v1alpha1.GitStateStore{
			ObjectMeta: metav1.ObjectMeta{Name: "default"},
			// insecure: basic auth over the loopback server's plain http.
			Spec: v1alpha1.GitStateStoreSpec{URL: server.URL("state.git"), Branch: "main", Insecure: true},
		},
		secret: map[string][]byte{
			v1alpha1.SecretKeyUsername: []byte(server.Username()),
			v1alpha1.SecretKeyPassword: []byte(server.Password()),
		},
	}
	f.registry = NewRegistry(f.factory, logr.Discard())
	t.Cleanup(func() {
		if err := f.registry.Close(); err != nil {
			t.Errorf("close the registry: %v", err)
		}
	})
	return f
}

// ensureReady builds (or keeps) the store's writer, validates it and marks it ready.
func (f *fixture) ensureReady(t *testing.T) statestore.Writer {
	t.Helper()
	w, _, err := f.registry.Ensure(f.store, f.secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.registry.SetReady(Key{Kind: v1alpha1.KindGitStateStore, Name: f.store.Name}, w, true)
	return w
}

func TestRegistryHandsOutOnlyValidatedWriters(t *testing.T) {
	f := newFixture(t)
	if _, err := f.registry.Get(v1alpha1.KindGitStateStore, "default"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Get before any writer: %v, want ErrNotReady", err)
	}
	w, built, err := f.registry.Ensure(f.store, f.secret)
	if err != nil || !built {
		t.Fatalf("Ensure = built %v, %v", built, err)
	}
	if _, err := f.registry.Get(v1alpha1.KindGitStateStore, "default"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Get before validation: %v, want ErrNotReady", err)
	}
	f.registry.SetReady(Key{Kind: v1alpha1.KindGitStateStore, Name: "default"}, w, true)
	got, err := f.registry.Get(v1alpha1.KindGitStateStore, "default")
	if err != nil || got != w {
		t.Fatalf("Get after validation = %v, %v; want the validated writer", got, err)
	}
	// The same name of the other kind is another store.
	if _, err := f.registry.Get(v1alpha1.KindBucketStateStore, "default"); !errors.Is(err, ErrNotReady) {
		t.Errorf("Get of a BucketStateStore of the same name: %v, want ErrNotReady", err)
	}
	res, err := got.Apply(t.Context(), statestore.Change{
		Files:  []statestore.File{{Path: "dev/hello.yaml", Content: []byte("a: 1\n")}},
		Origin: statestore.Origin{Destination: "dev"},
	})
	if err != nil || !res.Changed {
		t.Fatalf("Apply through the registry's writer = %+v, %v", res, err)
	}
}

func TestRegistryRebuildsOnlyWhenSpecOrSecretChange(t *testing.T) {
	f := newFixture(t)
	first := f.ensureReady(t)

	again, built, err := f.registry.Ensure(f.store.DeepCopy(), f.secret)
	if err != nil || built || again != first {
		t.Fatalf("Ensure with nothing changed = built %v, same writer %v, %v; want the same writer", built, again == first, err)
	}
	if n := f.factory.builds.Load(); n != 1 {
		t.Fatalf("builds = %d, want 1", n)
	}

	// A changed Secret gives a new writer, not ready until validated, and closes the old one.
	f.secret = map[string][]byte{
		v1alpha1.SecretKeyUsername: []byte(f.server.Username()),
		v1alpha1.SecretKeyPassword: []byte("rotated-password"),
	}
	second, built, err := f.registry.Ensure(f.store, f.secret)
	if err != nil || !built || second == first {
		t.Fatalf("Ensure with a changed Secret = built %v, same writer %v, %v; want a new writer", built, second == first, err)
	}
	if _, err := f.registry.Get(v1alpha1.KindGitStateStore, "default"); !errors.Is(err, ErrNotReady) {
		t.Errorf("Get after the Secret changed and before validation: %v, want ErrNotReady", err)
	}
	if err := second.Validate(t.Context()); !errors.Is(err, statestore.ErrAuthentication) {
		t.Errorf("the new writer does not use the new Secret: Validate = %v, want ErrAuthentication", err)
	}
	if err := f.registry.Close(); err != nil { // waits for replaced writers to close
		t.Fatal(err)
	}
	if err := first.Validate(context.Background()); !errors.Is(err, statestore.ErrClosed) {
		t.Errorf("the replaced writer still works: Validate = %v, want ErrClosed", err)
	}
	if n := f.factory.builds.Load(); n != 2 {
		t.Errorf("builds = %d, want 2", n)
	}
}

func TestRegistrySpecChangeReplacesAReadyWriter(t *testing.T) {
	f := newFixture(t)
	f.ensureReady(t)
	f.store.Spec.Branch = "other"
	if _, built, err := f.registry.Ensure(f.store, f.secret); err != nil || !built {
		t.Fatalf("Ensure after a spec change = built %v, %v", built, err)
	}
	if _, err := f.registry.Get(v1alpha1.KindGitStateStore, "default"); !errors.Is(err, ErrNotReady) {
		t.Errorf("Get after a spec change and before validation: %v, want ErrNotReady", err)
	}
}

func TestRegistryNotifiesReadinessChanges(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var heard []Key
	cancel := f.registry.Subscribe(func(n Notice) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, n.Key)
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(heard)
	}
	w := f.ensureReady(t)
	if count() != 1 {
		t.Fatalf("notifications after becoming ready: %d, want 1", count())
	}
	f.registry.SetReady(Key{Kind: v1alpha1.KindGitStateStore, Name: "default"}, w, true)
	if count() != 1 {
		t.Errorf("a revalidation that changed nothing notified: %d notifications", count())
	}
	f.registry.Remove(Key{Kind: v1alpha1.KindGitStateStore, Name: "default"})
	if count() != 2 {
		t.Errorf("notifications after removal: %d, want 2", count())
	}
	cancel()
	f.ensureReady(t)
	if count() != 2 {
		t.Errorf("notified after the subscription ended")
	}
}

func TestRegistryClosedRefusesNewWriters(t *testing.T) {
	f := newFixture(t)
	w := f.ensureReady(t)
	if err := f.registry.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Validate(context.Background()); !errors.Is(err, statestore.ErrClosed) {
		t.Errorf("a writer survived Close: Validate = %v", err)
	}
	if _, _, err := f.registry.Ensure(f.store, f.secret); !errors.Is(err, statestore.ErrClosed) {
		t.Errorf("Ensure after Close = %v, want ErrClosed", err)
	}
	if _, err := f.registry.Get(v1alpha1.KindGitStateStore, "default"); !errors.Is(err, ErrNotReady) {
		t.Errorf("Get after Close = %v, want ErrNotReady", err)
	}
}

func TestRegistryBuildFailureDropsTheOldWriter(t *testing.T) {
	f := newFixture(t)
	f.ensureReady(t)
	f.store.Spec.URL = "ftp://example.com/state.git"
	if _, _, err := f.registry.Ensure(f.store, f.secret); !errors.Is(err, statestore.ErrInvalidConfig) {
		t.Fatalf("Ensure with an unsupported URL = %v, want ErrInvalidConfig", err)
	}
	if _, err := f.registry.Get(v1alpha1.KindGitStateStore, "default"); !errors.Is(err, ErrNotReady) {
		t.Errorf("the writer for the old spec is still handed out: %v", err)
	}
}

// TestRegistryPassesOnDrift: a writer that finds its branch deleted by someone else tells the
// registry, whose subscribers hear which store drifted and what the writer saw.
func TestRegistryPassesOnDrift(t *testing.T) {
	f := newFixture(t)
	f.factory.GitHeadCheckInterval = 50 * time.Millisecond
	heard := make(chan Notice, 16)
	cancel := f.registry.Subscribe(func(n Notice) { heard <- n })
	defer cancel()
	w := f.ensureReady(t)
	if n := <-heard; n.Drift != nil {
		t.Fatalf("becoming ready was heard as a drift: %+v", n)
	}
	change := statestore.Change{Files: []statestore.File{{Path: "dev/a.yaml", Content: []byte("a: 1")}}}
	if _, err := w.Apply(t.Context(), change); err != nil {
		t.Fatal(err)
	}
	if _, err := f.server.Git(t.Context(), "state.git", "update-ref", "-d", "refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-heard:
		want := Key{Kind: v1alpha1.KindGitStateStore, Name: "default"}
		if n.Key != want || n.Drift == nil || n.Drift.Why != "the branch was deleted" || !n.Drift.Touches("dev/a.yaml") {
			t.Errorf("heard %+v (drift %+v), want the deletion of the branch of %v, which touches dev/a.yaml", n, n.Drift, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no drift was heard")
	}
}
