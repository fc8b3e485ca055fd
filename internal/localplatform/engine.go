package localplatform

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/pipeline/local"
	"kratix.dev/kratix/statestore"
)

// engineShutdownTimeout bounds how long running reconciles may take to finish on a stop.
const engineShutdownTimeout = 10 * time.Second

// engine is the engine's controllers and the local job runner in one controller manager.
type engine struct {
	mgr ctrl.Manager
	// validated is closed when the engine validated the GitStateStore `default` in this run.
	validated <-chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
	err       error
}

// engineConfig is what newEngine needs.
type engineConfig struct {
	rest        *rest.Config
	dataDir     string
	self        string
	metricsAddr string
	// resourceResync, placementResync and watchedResync are the controllers' intervals;
	// defaults when zero.
	resourceResync, placementResync, watchedResync time.Duration
	// rerunStatusDelay is controllers.Options.RerunStatusDelay.
	rerunStatusDelay time.Duration
	// reconcileAfterFailure is controllers.Options.ReconcileAfterFailure.
	reconcileAfterFailure bool
	log                   logr.Logger
	pipelines             PipelineOptions
}

// newEngine builds the controller manager: the engine's controllers as `kratix manager` runs
// them, and the local job runner in place of Kubernetes' Job controller.
func newEngine(cfg engineConfig) (*engine, error) {
	scheme, err := controllers.NewScheme()
	if err != nil {
		return nil, err
	}
	restCfg := rest.CopyConfig(cfg.rest)
	restCfg.QPS, restCfg.Burst = controllers.DefaultKubeAPIQPS, controllers.DefaultKubeAPIBurst
	restCfg.UserAgent = "kratix-local"
	shutdown := engineShutdownTimeout
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Logger:                  cfg.log,
		Metrics:                 metricsserver.Options{BindAddress: cfg.metricsAddr},
		HealthProbeBindAddress:  "0",
		GracefulShutdownTimeout: &shutdown,
		Cache:                   controllers.CacheOptions(),
	})
	if err != nil {
		return nil, fmt.Errorf("create the manager: %w", err)
	}
	watch := newStoreWatch(StoreName, cfg.log.WithName("statestore-writer"))
	concurrency := controllers.DefaultMaxConcurrentReconciles()
	if err := controllers.SetupWithManager(mgr, controllers.Options{
		MaxConcurrentReconciles:        concurrency,
		DefaultMaxConcurrentReconciles: concurrency["default"],
		WriterFactory:                  watch,
		ResourceResyncInterval:         cfg.resourceResync,
		ReconcileAfterFailure:          cfg.reconcileAfterFailure,
		WorkPlacementResyncInterval:    cfg.placementResync,
		WatchedStoreResyncInterval:     cfg.watchedResync,
		RerunStatusDelay:               cfg.rerunStatusDelay,
	}); err != nil {
		return nil, fmt.Errorf("set up the controllers: %w", err)
	}
	runner := &local.Runner{
		Client:  mgr.GetClient(),
		Self:    cfg.self,
		DataDir: cfg.dataDir,
		Log:     cfg.log.WithName("local-job-runner"),

		HostTools:       cfg.pipelines.HostToolsImages,
		IsolateNetwork:  cfg.pipelines.IsolateNetwork,
		ImageCacheBytes: cfg.pipelines.ImageCacheBytes,
		Mirrors:         cfg.pipelines.RegistryMirrors,
	}
	if err := runner.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up the local job runner: %w", err)
	}
	return &engine{mgr: mgr, validated: watch.validated}, nil
}

// start runs the manager until stop.
func (e *engine) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		e.err = e.mgr.Start(ctx)
		close(e.done)
	}()
}

// exitError is non-nil when the manager stopped by itself.
func (e *engine) exitError() error {
	select {
	case <-e.done:
		return fmt.Errorf("the engine stopped unexpectedly: %v", e.err)
	default:
		return nil
	}
}

// stop stops the manager and waits for it: running reconciles finish, running pipeline
// containers are killed (their Jobs run again at the next start).
func (e *engine) stop() error {
	if e == nil || e.cancel == nil {
		return nil
	}
	e.cancel()
	<-e.done
	return e.err
}

// client reads and writes through the manager's client.
func (e *engine) client() client.Client { return e.mgr.GetClient() }

// storeWatch builds the engine's writers as the default factory does, and tells when the writer
// of one GitStateStore validated the store: the Ready condition may still be the previous run's,
// so only this says that the engine reached the store in this run.
type storeWatch struct {
	writers.DefaultFactory
	name      string
	once      sync.Once
	validated chan struct{}
}

func newStoreWatch(name string, log logr.Logger) *storeWatch {
	return &storeWatch{DefaultFactory: writers.DefaultFactory{Logger: log}, name: name, validated: make(chan struct{})}
}

// New implements writers.Factory.
func (f *storeWatch) New(store client.Object, secret map[string][]byte) (statestore.Writer, error) {
	w, err := f.DefaultFactory.New(store, secret)
	if err != nil {
		return nil, err
	}
	if key, _ := writers.KeyOf(store); key != (writers.Key{Kind: v1alpha1.KindGitStateStore, Name: f.name}) {
		return w, nil
	}
	return &watchedWriter{Writer: w, onValid: func() { f.once.Do(func() { close(f.validated) }) }}, nil
}

// watchedWriter reports a successful Validate.
type watchedWriter struct {
	statestore.Writer
	onValid func()
}

// Validate implements statestore.Writer.
func (w *watchedWriter) Validate(ctx context.Context) error {
	err := w.Writer.Validate(ctx)
	if err == nil {
		w.onValid()
	}
	return err
}
