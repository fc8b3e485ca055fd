package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/pipeline/local"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls url until it answers 200 and returns the body, failing the test after 30s.
func waitFor(t *testing.T, url string) string {
	t.Helper()
	var body string
	testenv.Eventually(t, url+" answers 200", 30*time.Second, 50*time.Millisecond, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body) // a short read only shortens the failure message
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %.200s", resp.StatusCode, data)
		}
		body = string(data)
		return nil
	})
	return body
}

// logOnFailure logs the manager's log if the test has failed; defer it.
func logOnFailure(t *testing.T, logs *testenv.LogBuffer) {
	if t.Failed() {
		t.Logf("manager log:\n%s", logs.String())
	}
}

// TestManagerServesProbesAndMetrics starts `kratix manager` against the API server and checks that
// its probes and metrics answer, that it holds its leader lease, and that it stops cleanly.
func TestManagerServesProbesAndMetrics(t *testing.T) {
	probes, metrics := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs testenv.LogBuffer
	defer logOnFailure(t, &logs)
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"manager",
			"--kubeconfig", env.Kubeconfig(),
			"--health-probe-bind-address", probes,
			"--metrics-bind-address", metrics,
			"--leader-elect", "--leader-election-namespace", "default", "--leader-election-id", "kratix-test",
			"--max-concurrent-reconciles", "default=2,workplacement=8",
		}, &logs)
	}()

	waitFor(t, "http://"+probes+"/healthz")
	waitFor(t, "http://"+probes+"/readyz")
	if body := waitFor(t, "http://"+metrics+"/metrics"); !strings.Contains(body, "rest_client_requests_total") {
		t.Errorf("metrics lack the client's request counter:\n%.500s", body)
	}

	testenv.Eventually(t, "the manager takes its leader lease", 30*time.Second, 100*time.Millisecond, func() error {
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kratix-test"}, lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return errors.New("the lease has no holder")
		}
		return nil
	})

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("manager exited %d after cancel", code)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("manager did not stop within 45s of cancel")
	}
}

