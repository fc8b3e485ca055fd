package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/kubeconfig"
	"kratix.dev/kratix/internal/memlimit"
	"kratix.dev/kratix/pipeline"
)

// managerOptions are the flags of `kratix manager`.
type managerOptions struct {
	kubeconfig              string
	metricsAddr             string
	probeAddr               string
	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	qps                     float64
	burst                   int
	concurrency             concurrencyFlag
	gracefulShutdown        time.Duration
	pipeline                pipeline.Options
	intervals               intervals
	secretNamespaces        []string
	zap                     zap.Options
}

func (o *managerOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the API server; default: $KUBECONFIG, in-cluster, then ~/.kube/config")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 turns it off")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader so that only one of several replicas reconciles")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "kratix-manager.platform.kratix.io", "name of the leader election Lease")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease; default: the manager's own")
	fs.Float64Var(&o.qps, "kube-api-qps", controllers.DefaultKubeAPIQPS, "queries per second to the API server")
	fs.IntVar(&o.burst, "kube-api-burst", controllers.DefaultKubeAPIBurst, "burst of queries to the API server")
	o.concurrency = controllers.DefaultMaxConcurrentReconciles()
	fs.Var(&o.concurrency, "max-concurrent-reconciles", "concurrent reconciles per controller (default, promise, resource, work, workplacement, destination, statestore), e.g. default=8,workplacement=64; merged with the defaults")
	fs.DurationVar(&o.gracefulShutdown, "graceful-shutdown-timeout", 30*time.Second, "how long running reconciles may take to finish on shutdown")
	fs.StringVar(&o.pipeline.AdapterImage, "pipeline-adapter-image", pipeline.DefaultAdapterImage, "image of the engine's containers in pipeline Jobs (reader, work-writer, status-writer)")
	fs.StringVar(&o.pipeline.EngineServiceAccount, "engine-service-account", "", "the manager's own ServiceAccount, namespace/name, which no pipeline may run as (the install sets it)")
	fs.StringVar(&o.pipeline.PlatformNamespace, "platform-namespace", platformv1alpha1.DefaultPlatformNS, "namespace of Promise workflows and the Promises' Works")
	o.intervals.bind(fs)
	fs.Func(controllers.FlagStateStoreSecretNamespaces, "namespaces where state stores' Secrets may be, comma-separated; * allows any; default: the platform namespace", func(v string) error {
		for _, ns := range strings.Split(v, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				o.secretNamespaces = append(o.secretNamespaces, ns)
			}
		}
		return nil
	})
	o.zap.Development = false
	o.zap.BindFlags(fs)
}

func runManagerCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kratix manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts managerOptions
	opts.bind(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap), zap.WriteTo(stderr)))
	setup := ctrl.Log.WithName("setup")
	// Under the container's memory limit, the heap keeps below it (the garbage collector works
	// harder) rather than grow past it and have the kernel kill the manager.
	if limit, err := memlimit.Apply("/"); err != nil {
		setup.Error(err, "cannot read the container's memory limit; the Go runtime has none")
	} else if limit > 0 {
		setup.Info("the Go runtime's soft memory limit is 90% of the container's", "bytes", limit)
	} else if v := os.Getenv("GOMEMLIMIT"); v != "" {
		setup.Info("the Go runtime's soft memory limit is GOMEMLIMIT's", "GOMEMLIMIT", v)
	}

	cfg, err := kubeconfig.Load(opts.kubeconfig)
	if err != nil {
		return err
	}
	mgr, err := newManager(cfg, opts)
	if err != nil {
		return err
	}
	setup.Info("starting manager", "metrics", opts.metricsAddr, "probes", opts.probeAddr, "leaderElection", opts.leaderElect)
	return mgr.Start(ctx)
}

