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
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/s3server"
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
	// manifestFile is the one file of every Work's workload group.
	manifestFile = "manifest.yaml"
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
			printLog(t, "manager log", logs)
		})
	})
}

// printLog prints the tail of a failed test's manager log, and writes the whole of what the
// buffer kept to $FAULTS_LOG_DIR/<test>.log when that is set.
func printLog(t *testing.T, what string, logs *testenv.LogBuffer) {
	t.Helper()
	if !t.Failed() {
		return
	}
	log := logs.String()
	if dir := os.Getenv("FAULTS_LOG_DIR"); dir != "" {
		file := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".log")
		if err := os.WriteFile(file, []byte(log), 0o644); err != nil {
			t.Errorf("write the %s: %v", what, err)
		} else {
			t.Logf("the %s is in %s", what, file)
		}
	}
	if len(log) > logTail {
		log = "...\n" + log[len(log)-logTail:]
	}
	t.Logf("%s:\n%s", what, log)
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

// waitReady waits until obj (a state store or a Destination) is Ready with the reason.
func waitReady(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s Ready", obj, obj.GetName()), setupTimeout, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		switch o := obj.(type) {
		case *v1alpha1.GitStateStore:
			return ready(o.Status.Conditions, reason)
		case *v1alpha1.BucketStateStore:
			return ready(o.Status.Conditions, reason)
		case *v1alpha1.Destination:
			return ready(o.Status.Conditions, reason)
		}
		return fmt.Errorf("%T has no conditions", obj)
	})
}

// rigOptions say how a scenario's world is built.
type rigOptions struct {
	// controllers tune the in-process manager.
	controllers controllers.Options
	// s3 puts the Destination on a BucketStateStore on a real S3 server rather than on a
	// GitStateStore on the Git server.
	s3 bool
	// manager, when set, runs the engine in place of the in-process manager (which then does not
	// run): it starts the engine and stops it when the test ends.
	manager func(t *testing.T)
}

// rig is one scenario's world: a state store (a Git server with one repository and a ready
// GitStateStore on it, or an S3 server with one bucket and a ready BucketStateStore), a ready
// Destination and a namespace for the scenario's resource Works.
type rig struct {
	// server is the Git server; nil on an S3 rig.
	server *gitserver.HTTPServer
	// s3 is the S3 server; nil on a Git rig.
	s3 *s3server.Server
	// store is the GitStateStore or BucketStateStore, and storeRef the Destinations' reference
	// to it.
	store     client.Object
	storeRef  v1alpha1.StateStoreReference
	namespace string
	selector  map[string]string
	dest      *v1alpha1.Destination
	// works are the Works that putWorks created, files the file each one's placement writes
	// and content what the file should hold, by Work name.
	works   []*v1alpha1.Work
	files   map[string]string
	content map[string][]byte
}

// bucketName is the bucket of each scenario's S3 server.
const bucketName = "faults"

// newRig starts a state store's server, a manager and a ready store and Destination. Cleanups
// run in reverse: the objects go first, then the manager stops, then the server.
func newRig(t *testing.T, opts rigOptions) *rig {
	t.Helper()
	r := &rig{
		namespace: uniqueName("faults"),
		selector:  map[string]string{"faults": uniqueName("site")},
		files:     map[string]string{},
		content:   map[string][]byte{},
	}
	if opts.s3 {
		r.s3 = s3server.New(t)
		if err := r.s3.CreateBucket(t.Context(), bucketName); err != nil {
			t.Fatal(err)
		}
	} else {
		r.server = gitserver.NewHTTP(t, gitserver.HTTPOptions{Log: &testenv.LogBuffer{}})
		if _, err := r.server.CreateRepo(repoName, "main"); err != nil {
			t.Fatal(err)
		}
	}
	if opts.manager != nil {
		opts.manager(t)
	} else {
		startManager(t, opts.controllers)
	}
	ensureNamespace(t, r.namespace)
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)

	// The platform namespace is the one namespace where the manager reads store Secrets by default.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("creds"), Namespace: v1alpha1.DefaultPlatformNS}}
	ref := &v1alpha1.SecretRef{Name: secret.Name, Namespace: secret.Namespace}
	var store client.Object
	if opts.s3 {
		secret.Data = map[string][]byte{
			v1alpha1.SecretKeyAccessKeyID:     []byte(r.s3.AccessKey),
			v1alpha1.SecretKeySecretAccessKey: []byte(r.s3.SecretKey),
		}
		store = &v1alpha1.BucketStateStore{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName("bucket")},
			Spec: v1alpha1.BucketStateStoreSpec{
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: ref},
				Endpoint:             r.s3.Endpoint,
				BucketName:           bucketName,
				Insecure:             true,
			},
		}
		r.storeRef = v1alpha1.StateStoreReference{Kind: v1alpha1.KindBucketStateStore, Name: store.GetName()}
	} else {
		secret.Data = map[string][]byte{
			v1alpha1.SecretKeyUsername: []byte(r.server.Username()),
			v1alpha1.SecretKeyPassword: []byte(r.server.Password()),
		}
		store = &v1alpha1.GitStateStore{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName("git")},
			Spec: v1alpha1.GitStateStoreSpec{
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: ref},
				URL:                  r.server.URL(repoName),
				Branch:               "main",
				// The loopback server takes basic auth over plain http.
				Insecure: true,
			},
		}
		r.storeRef = v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: store.GetName()}
	}
	create(t, secret)
	create(t, store)
	waitReady(t, store, v1alpha1.ReasonStateStoreReady)
	r.store = store
	r.dest = r.newDestination(t, "faults", r.selector, "")
	return r
}

