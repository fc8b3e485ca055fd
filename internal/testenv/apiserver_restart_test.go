package testenv

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The API server stopped and started again serves the same address, certificate, users and
// objects (etcd kept running), so that the environment's client works as before.
func TestAPIServerRestart(t *testing.T) {
	e, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "before-restart"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := e.StartAPIServer(); err == nil {
		t.Fatal("StartAPIServer started a second API server beside the running one")
	}

	// An open watch, as a running manager's informers hold, must not keep the server from
	// stopping.
	wc, err := client.NewWithWatch(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, &corev1.NamespaceList{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	began := time.Now()
	if err := e.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("the API server took %s to stop with a watch open", took.Round(time.Second))
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := e.Client.Get(short, client.ObjectKeyFromObject(ns), &corev1.Namespace{}); err == nil {
		t.Fatal("the API server answered while stopped")
	}
	if err := e.StartAPIServer(); err != nil {
		t.Fatal(err)
	}

	Eventually(t, "the namespace is read through the old client", time.Minute, 100*time.Millisecond, func() error {
		return e.Client.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{})
	})
	cmd, err := e.Kubectl(ctx, "get", "namespace", ns.Name, "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl with the kubeconfig: %v\n%s", err, out)
	}
}
