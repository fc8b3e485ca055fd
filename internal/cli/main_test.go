package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/testenv"
)

var env *testenv.Env

// update rewrites the golden files with what the commands print.
var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	os.Exit(testenv.Main(m, &env))
}

// waitTimeout bounds each wait for the engine.
const waitTimeout = 90 * time.Second

func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, what, waitTimeout, 50*time.Millisecond, check)
}

// startEngine runs the engine's controllers against the test's API server until the test ends.
func startEngine(t *testing.T) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	skip := true
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Logger:                 zap.New(zap.UseDevMode(true), zap.WriteTo(logs)),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{DefaultMaxConcurrentReconciles: 2}); err != nil {
		t.Fatalf("set up controllers: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
		if t.Failed() {
			t.Logf("manager log:\n%s", logs.String())
		}
	})
}

// kratix runs a CLI command with the test's kubeconfig and returns what it printed and its error.
func kratix(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	name, rest := args[0], append([]string{"--kubeconfig", env.Kubeconfig()}, args[1:]...)
	for _, c := range Commands() {
		if c.Name == name {
			err = c.Run(testenv.Context(t), rest, Streams{Out: &out, Err: &errOut})
			return out.String(), errOut.String(), err
		}
	}
	t.Fatalf("no command %q", name)
	return "", "", nil
}

// mustKratix is kratix that fails the test on an error.
func mustKratix(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := kratix(t, args...)
	if err != nil {
		t.Fatalf("kratix %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

var (
	fullHash  = regexp.MustCompile(`\b[0-9a-f]{40}\b`)
	shortHash = regexp.MustCompile(`\b[0-9a-f]{7}\b`)
	timestamp = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b`)
	address   = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normaliser replaces what changes between runs with placeholders of the same width, so that
// tables stay aligned: each commit by its order of appearance (cmt-001, a full hash as
// <cmt-001>), times, and loopback addresses.
type normaliser struct {
	commits map[string]string // full hash or its first 7 characters -> placeholder number
	known   []string
}

func newNormaliser() *normaliser { return &normaliser{commits: map[string]string{}} }

func (n *normaliser) id(short string) string {
	if id, ok := n.commits[short]; ok {
		return id
	}
	id := fmt.Sprintf("cmt-%03d", len(n.commits)+1)
	n.commits[short] = id
	return id
}

// commitOrder makes the placeholders follow the order of the hashes given (oldest first, say),
// whatever the order in which outputs show them.
func (n *normaliser) commitOrder(hashes ...string) {
	for _, h := range hashes {
		n.id(h[:7])
	}
}

func (n *normaliser) apply(s string) string {
	s = fullHash.ReplaceAllStringFunc(s, func(h string) string { return "<" + n.id(h[:7]) + ">" })
	s = shortHash.ReplaceAllStringFunc(s, func(h string) string {
		if id, ok := n.commits[h]; ok {
			return id
		}
		return h // a digest that happens to be 7 hex characters (a workload group's id is 5)
	})
	s = timestamp.ReplaceAllString(s, "YYYY-MM-DDThh:mm:ssZ")
	return address.ReplaceAllString(s, "127.0.0.1:PORT")
}

// golden compares got with testdata/<name>.golden, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// testenvContext is a context for cleanups, which run after the test's own context ended.
func testenvContext() context.Context { return context.Background() }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