// TestCommandLineErrors checks the exit codes and messages of bad command lines; none of them
// starts anything (TestLocalPlatform in test/e2e runs `kratix local` for real).
func TestCommandLineErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: kratix <command>"},
		{[]string{"--help"}, 0, "manager"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"manager", "--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"manager", "extra"}, 2, "unexpected arguments: extra"},
		{[]string{"manager", "--max-concurrent-reconciles", "work"}, 2, `"work" is not name=count`},
		{[]string{"manager", "--max-concurrent-reconciles", "work=0"}, 2, "at least 1"},
		{[]string{"manager", "--kubeconfig", "/nonexistent/kubeconfig"}, 1, "load kubeconfig /nonexistent/kubeconfig"},
		{[]string{"local", "extra"}, 2, "unexpected arguments: extra"},
		{[]string{"local", "--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"local", "--data-dir", data, "--bin-dir", t.TempDir()}, 1, "run `make tools`"},
		{[]string{"local", "--data-dir", data, "--api-port", "70000"}, 1, "API port 70000 is not a port"},
		{[]string{"local", "--registry-mirror", "docker.io"}, 2, "want registry=mirror-host"},
		{[]string{"local", "--registry-mirror", "docker.io=https://mirror"}, 2, "want registry=mirror-host"},
		{[]string{"local", "--image-cache-size", "lots"}, 2, `--image-cache-size "lots"`},
		{[]string{"local", "--image-cache-size", "0"}, 2, `--image-cache-size "0"`},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

func TestConcurrencyFlag(t *testing.T) {
	c := concurrencyFlag{"default": 4}
	if err := c.Set("workplacement=16, work=8"); err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "default=4,work=8,workplacement=16"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if c.get("workplacement") != 16 || c.get("promise") != 0 {
		t.Errorf("get: workplacement=%d promise=%d", c.get("workplacement"), c.get("promise"))
	}
}

// TestSecretNamespacesFlag: the flag takes comma-separated namespaces, repeated or not, and
// without it the controllers fall back to the platform namespace.
func TestSecretNamespacesFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, nil},
		{[]string{"--state-store-secret-namespaces=kratix-platform-system, default"}, []string{"kratix-platform-system", "default"}},
		{[]string{"--state-store-secret-namespaces=a", "--state-store-secret-namespaces=b,"}, []string{"a", "b"}},
		{[]string{"--state-store-secret-namespaces=*"}, []string{"*"}},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		var o managerOptions
		o.bind(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if !slices.Equal(o.secretNamespaces, tc.want) {
			t.Errorf("%v: namespaces %q, want %q", tc.args, o.secretNamespaces, tc.want)
		}
	}
}

// TestIntervalFlags: `kratix manager` and `kratix local` take the engine's intervals by the same
// flags, with the controllers' defaults.
func TestIntervalFlags(t *testing.T) {
	for _, bind := range []func(*flag.FlagSet) *intervals{
		func(fs *flag.FlagSet) *intervals { var o managerOptions; o.bind(fs); return &o.intervals },
		func(fs *flag.FlagSet) *intervals { var o localOptions; o.bind(fs); return &o.intervals },
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		got := bind(fs)
		if got.resourceResync != controllers.DefaultResourceResyncInterval || got.placementResync != controllers.DefaultWorkPlacementResyncInterval ||
			got.watchedResync != controllers.DefaultWatchedStoreResyncInterval ||
			got.rerunDelay() != controllers.DefaultRerunStatusDelay {
			t.Errorf("defaults %+v", *got)
		}
		if err := fs.Parse([]string{"--resource-resync-interval=5m", "--workplacement-resync-interval=30s", "--workplacement-resync-interval-git=2h", "--rerun-status-delay=0"}); err != nil {
			t.Fatal(err)
		}
		if got.resourceResync != 5*time.Minute || got.placementResync != 30*time.Second || got.watchedResync != 2*time.Hour || got.rerunDelay() >= 0 {
			t.Errorf("parsed %+v", *got)
		}
	}
}

// TestLocalPipelineFlags: what kratix local's pipeline flags give the local job runner.
func TestLocalPipelineFlags(t *testing.T) {
	fs := flag.NewFlagSet("kratix local", flag.ContinueOnError)
	var o localOptions
	o.bind(fs)
	if err := fs.Parse([]string{"--registry-mirror", "docker.io=127.0.0.1:5000", "--registry-mirror", "*=mirror.internal/cache",
		"--host-tools-images", " busybox, ,ghcr.io/acme/sh ", "--isolate-pipeline-network", "--image-cache-size", "500Mi"}); err != nil {
		t.Fatal(err)
	}
	p, err := o.pipelines()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"docker.io": "127.0.0.1:5000", "*": "mirror.internal/cache"}; !maps.Equal(p.RegistryMirrors, want) {
		t.Errorf("mirrors %v, want %v", p.RegistryMirrors, want)
	}
	if want := []string{"busybox", "ghcr.io/acme/sh"}; !slices.Equal(p.HostToolsImages, want) {
		t.Errorf("host-tools images %q, want %q", p.HostToolsImages, want)
	}
	if !p.IsolateNetwork || p.ImageCacheBytes != 500<<20 {
		t.Errorf("isolate %v, cache %d bytes", p.IsolateNetwork, p.ImageCacheBytes)
	}

	// The defaults: the runner's host-tools list; an empty flag pulls every image.
	fs = flag.NewFlagSet("kratix local", flag.ContinueOnError)
	o = localOptions{}
	o.bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if p, err = o.pipelines(); err != nil || !slices.Equal(p.HostToolsImages, local.DefaultHostToolsImages) || p.ImageCacheBytes != 10<<30 || p.RegistryMirrors != nil {
		t.Errorf("defaults: %+v, %v", p, err)
	}
	if err := fs.Set("host-tools-images", ""); err != nil {
		t.Fatal(err)
	}
	if p, err = o.pipelines(); err != nil || p.HostToolsImages == nil || len(p.HostToolsImages) != 0 {
		t.Errorf("--host-tools-images=\"\": %q (nil %v), %v; want an empty list, not the default", p.HostToolsImages, p.HostToolsImages == nil, err)
	}
}
