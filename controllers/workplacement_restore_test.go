package controllers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/statestore"
)

// laggingCache is a client whose reads of a WorkPlacement return, for lag after each of its
// status writes, the copy from before the write, as the manager's cache does until its informer
// has seen the write.
type laggingCache struct {
	client.Client
	lag time.Duration

	mu    sync.Mutex
	stale map[types.NamespacedName]*v1alpha1.WorkPlacement
	until map[types.NamespacedName]time.Time
}

func (c *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if wp, ok := obj.(*v1alpha1.WorkPlacement); ok {
		c.mu.Lock()
		stale, lagging := c.stale[key], time.Now().Before(c.until[key])
		c.mu.Unlock()
		if lagging {
			stale.DeepCopyInto(wp)
			return nil
		}
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *laggingCache) Status() client.SubResourceWriter {
	return laggingStatus{SubResourceWriter: c.Client.Status(), c: c}
}

type laggingStatus struct {
	client.SubResourceWriter
	c *laggingCache
}

func (s laggingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	key := client.ObjectKeyFromObject(obj)
	before := &v1alpha1.WorkPlacement{}
	// By kind: the engine writes a status through the object's metadata (writeStatus).
	gvk, err := apiutil.GVKForObject(obj, s.c.Scheme())
	if err != nil {
		return err
	}
	isPlacement := gvk.Kind == "WorkPlacement"
	if isPlacement {
		if err := s.c.Client.Get(ctx, key, before); err != nil {
			return err
		}
	}
	if err := s.SubResourceWriter.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	if isPlacement {
		s.c.mu.Lock()
		s.c.stale[key], s.c.until[key] = before, time.Now().Add(s.c.lag)
		s.c.mu.Unlock()
	}
	return nil
}

// unchangedWriter is a store whose every write finds the files as they are, at one version.
type unchangedWriter struct{ version string }

func (w unchangedWriter) Apply(context.Context, statestore.Change) (statestore.Result, error) {
	return statestore.Result{Version: w.version}, nil
}
func (unchangedWriter) Read(context.Context, string) ([]byte, error) {
	return nil, statestore.NewError(statestore.ErrNotFound, "read", nil)
}
func (unchangedWriter) Validate(context.Context) error { return nil }
func (unchangedWriter) Close() error                   { return nil }

type writerFactory struct{ w statestore.Writer }

func (f writerFactory) New(client.Object, map[string][]byte) (statestore.Writer, error) {
	return f.w, nil
}

// fieldIndexes registers setupIndexes' indexes with a fake client's builder.
type fieldIndexes struct{ b *fake.ClientBuilder }

func (f fieldIndexes) IndexField(_ context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	f.b.WithIndex(obj, field, extract)
	return nil
}

// A restore that finds a placement's files as they were, with nothing committed since its
// write, leaves the placement Ready at its version, also when the reconcile reads a cache that
// has not yet seen the placement marked Restoring: that reconcile computed from the copy before
// the mark the status that copy already had, wrote nothing, and left the placement Restoring
// until its resync (found by the fault suite, test/faults (b), with 200 placements).
func TestRestoreOfAnUnchangedPlacementEndsReady(t *testing.T) {
	ctx := t.Context()
	store := &v1alpha1.GitStateStore{ObjectMeta: metav1.ObjectMeta{Name: "store"}}
	dest := &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: "dest"},
		Spec:       v1alpha1.DestinationSpec{StateStoreRef: v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: store.Name}, Path: "dest"},
	}
	content, err := v1alpha1.EncodeContent([]byte("kind: ConfigMap\n"))
	if err != nil {
		t.Fatal(err)
	}
	const version = "0123456789abcdef0123456789abcdef01234567"
	wp := &v1alpha1.WorkPlacement{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "req.dest", Generation: 1, Finalizers: []string{v1alpha1.FinalizerRepoCleanup}},
		Spec: v1alpha1.WorkPlacementSpec{
			TargetDestinationName: dest.Name, PromiseName: "p", ResourceName: "req", ResourceNamespace: "ns", ID: "5058f", PipelineName: "configure",
			Workloads: []v1alpha1.Workload{{Filepath: "cm.yaml", Content: content}},
		},
	}
	setPlacementStatus(&wp.Status, 1, placementFacts{
		destination: dest.Name, written: true, files: 1, dir: "dest/resources/ns/p/req/configure/5058f",
		result: statestore.Result{Version: version, Changed: true}, now: metav1.Now(),
	})
	if ready := meta.FindStatusCondition(wp.Status.Conditions, v1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Fatalf("the placement is not Ready to begin with: %+v", wp.Status.Conditions)
	}

	b := fake.NewClientBuilder().WithScheme(env.Scheme).
		WithObjects(store, dest, wp).
		WithStatusSubresource(&v1alpha1.WorkPlacement{}, &v1alpha1.Destination{}, &v1alpha1.GitStateStore{})
	if err := setupIndexes(ctx, fieldIndexes{b}); err != nil {
		t.Fatal(err)
	}
	c := &laggingCache{Client: b.Build(), lag: 300 * time.Millisecond, stale: map[types.NamespacedName]*v1alpha1.WorkPlacement{}, until: map[types.NamespacedName]time.Time{}}

	registry := writers.NewRegistry(writerFactory{unchangedWriter{version: version}}, logr.Discard())
	w, _, err := registry.Ensure(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := writers.Key{Kind: v1alpha1.KindGitStateStore, Name: store.Name}
	registry.SetReady(key, w, true)
	recorder := events.NewFakeRecorder(100)
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	r := &WorkPlacementReconciler{Client: c, Writers: registry, Recorder: recorder, ResyncInterval: time.Hour}
	p := &placementRestorer{r: r, c: c, log: logr.Discard(), q: q, running: map[writers.Key]bool{}, again: map[writers.Key]statestore.Drift{}}

	p.restore(ctx, key, statestore.Drift{Why: "the branch moved", All: true})

	got := &v1alpha1.WorkPlacement{}
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(wp), got); err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != v1alpha1.ReasonWriteSucceeded {
		t.Errorf("after the restore, Ready is %+v, want True %s", ready, v1alpha1.ReasonWriteSucceeded)
	}
	if got.Status.VersionID != version {
		t.Errorf("version %s, want %s", got.Status.VersionID, version)
	}
}