// newManager builds the controller manager with its probes and controllers; Start runs it.
func newManager(cfg *rest.Config, opts managerOptions) (ctrl.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = float32(opts.qps)
	cfg.Burst = opts.burst
	cfg.UserAgent = "kratix-manager"

	scheme, err := controllers.NewScheme()
	if err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	gracefulShutdown := opts.gracefulShutdown
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.metricsAddr},
		HealthProbeBindAddress:  opts.probeAddr,
		LeaderElection:          opts.leaderElect,
		LeaderElectionID:        opts.leaderElectionID,
		LeaderElectionNamespace: opts.leaderElectionNamespace,
		// Release the lease on a clean shutdown so that a new replica takes over at once.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &gracefulShutdown,
		Cache:                         controllers.CacheOptions(),
		Controller:                    config.Controller{MaxConcurrentReconciles: opts.concurrency.get("default")},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add readiness check: %w", err)
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{
		MaxConcurrentReconciles:        opts.concurrency,
		DefaultMaxConcurrentReconciles: opts.concurrency.get("default"),
		Pipeline:                       opts.pipeline,
		ResourceResyncInterval:         opts.intervals.resourceResync,
		ReconcileAfterFailure:          opts.intervals.reconcileAfterFailure,
		RerunStatusDelay:               opts.intervals.rerunDelay(),
		WorkPlacementResyncInterval:    opts.intervals.placementResync,
		WatchedStoreResyncInterval:     opts.intervals.watchedResync,
		StateStoreSecretNamespaces:     opts.secretNamespaces,
	}); err != nil {
		return nil, fmt.Errorf("set up controllers: %w", err)
	}
	return mgr, nil
}

// concurrencyFlag is a flag of name=count pairs, e.g. "default=4,workplacement=16".
type concurrencyFlag map[string]int

func (c concurrencyFlag) get(name string) int { return c[name] }

func (c concurrencyFlag) String() string {
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, name+"="+strconv.Itoa(c[name]))
	}
	return strings.Join(parts, ",")
}

func (c concurrencyFlag) Set(value string) error {
	for _, pair := range strings.Split(value, ",") {
		name, count, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || name == "" {
			return fmt.Errorf("%q is not name=count", pair)
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 {
			return fmt.Errorf("%q: the count must be a whole number of at least 1", pair)
		}
		c[name] = n
	}
	return nil
}

// intervals are the engine's timing flags, shared by `kratix manager` and `kratix local`.
type intervals struct {
	resourceResync  time.Duration
	placementResync time.Duration
	// watchedResync is the placements' resync in stores whose writer reports drift itself.
	watchedResync time.Duration
	// reconcileAfterFailure: failed configure workflows run again after the interval.
	reconcileAfterFailure bool
	// rerunStatusDelay is --rerun-status-delay; 0 writes every run's start at once.
	rerunStatusDelay time.Duration
}

// rerunDelay is controllers.Options.RerunStatusDelay for the flag: 0 (no delay) is negative there.
func (o intervals) rerunDelay() time.Duration {
	if o.rerunStatusDelay <= 0 {
		return -1
	}
	return o.rerunStatusDelay
}

func (o *intervals) bind(fs *flag.FlagSet) {
	fs.DurationVar(&o.resourceResync, "resource-resync-interval", controllers.DefaultResourceResyncInterval, "how long after a configure workflow (of a Promise or a resource request) finished it runs again, unless the Promise sets spec.workflows.config.reconciliationInterval or the kratix.io/reconciliation-interval annotation")
	fs.BoolVar(&o.reconcileAfterFailure, "reconcile-after-failure", false, "run a failed configure workflow again from its start once the failure is as old as the reconciliation interval (upstream's workflows.reconcileAfterFailure)")
	fs.DurationVar(&o.rerunStatusDelay, "rerun-status-delay", controllers.DefaultRerunStatusDelay, "how long a re-run of a Ready resource request (after a Promise update, a resync or a manual reconciliation) may run before the request's status says so; a shorter run writes only its outcome, with no Event. 0 writes every run's start at once")
	fs.DurationVar(&o.placementResync, "workplacement-resync-interval", controllers.DefaultWorkPlacementResyncInterval, "how long after a WorkPlacement in a bucket (BucketStateStore) was written it is written again, to put back what someone else changed")
	fs.DurationVar(&o.watchedResync, "workplacement-resync-interval-git", controllers.DefaultWatchedStoreResyncInterval, "the same in a Git state store, whose writer asks for its branch's head when it has not heard of it for a minute and has the placements that someone else's commits changed written again at once: this resync is only a safety net")
}
