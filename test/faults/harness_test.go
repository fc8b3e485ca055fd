package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/scheduling"
	"kratix.dev/kratix/statestore"
)

const (
	// setupTimeout bounds the waits for the store, the Destination and cleanups.
	setupTimeout = 2 * time.Minute
	// convergeTimeout bounds the wait for every placement to be written after a fault.
	convergeTimeout = 10 * time.Minute
	// pollInterval is how often the waits poll.
	pollInterval = 250 * time.Millisecond
	// promiseName is the Promise every Work of the suite belongs to.
	promiseName = "faults"
	// pipelineName is the pipeline every Work of the suite comes from.
	pipelineName = "configure"
	// repoName is the bare repository of each scenario's Git server.
	repoName = "state.git"
	// logTail is how much of the manager's log a failed scenario prints.
	logTail = 64 << 10
)

// placements is the number of placements each scenario puts in flight: $FAULTS_N, 200 when unset.
func placements(t *testing.T) int {
	t.Helper()
	s := os.Getenv("FAULTS_N")
	if s == "" {
		return 200
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("FAULTS_N=%q is not a positive number", s)
	}
	return n
}

// uniqueName returns prefix with a random suffix, so that no scenario sees another's objects.
func uniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + "-" + hex.EncodeToString(b)
}

// eventually polls check until it returns nil, failing the test after timeout.
func eventually(t *testing.T, what string, timeout time.Duration, check func() error) {
	t.Helper()
	testenv.Eventually(t, what, timeout, pollInterval, check)
}

// startManager runs a manager with the engine's controllers (metrics and probes off) until the
// test ends; the tail of its log is printed when the test fails.
func startManager(t *testing.T, opts controllers.Options) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	skip := true
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Logger:                 zap.New(zap.UseDevMode(true), zap.WriteTo(logs)),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		// Every scenario starts its own manager with the same controller names.
		Controller: config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	if err := controllers.SetupWithManager(mgr, opts); err != nil {
		t.Fatalf("set up controllers: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
			if t.Failed() {
				log := logs.String()
				if len(log) > logTail {
					log = "...\n" + log[len(log)-logTail:]
				}
				t.Logf("manager log:\n%s", log)
			}
		})
	})
}

// ensureNamespace creates the namespace unless it exists. Namespaces are left behind: the
// control plane has no namespace controller to finish deleting them.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// create creates obj and deletes it when the test ends, waiting until it is gone.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if err := env.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			t.Errorf("delete %T %s: %v", obj, obj.GetName(), err)
			return
		}
		probe := obj.DeepCopyObject().(client.Object)
		eventually(t, fmt.Sprintf("%T %s is gone", obj, obj.GetName()), setupTimeout, func() error {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), probe)
			switch {
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return err
			default:
				return fmt.Errorf("still there, finalizers %v", probe.GetFinalizers())
			}
		})
	})
}

// ready reports whether conds hold Ready=True with the reason.
func ready(conds []metav1.Condition, reason string) error {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	switch {
	case c == nil:
		return fmt.Errorf("no Ready condition")
	case c.Status != metav1.ConditionTrue || c.Reason != reason:
		return fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
	}
	return nil
}

// waitReady waits until obj (a GitStateStore or a Destination) is Ready with the reason.
func waitReady(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s Ready", obj, obj.GetName()), setupTimeout, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		switch o := obj.(type) {
		case *v1alpha1.GitStateStore:
			return ready(o.Status.Conditions, reason)
		case *v1alpha1.Destination:
			return ready(o.Status.Conditions, reason)
		}
		return fmt.Errorf("%T has no conditions", obj)
	})
}

// rig is one scenario's world: a Git server with one repository, a ready GitStateStore on it, a
// ready Destination and a namespace for the scenario's resource Works.
type rig struct {
	server    *gitserver.HTTPServer
	namespace string
	selector  map[string]string
	dest      *v1alpha1.Destination
	// works are the Works that putWorks created, and files the file each one's placement writes.
	works []*v1alpha1.Work
	files map[string]string
}

// newRig starts a Git server, a manager with opts and a ready store and Destination. Cleanups
// run in reverse: the objects go first, then the manager stops, then the server.
func newRig(t *testing.T, opts controllers.Options) *rig {
	t.Helper()
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{Log: &testenv.LogBuffer{}})
	if _, err := server.CreateRepo(repoName, "main"); err != nil {
		t.Fatal(err)
	}
	startManager(t, opts)
	r := &rig{
		server:    server,
		namespace: uniqueName("faults"),
		selector:  map[string]string{"faults": uniqueName("site")},
		files:     map[string]string{},
	}
	ensureNamespace(t, r.namespace)
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)

	secret := &corev1.Secret{
		// The platform namespace is the one namespace where the manager reads store Secrets by default.
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("git-creds"), Namespace: v1alpha1.DefaultPlatformNS},
		Data: map[string][]byte{
			v1alpha1.SecretKeyUsername: []byte(server.Username()),
			v1alpha1.SecretKeyPassword: []byte(server.Password()),
		},
	}
	create(t, secret)
	store := &v1alpha1.GitStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("git")},
		Spec: v1alpha1.GitStateStoreSpec{
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
				SecretRef: &v1alpha1.SecretRef{Name: secret.Name, Namespace: secret.Namespace},
			},
			URL:    server.URL(repoName),
			Branch: "main",
			// The loopback server takes basic auth over plain http.
			Insecure: true,
		},
	}
	create(t, store)
	waitReady(t, store, v1alpha1.ReasonStateStoreReady)
	r.dest = &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("dest"), Labels: r.selector},
		Spec: v1alpha1.DestinationSpec{
			StateStoreRef: v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: store.Name},
			Path:          "faults",
		},
	}
	create(t, r.dest)
	waitReady(t, r.dest, v1alpha1.ReasonTestDocumentsWritten)
	return r
}

