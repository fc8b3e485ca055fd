package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/scheduling"
)

// platform is the world of the scenario tests: the engine, a Git server with basic auth and a
// GitStateStore on it, and Destinations dev-1 (environment: dev) and prod-1 (environment: prod).
type platform struct {
	git  *gitserver.HTTPServer
	repo string // the bare repository's directory
	norm *normaliser
}

func newPlatform(t *testing.T) *platform {
	t.Helper()
	ctx := t.Context()
	startEngine(t) // first, so that it stops last: the Destinations' finalizers need it
	srv := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	repo, err := srv.CreateRepo("state.git", "main")
	if err != nil {
		t.Fatal(err)
	}
	ensure(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPlatformNS}})
	ensure(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-credentials", Namespace: v1alpha1.DefaultPlatformNS},
		Data:       map[string][]byte{"username": []byte(srv.Username()), "password": []byte(srv.Password())},
	})
	store := &v1alpha1.GitStateStore{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	store.Spec.URL = srv.URL("state.git")
	store.Spec.Insecure = true // plain http on loopback
	store.Spec.SecretRef = &v1alpha1.SecretRef{Name: "git-credentials", Namespace: v1alpha1.DefaultPlatformNS}
	create(t, store)
	// One at a time, so that each Destination's canary files are a commit of their own, in order.
	for _, d := range []struct{ name, env string }{{"dev-1", "dev"}, {"prod-1", "prod"}} {
		dest := &v1alpha1.Destination{ObjectMeta: metav1.ObjectMeta{Name: d.name, Labels: map[string]string{"environment": d.env}}}
		dest.Spec.Path = d.name
		dest.Spec.StateStoreRef = v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: "default"}
		create(t, dest)
		waitFor(t, "destination "+d.name+" ready", func() error {
			got := &v1alpha1.Destination{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: d.name}, got); err != nil {
				return err
			}
			return conditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)
		})
	}
	return &platform{git: srv, repo: repo, norm: newNormaliser()}
}

// normalise numbers the store's commits oldest first, then replaces what changes between runs.
func (p *platform) normalise(t *testing.T, s string) string {
	t.Helper()
	log, err := p.git.Git(t.Context(), "state.git", "log", "--reverse", "--format=%H", "main")
	if err != nil {
		t.Fatal(err)
	}
	p.norm.commitOrder(strings.Fields(log)...)
	return p.norm.apply(s)
}

// applyPromise creates or updates the Promise from testdata and waits until it is Available.
func applyPromise(t *testing.T, file string) *v1alpha1.Promise {
	t.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	want := &v1alpha1.Promise{}
	if err := yaml.UnmarshalStrict(data, want); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	have := &v1alpha1.Promise{}
	switch err := env.Client.Get(ctx, client.ObjectKeyFromObject(want), have); {
	case apierrors.IsNotFound(err):
		create(t, want)
	case err != nil:
		t.Fatal(err)
	default:
		have.Spec = want.Spec
		if err := env.Client.Update(ctx, have); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "promise available", func() error {
		p := &v1alpha1.Promise{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(want), p); err != nil {
			return err
		}
		if p.Status.ObservedGeneration != p.Generation {
			return errors.New("not observed yet")
		}
		return conditionTrue(p.Status.Conditions, v1alpha1.ConditionAvailable)
	})
	return want
}

// createRequest creates an App in namespace default, and the Work its pipeline "render" would
// write: one ConfigMap for every dev Destination.
func createRequest(t *testing.T, name string) {
	t.Helper()
	ctx := t.Context()
	req := &unstructured.Unstructured{}
	req.SetAPIVersion("example.platform.io/v1")
	req.SetKind("App")
	req.SetNamespace("default")
	req.SetName(name)
	if err := unstructured.SetNestedField(req.Object, "hello", "spec", "greeting"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the App API", func() error { return env.Client.Create(ctx, req) })
	t.Cleanup(func() { deleteAndWait(t, req) })
	content, err := v1alpha1.EncodeContent([]byte(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\ndata:\n  greeting: hello\n", name)))
	if err != nil {
		t.Fatal(err)
	}
	work := &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{
		Name: "app-" + name + "-render", Namespace: "default",
		Labels: map[string]string{
			v1alpha1.LabelPromiseName: "app", v1alpha1.LabelWorkType: v1alpha1.WorkTypeResource,
			v1alpha1.LabelResourceName: name, v1alpha1.LabelResourceNamespace: "default", v1alpha1.LabelPipelineName: "render",
		},
	}}
	work.Spec = v1alpha1.WorkSpec{
		PromiseName: "app", ResourceName: name, ResourceNamespace: "default", PipelineName: "render",
		WorkloadGroups: []v1alpha1.WorkloadGroup{{
			ID: scheduling.GroupID("."), Directory: ".",
			Workloads: []v1alpha1.Workload{{Filepath: "configmap.yaml", Content: content}},
			DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{{
				MatchLabels: map[string]string{"environment": "dev"}, Source: v1alpha1.SelectorSourceResourceWorkflow,
			}},
		}},
	}
	create(t, work)
}

// waitPlacements waits until every WorkPlacement of the namespace that is not misscheduled is
// Ready, and n of them exist.
func waitPlacements(t *testing.T, namespace string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d placements ready in %s", n, namespace), func() error {
		var list v1alpha1.WorkPlacementList
		if err := env.Client.List(t.Context(), &list, client.InNamespace(namespace)); err != nil {
			return err
		}
		if len(list.Items) != n {
			return fmt.Errorf("%d placements", len(list.Items))
		}
		for _, wp := range list.Items {
			if wp.IsMisscheduled() {
				continue
			}
			if err := conditionTrue(wp.Status.Conditions, v1alpha1.ConditionReady); err != nil {
				return fmt.Errorf("%s: %w", wp.Name, err)
			}
		}
		return nil
	})
}

func conditionTrue(conds []metav1.Condition, typ string) error {
	c := meta.FindStatusCondition(conds, typ)
	if c == nil || c.Status != metav1.ConditionTrue {
		return fmt.Errorf("%s is not True: %+v", typ, c)
	}
	return nil
}

// create creates obj and deletes it when the test ends.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { deleteAndWait(t, obj) })
}

// ensure creates obj unless it exists; it stays for the other tests.
func ensure(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := testenvContext()
	// In the background, as kubectl does: an orphaning delete (the default of Jobs) waits for a
	// garbage collector, which envtest does not run.
	if err := env.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %s: %v", obj.GetName(), err)
		return
	}
	waitFor(t, "deletion of "+obj.GetName(), func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object))
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

// editByHand commits a change to a file of the store as someone other than the engine would, and
// pushes it straight into the server's repository.
func (p *platform) editByHand(t *testing.T, path, content, subject string) {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if _, err := p.git.Git(ctx, "", append([]string{"-C", dir, "-c", "user.name=someone", "-c", "user.email=someone@example.com"}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	run("clone", "--quiet", p.repo, ".")
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(path)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run("commit", "--quiet", "-am", subject)
	run("push", "--quiet", "origin", "main")
}
