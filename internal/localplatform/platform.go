package localplatform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"kratix.dev/kratix/pipeline/local"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/config/policy"
	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/flux"
	"kratix.dev/kratix/internal/localplatform/applier"
)

// platform is one run of the local platform.
type platform struct {
	opts  Options
	dirs  layout
	bin   binaries
	plane *controlPlane
	eng   *engine
	// engineLog is logs/kratix.log, the engine's log.
	engineLog *os.File
	// stopApplier stops the platform applier and waits for it.
	stopApplier func()
	// fluxBin, gitops and gitopsLog are Options.GitOps's: Flux's binaries, the running Git
	// server and controllers, and the Git server's log.
	fluxBin   flux.Binaries
	gitops    *gitops
	gitopsLog *os.File
}

// Run starts the local platform, prints ReadyLine when it is ready, and runs it until ctx ends;
// then it stops everything: the engine, kube-controller-manager, the API server and etcd. An
// end of ctx while starting is a stop, not an error.
func Run(ctx context.Context, opts Options) (err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return err
	}
	p := &platform{opts: opts, dirs: layout{root: opts.DataDir}}
	if p.bin, err = findBinaries(opts.BinDir); err != nil {
		return err
	}
	if opts.GitOps {
		if p.fluxBin, err = flux.FindBinaries(opts.BinDir); err != nil {
			return fmt.Errorf("--gitops: %w", err)
		}
	}
	if err := p.dirs.create(); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	unlock, err := lockDataDir(p.dirs)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()

	startErr := p.start(ctx)
	if startErr == nil {
		p.say(ReadyLine)
		startErr = p.wait(ctx)
	}
	if ctx.Err() != nil {
		startErr = nil // asked to stop, maybe while starting: whatever the start was doing failed for that
	}
	p.say("kratix local: stopping")
	stopErr := p.stop()
	if stopErr == nil && startErr == nil {
		p.say("kratix local: stopped")
	}
	return errors.Join(startErr, stopErr)
}

// start brings every part up in order and returns when the platform is ready.
func (p *platform) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.ReadyTimeout)
	defer cancel()
	p.say("kratix local: starting in " + p.opts.DataDir)
	phases := []struct {
		name string
		run  func(context.Context) error
	}{
		{"prepare the data directory", p.prepare},
		{"check the pipeline sandbox", p.checkSandbox},
		{"start etcd and kube-apiserver", p.startAPIServer},
		{"install the CRDs", p.installCRDs},
		{"start kube-controller-manager", p.startControllerManager},
		{"start the engine", p.startEngine},
		{"create the default state store and Destinations", p.createDefaults},
		{"start the platform applier", p.startApplier},
	}
	if p.opts.GitOps {
		phases = append(phases, struct {
			name string
			run  func(context.Context) error
		}{"start Flux (--gitops)", p.startGitOps})
	}
	for _, phase := range phases {
		if err := phase.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", phase.name, err)
		}
	}
	p.printUsage()
	return nil
}

// checkSandbox runs an empty container once: where the kernel refuses the sandbox's namespaces
// (user namespaces turned off), every pipeline would fail, so the person who started the
// platform is told here, once, and the platform still starts for everything else.
func (p *platform) checkSandbox(ctx context.Context) error {
	if err := local.Probe(ctx, p.opts.Self, filepath.Join(p.opts.DataDir, "jobs", "probe")); err != nil {
		p.say("kratix local: pipelines cannot run on this machine: " + err.Error())
	}
	return nil
}

// prepare creates or loads the certificates and the state repository.
func (p *platform) prepare(context.Context) error {
	// The Git writer reaches a file:// repository through git-upload-pack and git-receive-pack.
	if _, err := exec.LookPath("git"); err != nil {
		return errors.New("the state store needs git (git-upload-pack and git-receive-pack) on PATH")
	}
	pki, err := ensurePKI(p.dirs.pki())
	if err != nil {
		return err
	}
	p.plane = &controlPlane{bin: p.bin, dirs: p.dirs, pki: pki, apiPort: p.opts.APIPort}
	return ensureRepository(p.dirs.repository())
}

