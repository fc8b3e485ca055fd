package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/statestore"
)

// The manager's defaults for its API client (cmd/kratix: --kube-api-qps, --kube-api-burst),
// chosen with BenchmarkPlacement: at 50 queries per second a burst of 1,000 Works waits on the
// client's rate limiter for most of a minute.
const (
	DefaultKubeAPIQPS   = 200
	DefaultKubeAPIBurst = 400
)

// DefaultMaxConcurrentReconciles is the manager's default number of concurrent reconciles by
// controller (cmd/kratix: --max-concurrent-reconciles), "default" for those not listed. The
// Work and WorkPlacement controllers mostly wait on the API server and the state store's
// writer, which batches the writes of concurrent placements into one commit.
func DefaultMaxConcurrentReconciles() map[string]int {
	return map[string]int{"default": 4, "work": 16, "workplacement": 32}
}

// NewScheme is the scheme of the engine's manager: Kubernetes' built-in kinds, CRDs and the
// platform.kratix.io kinds.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CacheOptions are what the engine needs of the manager's cache (ctrl.Options.Cache): objects
// are cached without their managedFields, which the engine never reads and which held a fifth of
// the cache's memory with 1,000 resource requests (BenchmarkPromiseUpdate), and finished Jobs
// without their pod template: the engine reads a Job's labels and status, and only the local job
// runner reads the template, of a Job that has yet to finish.
func CacheOptions() cache.Options {
	stripManagedFields := cache.TransformStripManagedFields()
	return cache.Options{
		DefaultTransform: stripManagedFields,
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}: {Transform: func(obj any) (any, error) {
				obj, err := stripManagedFields(obj)
				if job, ok := obj.(*batchv1.Job); ok && err == nil && pipeline.ObserveJob(job).Phase != pipeline.JobRunning {
					job.Spec.Template = corev1.PodTemplateSpec{}
				}
				return obj, err
			}},
		},
	}
}

// Options tune the controllers.
type Options struct {
	// MaxConcurrentReconciles by controller name; Default applies to the controllers not listed.
	MaxConcurrentReconciles map[string]int
	// DefaultMaxConcurrentReconciles applies to every controller not in MaxConcurrentReconciles.
	DefaultMaxConcurrentReconciles int
	// StateStoreRevalidateInterval is how often a ready state store is validated again;
	// DefaultRevalidateInterval when zero.
	StateStoreRevalidateInterval time.Duration
	// WorkPlacementResyncInterval is how long after a successful write a WorkPlacement is
	// written again, to correct drift in the store; DefaultWorkPlacementResyncInterval when zero.
	WorkPlacementResyncInterval time.Duration
	// WatchedStoreResyncInterval is the same for a store whose writer reports someone else's
	// changes itself (Git); DefaultWatchedStoreResyncInterval when zero.
	WatchedStoreResyncInterval time.Duration
	// WriterFactory builds the state stores' writers; writers.DefaultFactory when nil.
	WriterFactory writers.Factory
	// Pipeline holds the settings of the pipeline Jobs.
	Pipeline pipeline.Options
	// ResourceResyncInterval is how long after a resource request's workflow finished it runs
	// again; DefaultResourceResyncInterval when zero.
	ResourceResyncInterval time.Duration
	// ReconcileAfterFailure runs a failed configure workflow (of a Promise or a request) again
	// from its start once its failure is as old as the Promise's reconciliation interval
	// (upstream's reconcileAfterFailure); without it a failed workflow waits for a change of its
	// spec or a manual reconciliation.
	ReconcileAfterFailure bool
	// GitHeadCheckInterval is how often an idle Git state store's writer checks that its branch
	// is as the engine left it; when someone else changed it, every Destination and placement on
	// the store writes its files again. One minute when zero.
	GitHeadCheckInterval time.Duration
	// StateStoreSecretNamespaces are the namespaces where state stores' Secrets may be ("*":
	// any); the platform namespace (Pipeline.PlatformNamespace) alone when empty.
	StateStoreSecretNamespaces []string
	// PromiseReleaseRetryInterval is how soon a PromiseRelease whose install failed is tried
	// again; DefaultPromiseReleaseRetryInterval when zero.
	PromiseReleaseRetryInterval time.Duration
	// RerunStatusDelay is how long a re-run of a Ready resource request (a Promise update, a
	// resync) may run before its status says so: a shorter run writes its outcome alone.
	// DefaultRerunStatusDelay when zero; negative: every run's start is written at once.
	RerunStatusDelay time.Duration
	// HealthRecordRetryInterval is how soon HealthRecords whose Promise or request is missing
	// are looked at again; DefaultHealthRecordRetryInterval when zero.
	HealthRecordRetryInterval time.Duration
}

// secretNamespaces resolves StateStoreSecretNamespaces.
func (o Options) secretNamespaces() SecretNamespaces {
	if len(o.StateStoreSecretNamespaces) == 0 {
		return SecretNamespaces{pipeline.Workflow{}.Namespace(o.Pipeline)}
	}
	return SecretNamespaces(o.StateStoreSecretNamespaces)
}

// Concurrency returns the number of concurrent reconciles for the named controller.
func (o Options) Concurrency(controller string) int {
	if n, ok := o.MaxConcurrentReconciles[controller]; ok && n > 0 {
		return n
	}
	if o.DefaultMaxConcurrentReconciles > 0 {
		return o.DefaultMaxConcurrentReconciles
	}
	return 1
}

