package controllers

import (
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline/local"
)

// platform is the engine's controllers with the local job runner, which runs pipeline Jobs as
// processes of this test binary.
type platform struct {
	t    *testing.T
	opts Options
	stop func()
}

// startPlatform runs the platform until the test ends, after the test's own cleanups (which
// need it to run the finalizers).
func startPlatform(t *testing.T) *platform {
	t.Helper()
	return startPlatformWith(t, Options{DefaultMaxConcurrentReconciles: 2})
}

// startPlatformWith is startPlatform with the controllers' options.
func startPlatformWith(t *testing.T, opts Options) *platform {
	t.Helper()
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	p := &platform{t: t, opts: opts}
	p.start()
	t.Cleanup(func() { p.stop() })
	return p
}

// restart stops the platform, killing running containers and leaving their Jobs unfinished,
// and starts it again.
func (p *platform) restart() {
	p.t.Helper()
	p.stop()
	p.start()
}

func (p *platform) start() {
	t := p.t
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	_, p.stop = runManager(t, env.Config, p.opts, func(mgr ctrl.Manager) error {
		runner := &local.Runner{
			Client: mgr.GetClient(), Self: self, AdapterEnv: []string{asAdapter + "=1"},
			DataDir: dataDir, MaxParallel: 4, Log: mgr.GetLogger().WithName("local-job-runner"),
		}
		return runner.SetupWithManager(mgr)
	})
}