// startAPIServer starts etcd and kube-apiserver and waits until the API server is ready.
func (p *platform) startAPIServer(ctx context.Context) error {
	etcdURL, err := p.plane.startEtcd()
	if err != nil {
		return err
	}
	if err := p.plane.startAPIServer(etcdURL); err != nil {
		return err
	}
	return p.plane.waitAPIServer(ctx)
}

// installCRDs installs the CRDs and the admission policies this binary embeds.
func (p *platform) installCRDs(ctx context.Context) error {
	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	// client-go's default rate (5 per second) would make this phase wait on the client.
	cfg := rest.CopyConfig(p.plane.config)
	cfg.QPS, cfg.Burst = 100, 200
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := installCRDs(ctx, c); err != nil {
		return err
	}
	if err := policy.Apply(ctx, c); err != nil {
		return fmt.Errorf("install the admission policies: %w", err)
	}
	return nil
}

// startControllerManager starts kube-controller-manager and waits until it is healthy.
func (p *platform) startControllerManager(ctx context.Context) error {
	port, err := p.plane.startControllerManager()
	if err != nil {
		return err
	}
	return p.plane.waitControllerManager(ctx, port)
}

// startEngine starts the engine's controller manager, its log in logs/kratix.log.
func (p *platform) startEngine(context.Context) error {
	f, err := openLog(filepath.Join(p.dirs.logs(), "kratix.log"))
	if err != nil {
		return err
	}
	p.engineLog = f
	p.eng, err = newEngine(engineConfig{
		rest:        p.plane.config,
		dataDir:     p.opts.DataDir,
		self:        p.opts.Self,
		metricsAddr: p.opts.MetricsAddr,
		log:         p.opts.NewLogger(f),
		pipelines:   p.opts.Pipelines,

		resourceResync:        p.opts.ResourceResyncInterval,
		reconcileAfterFailure: p.opts.ReconcileAfterFailure,
		placementResync:       p.opts.WorkPlacementResyncInterval,
		watchedResync:         p.opts.WatchedStoreResyncInterval,
		rerunStatusDelay:      p.opts.RerunStatusDelay,
	})
	if err != nil {
		return err
	}
	p.eng.start()
	return nil
}

// createDefaults creates the namespace of Promise workflows, the GitStateStore `default` and
// the Destination `local` when missing, and waits until the engine has validated the store in
// this run and both are Ready.
func (p *platform) createDefaults(ctx context.Context) error {
	c := p.eng.client()
	if err := createMissing(ctx, c, defaultObjects(repoURL(p.dirs.repository()))); err != nil {
		return err
	}
	if err := p.waitValidated(ctx, c); err != nil {
		return err
	}
	return waitDefaultsReady(ctx, c)
}

// waitValidated waits until the engine has validated the GitStateStore `default`, saying every
// so often what the store's status is, so that a store that cannot be reached does not look like
// a hang.
func (p *platform) waitValidated(ctx context.Context, c client.Client) error {
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.eng.validated:
			return nil
		case <-p.eng.done:
			return p.eng.exitError()
		case <-tick.C:
			p.say(fmt.Sprintf("kratix local: still waiting for the GitStateStore %s: %s", StoreName, storeStatus(c)))
		case <-ctx.Done():
			if err := p.exitError(); err != nil {
				return err
			}
			return fmt.Errorf("the engine did not validate the GitStateStore %s (%s): %w; see %s", StoreName, storeStatus(c), ctx.Err(), filepath.Join(p.dirs.logs(), "kratix.log"))
		}
	}
}