// SetupWithManager registers every controller of the engine with mgr, with the field indexes
// they share and the registry of state-store writers, which the manager closes when it stops.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if err := setupIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	factory := opts.WriterFactory
	if factory == nil {
		factory = writers.DefaultFactory{Logger: mgr.GetLogger().WithName("statestore-writer"), GitHeadCheckInterval: opts.GitHeadCheckInterval}
	}
	registry := writers.NewRegistry(factory, mgr.GetLogger().WithName("writers"))
	if err := mgr.Add(registry); err != nil {
		return fmt.Errorf("add the writer registry: %w", err)
	}
	interval := opts.StateStoreRevalidateInterval
	if interval <= 0 {
		interval = DefaultRevalidateInterval
	}
	stores := &StateStoreReconciler{
		Client:             mgr.GetClient(),
		SecretReader:       mgr.GetAPIReader(),
		SecretNamespaces:   opts.secretNamespaces(),
		Writers:            registry,
		Recorder:           mgr.GetEventRecorder("statestore"),
		RevalidateInterval: interval,
	}
	if err := stores.setupWithManager(mgr, opts.Concurrency("statestore")); err != nil {
		return fmt.Errorf("set up the statestore controller: %w", err)
	}
	destinations := &DestinationReconciler{
		Client:   mgr.GetClient(),
		Writers:  registry,
		Recorder: mgr.GetEventRecorder("destination"),
	}
	if err := destinations.setupWithManager(mgr, opts.Concurrency("destination")); err != nil {
		return fmt.Errorf("set up the destination controller: %w", err)
	}
	// A request's reconcile lists its own Jobs and Works through an index.
	indexed := requestIndexed{mgr.GetClient()}
	driver := &workflowDriver{client: indexed, reader: mgr.GetAPIReader(), options: opts.Pipeline}
	if err := mgr.Add(&pipelineRunCounter{informers: mgr.GetCache()}); err != nil {
		return fmt.Errorf("add the pipeline run counter: %w", err)
	}
	resync := opts.ResourceResyncInterval
	if resync <= 0 {
		resync = DefaultResourceResyncInterval
	}
	rerunDelay := opts.RerunStatusDelay
	if rerunDelay == 0 {
		rerunDelay = DefaultRerunStatusDelay
	}
	resources := newResourceControllers(mgr, func(promise string, gvk schema.GroupVersionKind) (controller.Controller, error) {
		r := &ResourceReconciler{
			Client:                indexed,
			Requests:              mgr.GetCache(),
			Recorder:              mgr.GetEventRecorder("resource"),
			Driver:                driver,
			Promise:               promise,
			GVK:                   gvk,
			ResyncInterval:        resync,
			ReconcileAfterFailure: opts.ReconcileAfterFailure,
			RerunStatusDelay:      rerunDelay,
		}
		return r.newController(mgr, opts.Concurrency("resource"))
	})
	if err := mgr.Add(resources); err != nil {
		return fmt.Errorf("add the resource controllers: %w", err)
	}
	promises := &PromiseReconciler{
		Client:                mgr.GetClient(),
		APIReader:             mgr.GetAPIReader(),
		Requests:              mgr.GetCache(),
		Recorder:              mgr.GetEventRecorder("promise"),
		Driver:                driver,
		Resources:             resources,
		ResyncInterval:        resync,
		ReconcileAfterFailure: opts.ReconcileAfterFailure,
	}
	if err := promises.setupWithManager(mgr, opts.Concurrency("promise")); err != nil {
		return fmt.Errorf("set up the promise controller: %w", err)
	}
	revisions := &PromiseRevisionReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("promiserevision"), PlatformNamespace: driver.platformNamespace()}
	if err := revisions.setupWithManager(mgr, opts.Concurrency("promiserevision")); err != nil {
		return fmt.Errorf("set up the promiserevision controller: %w", err)
	}
	works := &WorkReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("work"),
		Pipeline:  opts.Pipeline,
	}
	if err := works.setupWithManager(mgr, opts.Concurrency("work")); err != nil {
		return fmt.Errorf("set up the work controller: %w", err)
	}
	placements := &WorkPlacementReconciler{
		Client:                     mgr.GetClient(),
		Writers:                    registry,
		Recorder:                   mgr.GetEventRecorder("workplacement"),
		ResyncInterval:             opts.WorkPlacementResyncInterval,
		WatchedStoreResyncInterval: opts.WatchedStoreResyncInterval,
		Pipeline:                   opts.Pipeline,
	}
	if err := placements.setupWithManager(mgr, opts.Concurrency("workplacement")); err != nil {
		return fmt.Errorf("set up the workplacement controller: %w", err)
	}
	dryRuns := &DryRunReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("dryrun"),
		Driver:    driver,
		Stores: func(kind, name string) (statestore.FileReader, error) {
			w, err := registry.Get(kind, name)
			if err != nil {
				return nil, err
			}
			return readOnlyStore{reader: w}, nil
		},
	}
	if err := dryRuns.setupWithManager(mgr, opts.Concurrency("dryrun")); err != nil {
		return fmt.Errorf("set up the dryrun controller: %w", err)
	}
	releases := &PromiseReleaseReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Recorder:      mgr.GetEventRecorder("promiserelease"),
		RetryInterval: opts.PromiseReleaseRetryInterval,
	}
	if err := releases.setupWithManager(mgr, opts.Concurrency("promiserelease")); err != nil {
		return fmt.Errorf("set up the promiserelease controller: %w", err)
	}
	health := &HealthRecordReconciler{
		Client:        mgr.GetClient(),
		RequestReader: mgr.GetAPIReader(),
		Recorder:      mgr.GetEventRecorder("healthrecord"),
		RetryInterval: opts.HealthRecordRetryInterval,

		PlatformNamespace: pipeline.Workflow{}.Namespace(opts.Pipeline),
	}
	if err := health.setupWithManager(mgr, opts.Concurrency("healthrecord")); err != nil {
		return fmt.Errorf("set up the healthrecord controller: %w", err)
	}
	return nil
}