// git runs the git CLI on the server's repository.
func (r *rig) git(ctx context.Context, args ...string) (string, error) {
	return r.server.Git(ctx, repoName, args...)
}

// putWorks creates n resource Works, each with one root group for the rig's Destination, and
// deletes them all when the test ends, waiting until they and their placements are gone.
func (r *rig) putWorks(t *testing.T, n int) {
	t.Helper()
	t.Cleanup(func() { r.deleteWorks(t) })
	group := scheduling.GroupID(v1alpha1.RootDirectory)
	for i := range n {
		name := fmt.Sprintf("req-%04d", i)
		content, err := v1alpha1.EncodeContent([]byte(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n", name, r.namespace)))
		if err != nil {
			t.Fatal(err)
		}
		work := &v1alpha1.Work{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.namespace},
			Spec: v1alpha1.WorkSpec{
				PromiseName:       promiseName,
				ResourceName:      name,
				ResourceNamespace: r.namespace,
				PipelineName:      pipelineName,
				WorkloadGroups: []v1alpha1.WorkloadGroup{{
					ID:        group,
					Directory: v1alpha1.RootDirectory,
					Workloads: []v1alpha1.Workload{{Filepath: "manifest.yaml", Content: content}},
					DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
						{MatchLabels: r.selector, Source: v1alpha1.SelectorSourcePromise},
					},
				}},
			},
		}
		dir, err := statestore.NestedDir(r.dest.Spec.Path, statestore.Placement{
			Promise: promiseName, ResourceNamespace: r.namespace, Resource: name, Pipeline: pipelineName, GroupID: group,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(t.Context(), work); err != nil {
			t.Fatalf("create Work %s: %v", name, err)
		}
		r.works = append(r.works, work)
		r.files[name] = dir + "/manifest.yaml"
	}
}

// deleteWorks deletes the rig's Works and waits until they and their placements are gone.
func (r *rig) deleteWorks(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.DeleteAllOf(ctx, &v1alpha1.Work{}, client.InNamespace(r.namespace)); err != nil {
		t.Errorf("delete the Works: %v", err)
		return
	}
	eventually(t, "the Works and their placements are gone", setupTimeout, func() error {
		var works v1alpha1.WorkList
		if err := env.Client.List(ctx, &works, client.InNamespace(r.namespace)); err != nil {
			return err
		}
		var wps v1alpha1.WorkPlacementList
		if err := env.Client.List(ctx, &wps, client.InNamespace(r.namespace)); err != nil {
			return err
		}
		if len(works.Items)+len(wps.Items) > 0 {
			return fmt.Errorf("%d Works and %d placements left", len(works.Items), len(wps.Items))
		}
		return nil
	})
}

// placementsOf lists the placements in the rig's namespace by their Work's name.
func (r *rig) placementsOf(ctx context.Context) (map[string]v1alpha1.WorkPlacement, error) {
	var list v1alpha1.WorkPlacementList
	if err := env.Client.List(ctx, &list, client.InNamespace(r.namespace)); err != nil {
		return nil, err
	}
	out := make(map[string]v1alpha1.WorkPlacement, len(list.Items))
	for _, wp := range list.Items {
		out[wp.Labels[v1alpha1.LabelWork]] = wp
	}
	return out, nil
}

// placementReady reports whether the placement is Ready=True WriteSucceeded for its generation.
func placementReady(wp v1alpha1.WorkPlacement) bool {
	c := meta.FindStatusCondition(wp.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1alpha1.ReasonWriteSucceeded &&
		c.ObservedGeneration == wp.Generation && wp.Status.ObservedGeneration == wp.Generation
}

// removeByHand removes files from main in a clone of the repository and pushes, as a person
// running `git rm` would. The engine may push in between, so it starts over from a new clone
// when its push is rejected.
func (r *rig) removeByHand(t *testing.T, paths ...string) {
	t.Helper()
	eventually(t, "remove files by hand", time.Minute, func() error {
		dir := t.TempDir()
		work := filepath.Join(dir, "work")
		run := func(args ...string) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "git", args...)
			cmd.Env = gitserver.GitEnv(dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("git %v: %v\n%s", args, err, out)
			}
			return nil
		}
		if err := run("clone", "--quiet", "--branch", "main", filepath.Join(r.server.Root(), repoName), work); err != nil {
			t.Fatal(err)
		}
		if err := run(append([]string{"-C", work, "rm", "--quiet"}, paths...)...); err != nil {
			t.Fatal(err)
		}
		if err := run("-C", work, "commit", "--quiet", "-m", "tidy up"); err != nil {
			t.Fatal(err)
		}
		return run("-C", work, "push", "--quiet", "origin", "main")
	})
}