// storeStatus describes the Ready condition of the GitStateStore `default`.
func storeStatus(c client.Client) string {
	store := &v1alpha1.GitStateStore{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: StoreName}, store); err != nil {
		return err.Error()
	}
	if err := readyError(store.Status.Conditions, store.Generation); err != nil {
		return err.Error()
	}
	return "Ready, from an earlier run"
}

// wait runs until ctx ends or a part of the platform stops by itself.
func (p *platform) wait(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.eng.done:
			return p.eng.exitError()
		case <-tick.C:
			if err := p.plane.exitError(); err != nil {
				return err
			}
			if err := p.gitops.exitError(); err != nil {
				return err
			}
		}
	}
}

// exitError reports a part that stopped by itself.
func (p *platform) exitError() error {
	if p.eng != nil {
		if err := p.eng.exitError(); err != nil {
			return err
		}
	}
	if p.plane != nil {
		return p.plane.exitError()
	}
	return nil
}

// startApplier applies the Destination platform's directory of the store to the API server,
// as a GitOps agent on a platform cluster would, until the platform stops.
func (p *platform) startApplier(context.Context) error {
	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(p.plane.config)
	cfg.UserAgent = applier.DefaultFieldManager
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("create the applier's client: %w", err)
	}
	a := &applier.Applier{
		Client: c, Repository: p.dirs.repository(), Branch: v1alpha1.DefaultBranch, Dir: PlatformDestinationName,
		InventoryNamespace: v1alpha1.DefaultPlatformNS, InventoryName: ApplierInventoryName,
		Log: p.opts.NewLogger(p.engineLog).WithName("platform-applier"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx) // Run logs its failures and retries; it returns only when stopped
	}()
	p.stopApplier = func() { cancel(); <-done }
	return nil
}

// stop stops what started, the engine first: it needs the API server to finish its work.
func (p *platform) stop() error {
	var errs []error
	if p.stopApplier != nil {
		p.stopApplier()
	}
	// Flux first: it applies through the API server, and reads the Git server.
	if err := p.gitops.stop(p.opts.StopTimeout); err != nil {
		errs = append(errs, fmt.Errorf("stop Flux: %w", err))
	}
	if p.gitopsLog != nil {
		errs = append(errs, p.gitopsLog.Close())
	}
	if err := p.eng.stop(); err != nil {
		errs = append(errs, fmt.Errorf("stop the engine: %w", err))
	}
	if p.plane != nil {
		errs = append(errs, p.plane.stop(p.opts.StopTimeout))
	}
	if p.engineLog != nil {
		errs = append(errs, p.engineLog.Close())
	}
	return errors.Join(errs...)
}

// printUsage tells the user how to reach the platform.
func (p *platform) printUsage() {
	kubectl := p.bin.kubectl
	if link := filepath.Join(p.opts.BinDir, "kubectl"); allExecutable(link) {
		kubectl = link
	}
	lines := []string{
		"kratix local: API server " + p.plane.config.Host + ", state store " + repoURL(p.dirs.repository()),
		"kratix local: logs in " + shortPath(p.dirs.logs()),
		"",
		"  export KUBECONFIG=" + p.dirs.kubeconfig(),
		"  " + shortPath(kubectl) + " get promises,destinations,gitstatestores",
		"  git -C " + shortPath(p.dirs.repository()) + " log --stat",
		"",
	}
	if p.gitops != nil {
		lines = append(lines[:2],
			append([]string{fmt.Sprintf("kratix local: Flux %s applies the Destination %s (%s/) to this API server every %s; logs in %s",
				flux.Version, DestinationName, DestinationName, GitOpsInterval, shortPath(filepath.Join(p.dirs.logs(), "kustomize-controller.log")))},
				lines[2:]...)...)
	}
	p.say(strings.Join(lines, "\n"))
}

func (p *platform) say(line string) {
	_, _ = fmt.Fprintln(p.opts.Out, line) // nowhere to report a failure to print
}

// shortPath is path relative to the working directory when it is below it.
func shortPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return path
	}
	return rel
}