// newDestination creates a ready Destination on the rig's store at path, with the labels and the
// cleanup policy (the default when empty), and deletes it when the test ends.
func (r *rig) newDestination(t *testing.T, path string, labels map[string]string, cleanup string) *v1alpha1.Destination {
	t.Helper()
	dest := &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("dest"), Labels: labels},
		Spec:       v1alpha1.DestinationSpec{StateStoreRef: r.storeRef, Path: path, Cleanup: cleanup},
	}
	create(t, dest)
	waitReady(t, dest, v1alpha1.ReasonTestDocumentsWritten)
	return dest
}

// git runs the git CLI on the server's repository.
func (r *rig) git(ctx context.Context, args ...string) (string, error) {
	return r.server.Git(ctx, repoName, args...)
}

// workContent is the manifest of the Work name in namespace, at revision rev.
func workContent(namespace, name string, rev int) []byte {
	return fmt.Appendf(nil, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  revision: %q\n", name, namespace, strconv.Itoa(rev))
}

// putWorks creates n resource Works, each with one root group for the rig's Destination, and
// deletes them all when the test ends, waiting until they and their placements are gone.
//
// The state store goes first: the placements, finding no store, then remove nothing (the
// repository or bucket goes with the test), where removing N directories would take the engine
// most of a minute at the suite's concurrency.
func (r *rig) putWorks(t *testing.T, n int) {
	t.Helper()
	t.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), r.store); client.IgnoreNotFound(err) != nil {
			t.Errorf("delete the state store: %v", err)
		}
		r.deleteWorks(t, r.namespace)
	})
	r.addWorks(t, n)
}

// addWorks adds n Works to the rig's, after those it has.
func (r *rig) addWorks(t *testing.T, n int) {
	t.Helper()
	r.works = append(r.works, r.createWorks(t, r.namespace, r.dest, r.selector, len(r.works), n, r.files, r.content)...)
}

// createWorks creates n resource Works in namespace, numbered from first, each with one root
// group for the Destination that the selector matches (dest), and records in files and content
// the file each one's placement writes and what it holds.
func (r *rig) createWorks(t *testing.T, namespace string, dest *v1alpha1.Destination, selector map[string]string, first, n int, files map[string]string, contents map[string][]byte) []*v1alpha1.Work {
	t.Helper()
	group := scheduling.GroupID(v1alpha1.RootDirectory)
	works := make([]*v1alpha1.Work, 0, n)
	for i := first; i < first+n; i++ {
		name := fmt.Sprintf("req-%04d", i)
		manifest := workContent(namespace, name, 1)
		content, err := v1alpha1.EncodeContent(manifest)
		if err != nil {
			t.Fatal(err)
		}
		work := &v1alpha1.Work{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: v1alpha1.WorkSpec{
				PromiseName:       promiseName,
				ResourceName:      name,
				ResourceNamespace: namespace,
				PipelineName:      pipelineName,
				WorkloadGroups: []v1alpha1.WorkloadGroup{{
					ID:        group,
					Directory: v1alpha1.RootDirectory,
					Workloads: []v1alpha1.Workload{{Filepath: manifestFile, Content: content}},
					DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
						{MatchLabels: selector, Source: v1alpha1.SelectorSourcePromise},
					},
				}},
			},
		}
		dir, err := statestore.NestedDir(dest.Spec.Path, statestore.Placement{
			Promise: promiseName, ResourceNamespace: namespace, Resource: name, Pipeline: pipelineName, GroupID: group,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(t.Context(), work); err != nil {
			t.Fatalf("create Work %s: %v", name, err)
		}
		works = append(works, work)
		files[name] = dir + "/" + manifestFile
		contents[name] = manifest
	}
	return works
}

// rewriteWorks gives the Works (of the rig's) their manifest at revision rev, as a Promise update
// that re-runs every resource's workflow would: their placements write again.
func (r *rig) rewriteWorks(t *testing.T, works []*v1alpha1.Work, rev int) {
	t.Helper()
	for _, w := range works {
		manifest := workContent(r.namespace, w.Name, rev)
		content, err := v1alpha1.EncodeContent(manifest)
		if err != nil {
			t.Fatal(err)
		}
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(w), w); err != nil {
				return err
			}
			w.Spec.WorkloadGroups[0].Workloads[0].Content = content
			return env.Client.Update(t.Context(), w)
		})
		if err != nil {
			t.Fatalf("update Work %s: %v", w.Name, err)
		}
		r.content[w.Name] = manifest
	}
}

