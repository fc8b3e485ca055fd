package controllers

import (
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
)

// A written placement comes back for its resync after the interval of its store: a Git store's
// writer checks its branch and reports someone else's changes itself, so its placements resync
// rarely (at 10,000 requests a 10-minute resync was 17 writes a second that changed nothing); a
// bucket's writer sees a change only when it lists the directory, so its placements resync
// often. Each is a real writer against a real server, and each resync is up to a tenth longer,
// so that placements written together do not come back together.
func TestWrittenPlacementResyncsAsItsStoreNeeds(t *testing.T) {
	const resync, watched = 10 * time.Minute, 6 * time.Hour
	git := newGitFixture(t)
	s3 := newS3Fixture(t)
	if err := s3.server.CreateBucket(t.Context(), "kratix"); err != nil {
		t.Fatal(err)
	}
	gitStore := git.gitStore("git", "unused")
	bucketStore := s3.bucketStore("kratix")
	tests := []struct {
		name   string
		store  client.Object
		secret map[string][]byte
		kind   string
		want   time.Duration
	}{
		{"Git", gitStore, map[string][]byte{v1alpha1.SecretKeyUsername: []byte(git.server.Username()), v1alpha1.SecretKeyPassword: []byte(git.server.Password())},
			v1alpha1.KindGitStateStore, watched},
		{"bucket", bucketStore, s3.secret.Data, v1alpha1.KindBucketStateStore, resync},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			dest := &v1alpha1.Destination{
				ObjectMeta: metav1.ObjectMeta{Name: "dest"},
				Spec:       v1alpha1.DestinationSpec{StateStoreRef: v1alpha1.StateStoreReference{Kind: tt.kind, Name: tt.store.GetName()}, Path: "dest"},
			}
			content, err := v1alpha1.EncodeContent([]byte("kind: ConfigMap\n"))
			if err != nil {
				t.Fatal(err)
			}
			wp := &v1alpha1.WorkPlacement{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "req.dest", Generation: 1},
				Spec: v1alpha1.WorkPlacementSpec{
					TargetDestinationName: dest.Name, PromiseName: "p", ResourceName: "req", ResourceNamespace: "ns", ID: "5058f", PipelineName: "configure",
					Workloads: []v1alpha1.Workload{{Filepath: "cm.yaml", Content: content}},
				},
			}
			b := fake.NewClientBuilder().WithScheme(env.Scheme).WithObjects(dest, wp).WithStatusSubresource(&v1alpha1.WorkPlacement{})
			if err := setupIndexes(ctx, fieldIndexes{b}); err != nil {
				t.Fatal(err)
			}
			c := b.Build()
			registry := writers.NewRegistry(writers.DefaultFactory{}, logr.Discard())
			defer registry.Close()
			w, _, err := registry.Ensure(tt.store, tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			registry.SetReady(writers.Key{Kind: tt.kind, Name: tt.store.GetName()}, w, true)
			r := &WorkPlacementReconciler{Client: c, Writers: registry, Recorder: events.NewFakeRecorder(100), ResyncInterval: resync, WatchedStoreResyncInterval: watched}
			res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(wp)})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Get(ctx, client.ObjectKeyFromObject(wp), wp); err != nil {
				t.Fatal(err)
			}
			if wp.Status.VersionID == "" {
				t.Fatalf("the placement was not written: %+v", wp.Status.Conditions)
			}
			if res.RequeueAfter < tt.want || res.RequeueAfter > tt.want+tt.want/10 {
				t.Errorf("resync after %v, want %v and at most a tenth more", res.RequeueAfter, tt.want)
			}
		})
	}
}

// Placements written together come back at different times: each resync is its interval and up
// to a tenth more, at random, for either kind of store.
func TestResyncsAreSpread(t *testing.T) {
	r := &WorkPlacementReconciler{ResyncInterval: 10 * time.Minute, WatchedStoreResyncInterval: 6 * time.Hour}
	for _, watched := range []bool{false, true} {
		want := r.ResyncInterval
		if watched {
			want = r.WatchedStoreResyncInterval
		}
		seen := map[time.Duration]bool{}
		for range 100 {
			res, err := r.result(placementFacts{written: true, storeWatchesDrift: watched})
			if err != nil {
				t.Fatal(err)
			}
			if res.RequeueAfter < want || res.RequeueAfter >= want+want/10 {
				t.Fatalf("resync after %v, want %v and less than a tenth more", res.RequeueAfter, want)
			}
			seen[res.RequeueAfter] = true
		}
		if len(seen) < 90 {
			t.Errorf("100 placements written together come back at %d different times (watched store: %v)", len(seen), watched)
		}
	}
}
