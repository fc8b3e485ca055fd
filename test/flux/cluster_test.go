package fluxe2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/internal/flux"
	"kratix.dev/kratix/internal/testenv"
)

// fluxInterval is how often each cluster's Flux looks at its source and re-applies.
const fluxInterval = 2 * time.Second

// cluster is a destination cluster: an API server of its own with Flux's controllers applying
// one Destination's directory of a state store, as the README lays it out.
type cluster struct {
	name string // the Destination's
	env  *testenv.Env
	ctrl *flux.Controllers
	kind string // flux.KindGitRepository or flux.KindBucket
}

// startClusters starts one API server per Destination, side by side, and stops them when the
// test ends.
func startClusters(t *testing.T, names ...string) []*cluster {
	t.Helper()
	out := make([]*cluster, len(names))
	errs := make([]error, len(names))
	done := make(chan int)
	for i, name := range names {
		go func() {
			defer func() { done <- i }()
			env, err := testenv.Start()
			if err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", name, err)
				return
			}
			out[i] = &cluster{name: name, env: env}
		}()
	}
	for range names {
		<-done
	}
	for _, c := range out {
		if c == nil {
			continue
		}
		t.Cleanup(func() {
			if err := c.ctrl.Stop(10 * time.Second); err != nil {
				t.Errorf("cluster %s: stop Flux: %v", c.name, err)
			}
			if t.Failed() && c.ctrl != nil {
				for _, log := range c.ctrl.Logs() {
					t.Logf("--- cluster %s, end of %s:\n%s", c.name, filepath.Base(log), flux.LogTail(log, 30))
				}
			}
			if err := c.env.Stop(); err != nil {
				t.Errorf("cluster %s: stop the API server: %v", c.name, err)
			}
		})
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// startFlux installs Flux's CRDs, starts its controllers and creates the objects that apply the
// Destination's directory from the source.
func (c *cluster) startFlux(t *testing.T, tl tools, dest flux.Destination) {
	t.Helper()
	ctx := withTimeout(t, 2*time.Minute)
	if err := flux.Install(ctx, c.env.Client, tl.flux.CRDDir); err != nil {
		t.Fatalf("cluster %s: %v", c.name, err)
	}
	ctrl, err := flux.Start(flux.Options{
		Binaries: tl.flux, Kubeconfig: c.env.Kubeconfig(), Dir: t.TempDir(), RequeueDependency: time.Second,
	})
	if err != nil {
		t.Fatalf("cluster %s: %v", c.name, err)
	}
	c.ctrl = ctrl
	if dest.Interval == 0 {
		dest.Interval = fluxInterval
	}
	objs, err := flux.DestinationObjects(dest)
	if err != nil {
		t.Fatal(err)
	}
	c.kind = objs[1].GetKind()
	if err := flux.Apply(ctx, c.env.Client, objs); err != nil {
		t.Fatalf("cluster %s: %v", c.name, err)
	}
}

// exitError reports a Flux controller that stopped by itself.
func (c *cluster) exitError() error {
	if err := c.ctrl.ExitError(); err != nil {
		return fmt.Errorf("cluster %s: %w", c.name, err)
	}
	return nil
}

// get reads an object of the cluster: a nil error means it exists.
func (c *cluster) get(obj client.Object, namespace, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj)
}

// namespaceExists is nil once the cluster has the namespace.
func (c *cluster) namespaceExists(name string) error {
	ns := &corev1.Namespace{}
	if err := c.get(ns, "", name); err != nil {
		return fmt.Errorf("cluster %s: namespace %s: %w", c.name, name, err)
	}
	if ns.DeletionTimestamp != nil {
		return fmt.Errorf("cluster %s: namespace %s is being deleted", c.name, name)
	}
	return nil
}

// namespaceGone is nil once the namespace is gone or going (an envtest API server has no
// namespace controller to finish the deletion: Flux's prune is the delete call).
func (c *cluster) namespaceGone(name string) error {
	ns := &corev1.Namespace{}
	switch err := c.get(ns, "", name); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case ns.DeletionTimestamp != nil:
		return nil
	}
	return fmt.Errorf("cluster %s: namespace %s is still there", c.name, name)
}

// configMapData is the data of a ConfigMap of the cluster.
func (c *cluster) configMapData(namespace, name string) (map[string]string, error) {
	cm := &corev1.ConfigMap{}
	if err := c.get(cm, namespace, name); err != nil {
		return nil, fmt.Errorf("cluster %s: ConfigMap %s/%s: %w", c.name, namespace, name, err)
	}
	return cm.Data, nil
}

// applied is nil once both Kustomizations are Ready and have applied the source's current
// revision: what the state store held when the source last looked is on the cluster.
func (c *cluster) applied() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src := &unstructured.Unstructured{}
	src.SetAPIVersion(flux.SourceAPIVersion)
	src.SetKind(c.kind)
	if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: flux.Namespace, Name: flux.SourceName}, src); err != nil {
		return "", err
	}
	revision, _, _ := unstructured.NestedString(src.Object, "status", "artifact", "revision")
	if revision == "" {
		_, msg, _ := flux.Ready(ctx, c.env.Client, flux.SourceAPIVersion, c.kind, flux.SourceName)
		return "", fmt.Errorf("cluster %s: the %s has no artifact yet (%s)", c.name, c.kind, msg)
	}
	for _, name := range []string{flux.DependenciesKustomization, flux.ResourcesKustomization} {
		k := &unstructured.Unstructured{}
		k.SetAPIVersion(flux.KustomizationAPIVersion)
		k.SetKind(flux.KindKustomization)
		if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: flux.Namespace, Name: name}, k); err != nil {
			return "", err
		}
		ready, msg, err := flux.Ready(ctx, c.env.Client, flux.KustomizationAPIVersion, flux.KindKustomization, name)
		if err != nil {
			return "", err
		}
		// Flux sets lastAppliedRevision only when an apply succeeded; Ready goes Unknown
		// (Progressing) while each interval's reconciliation runs, most of the time on a busy
		// machine with the tests' short intervals. False is a failure.
		got, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
		if got != revision || (!ready && !strings.HasPrefix(msg, "Progressing:")) {
			return "", fmt.Errorf("cluster %s: Kustomization %s has applied %q, not the source's %q (ready %v: %s)", c.name, name, got, revision, ready, msg)
		}
	}
	return revision, nil
}