// deleteWorks deletes the Works of namespace and waits until they and their placements are gone.
func (r *rig) deleteWorks(t *testing.T, namespace string) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.DeleteAllOf(ctx, &v1alpha1.Work{}, client.InNamespace(namespace)); err != nil {
		t.Errorf("delete the Works: %v", err)
		return
	}
	eventually(t, "the Works and their placements are gone", setupTimeout, func() error {
		var works v1alpha1.WorkList
		if err := env.Client.List(ctx, &works, client.InNamespace(namespace)); err != nil {
			return err
		}
		var wps v1alpha1.WorkPlacementList
		if err := env.Client.List(ctx, &wps, client.InNamespace(namespace)); err != nil {
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
	return placementsIn(ctx, r.namespace)
}

// placementsIn lists the placements in namespace by their Work's name.
func placementsIn(ctx context.Context, namespace string) (map[string]v1alpha1.WorkPlacement, error) {
	var list v1alpha1.WorkPlacementList
	if err := env.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
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

// readiness describes a placement's Ready condition and generations, for messages.
func readiness(wp v1alpha1.WorkPlacement) string {
	c := meta.FindStatusCondition(wp.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil {
		return fmt.Sprintf("no Ready condition (generation %d)", wp.Generation)
	}
	return fmt.Sprintf("Ready=%s %s for generation %d of %d, status of %d: %s",
		c.Status, c.Reason, c.ObservedGeneration, wp.Generation, wp.Status.ObservedGeneration, c.Message)
}

// removeByHand removes files from main in a clone of the repository and pushes, as a person
// running `git rm` would.
func (r *rig) removeByHand(t *testing.T, paths ...string) {
	t.Helper()
	r.byHand(t, "tidy up", func(work string, run func(args ...string) error) error {
		return run(append([]string{"-C", work, "rm", "--quiet"}, paths...)...)
	})
}

// byHand changes main as a person would: in a new clone of the repository, edit makes its
// changes (run runs the git CLI), then they are committed with the message and pushed. The
// engine may push in between, so a rejected push is rebased and pushed again, and after ten
// rejections it starts over from a new clone. It returns the commit pushed.
func (r *rig) byHand(t *testing.T, message string, edit func(work string, run func(args ...string) error) error) string {
	t.Helper()
	var commit string
	eventually(t, "change main by hand: "+message, time.Minute, func() error {
		dir := t.TempDir()
		work := filepath.Join(dir, "work")
		output := func(args ...string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "git", args...)
			cmd.Env = gitserver.GitEnv(dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return "", fmt.Errorf("git %v: %v\n%s", args, err, out)
			}
			return string(out), nil
		}
		run := func(args ...string) error {
			_, err := output(args...)
			return err
		}
		if err := run("clone", "--quiet", "--branch", "main", filepath.Join(r.server.Root(), repoName), work); err != nil {
			t.Fatal(err)
		}
		if err := edit(work, run); err != nil {
			t.Fatal(err)
		}
		if err := run("-C", work, "commit", "--quiet", "-m", message); err != nil {
			t.Fatal(err)
		}
		// As a person would: when the push is refused, rebase on what was pushed meanwhile and
		// push again.
		var err error
		for range 10 {
			if err = run("-C", work, "push", "--quiet", "origin", "main"); err == nil {
				break
			}
			if err := run("-C", work, "pull", "--quiet", "--rebase", "origin", "main"); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		head, err := output("-C", work, "rev-parse", "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		commit = strings.TrimSpace(head)
		return nil
	})
	return commit
}
