package applier

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// repo is a bare repository and a work tree that pushes to it.
type repo struct {
	bare, work string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	dir := t.TempDir()
	r := &repo{bare: filepath.Join(dir, "state.git"), work: filepath.Join(dir, "work")}
	run(t, dir, "git", "init", "-q", "--bare", "-b", "main", r.bare)
	run(t, dir, "git", "init", "-q", "-b", "main", r.work)
	run(t, r.work, "git", "remote", "add", "origin", r.bare)
	return r
}

func run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// commit writes (content non-empty) or removes (empty) files and pushes one commit.
func (r *repo) commit(t *testing.T, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, name)
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, r.work, "git", "add", "-A")
	run(t, r.work, "git", "commit", "-q", "-m", "change")
	run(t, r.work, "git", "push", "-q", "origin", "main")
}

func configMap(ns, name, value string) string {
	meta := "  name: " + name + "\n"
	if ns != "" {
		meta += "  namespace: " + ns + "\n"
	}
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n" + meta + "data:\n  value: \"" + value + "\"\n"
}

func newApplier(t *testing.T, r *repo, inventoryNS string) *Applier {
	t.Helper()
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &Applier{
		Client: c, Repository: r.bare, Branch: "main", Dir: "platform",
		InventoryNamespace: inventoryNS, InventoryName: "applier-inventory",
		Poll: 50 * time.Millisecond, Retry: 100 * time.Millisecond, Log: logr.Discard(),
	}
}

func getConfigMap(t *testing.T, ns, name string) (*corev1.ConfigMap, error) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	return cm, env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, cm)
}

// The directory's dependencies are applied before its resources, server-side under the
// applier's field manager and labelled as its own; files outside the directory are not applied;
// what leaves the directory is deleted, and nothing else.
func TestSyncAppliesAndPrunes(t *testing.T) {
	r := newRepo(t)
	ns := fmt.Sprintf("applier-%d", time.Now().UnixNano())
	r.commit(t, map[string]string{
		// resources/ sorts before dependencies/ here only by path; the Namespace must come first.
		"platform/resources/a/cms.yaml":     configMap(ns, "first", "1") + "---\n" + configMap(ns, "second", "2"),
		"platform/resources/b/default.yaml": configMap("", "applier-default-"+ns, "d"),
		"platform/dependencies/ns.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n",
		"elsewhere/resources/cm.yaml":       configMap(ns, "elsewhere", "x"),
	})
	a := newApplier(t, r, "default")
	res, err := a.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 4 || res.Applied[0].Kind != "Namespace" {
		t.Fatalf("applied %v", res.Applied)
	}
	for _, key := range [][2]string{{ns, "first"}, {ns, "second"}, {"default", "applier-default-" + ns}} {
		cm, err := getConfigMap(t, key[0], key[1])
		if err != nil {
			t.Fatalf("%v: %v", key, err)
		}
		if cm.Labels[LabelAppliedBy] != DefaultFieldManager {
			t.Errorf("%v labels %v", key, cm.Labels)
		}
		if len(cm.ManagedFields) == 0 || cm.ManagedFields[0].Manager != DefaultFieldManager || cm.ManagedFields[0].Operation != "Apply" {
			t.Errorf("%v managed fields %+v", key, cm.ManagedFields)
		}
	}
	if _, err := getConfigMap(t, ns, "elsewhere"); !apierrors.IsNotFound(err) {
		t.Errorf("a file outside the directory was applied: %v", err)
	}
	inv, err := getConfigMap(t, "default", "applier-inventory")
	if err != nil || !strings.Contains(inv.Data[inventoryKey], `"name":"second"`) {
		t.Fatalf("inventory %v: %v", inv.Data, err)
	}

	// Someone else's ConfigMap in the namespace is never the applier's to delete.
	other := &corev1.ConfigMap{}
	other.Namespace, other.Name = ns, "not-applied"
	if err := env.Client.Create(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	// A change and a removal: the changed object is updated, the removed one deleted.
	r.commit(t, map[string]string{
		"platform/resources/a/cms.yaml": configMap(ns, "first", "changed"),
	})
	res, err = a.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pruned) != 1 || res.Pruned[0].Name != "second" {
		t.Errorf("pruned %v", res.Pruned)
	}
	if cm, err := getConfigMap(t, ns, "first"); err != nil || cm.Data["value"] != "changed" {
		t.Errorf("first: %v %v", cm.Data, err)
	}
	if _, err := getConfigMap(t, ns, "second"); !apierrors.IsNotFound(err) {
		t.Errorf("second is still there: %v", err)
	}
	if _, err := getConfigMap(t, ns, "not-applied"); err != nil {
		t.Errorf("someone else's ConfigMap: %v", err)
	}
	// Nothing changed: nothing is pruned twice.
	if res, err = a.Sync(t.Context()); err != nil || len(res.Pruned) != 0 {
		t.Errorf("a second pass pruned %v (%v)", res.Pruned, err)
	}
}

// A manifest of a kind the API server does not serve yet fails the pass but not the others; it
// is applied once the kind is served, by Run, which also follows new commits.
func TestRunWaitsForKindsAndFollowsTheBranch(t *testing.T) {
	r := newRepo(t)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	group := "applier" + suffix + ".example.com"
	widget := "apiVersion: " + group + "/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: default\nspec:\n  size: small\n"
	r.commit(t, map[string]string{
		"platform/resources/widget.yaml": widget,
		"platform/resources/cm.yaml":     configMap("default", "cm-"+suffix, "1"),
	})
	a := newApplier(t, r, "default")
	a.InventoryName = "inventory-" + suffix
	if _, err := a.Sync(t.Context()); err == nil || !strings.Contains(err.Error(), "Widget") {
		t.Fatalf("a kind not served yet: %v", err)
	}
	if _, err := getConfigMap(t, "default", "cm-"+suffix); err != nil {
		t.Fatalf("the other objects are applied: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if _, err := env.InstallResourceCRD(t.Context(), group, "Widget", "widgets"); err != nil {
		t.Fatal(err)
	}
	w := &unstructured.Unstructured{}
	w.SetAPIVersion(group + "/v1")
	w.SetKind("Widget")
	testenv.Eventually(t, "the Widget applied", 20*time.Second, 100*time.Millisecond, func() error {
		return env.Client.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "w1"}, w)
	})
	r.commit(t, map[string]string{"platform/resources/widget.yaml": ""})
	testenv.Eventually(t, "the Widget pruned", 20*time.Second, 100*time.Millisecond, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "w1"}, w)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	// The inventory is written after the prune.
	testenv.Eventually(t, "the inventory without the Widget", 20*time.Second, 100*time.Millisecond, func() error {
		inv, err := getConfigMap(t, "default", a.InventoryName)
		if err != nil {
			return err
		}
		if strings.Contains(inv.Data[inventoryKey], "Widget") || !strings.Contains(inv.Data[inventoryKey], "cm-"+suffix) {
			return fmt.Errorf("inventory %s", inv.Data[inventoryKey])
		}
		return nil
	})
}
