package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"kratix.dev/kratix/pipeline/local"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"kratix.dev/kratix/internal/localplatform"
)

// localOptions are the flags of `kratix local`.
type localOptions struct {
	dataDir     string
	binDir      string
	apiPort     int
	metricsAddr string
	intervals   intervals
	zap         zap.Options

	hostTools      string
	mirrors        mirrorFlag
	isolateNetwork bool
	imageCache     string
	gitops         bool
}

// mirrorFlag collects --registry-mirror registry=mirror flags.
type mirrorFlag map[string]string

func (m *mirrorFlag) String() string {
	var parts []string
	for k, v := range *m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (m *mirrorFlag) Set(s string) error {
	registry, mirror, ok := strings.Cut(s, "=")
	if !ok || registry == "" || mirror == "" || strings.Contains(mirror, "://") {
		return fmt.Errorf("%q: want registry=mirror-host[:port][/path], e.g. docker.io=127.0.0.1:5000 (registry * for all)", s)
	}
	if *m == nil {
		*m = mirrorFlag{}
	}
	(*m)[registry] = mirror
	return nil
}

// pipelines are the local job runner's options from the flags.
func (o *localOptions) pipelines() (localplatform.PipelineOptions, error) {
	p := localplatform.PipelineOptions{RegistryMirrors: o.mirrors, IsolateNetwork: o.isolateNetwork, HostToolsImages: []string{}}
	for _, image := range strings.Split(o.hostTools, ",") {
		if image = strings.TrimSpace(image); image != "" {
			p.HostToolsImages = append(p.HostToolsImages, image)
		}
	}
	size, err := resource.ParseQuantity(o.imageCache)
	if err != nil || size.Sign() <= 0 {
		return p, fmt.Errorf("--image-cache-size %q: want a size such as 10Gi or 500M", o.imageCache)
	}
	p.ImageCacheBytes = size.Value()
	return p, nil
}

func (o *localOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.dataDir, "data-dir", localplatform.DefaultDataDir, "directory of the platform's state: etcd data, certificates, the state repository, logs, kubeconfig")
	fs.StringVar(&o.binDir, "bin-dir", "", "directory that holds k8s/<version>/{etcd,kube-apiserver,kube-controller-manager,kubectl}; default: this binary's directory if it holds k8s/, else ./bin")
	fs.IntVar(&o.apiPort, "api-port", 0, "port of the API server on 127.0.0.1; 0 picks a free one at each start (the kubeconfig is rewritten)")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "address of the engine's Prometheus metrics endpoint, e.g. 127.0.0.1:8080; 0 turns it off")
	fs.StringVar(&o.hostTools, "host-tools-images", strings.Join(local.DefaultHostToolsImages, ","), "comma-separated images (repositories) that pipelines run on the host's tools, read-only, instead of pulling them, for machines without registry access; the Job's Events and logs say so; empty: pull every image")
	fs.Var(&o.mirrors, "registry-mirror", "registry=mirror: pull the registry's images from the mirror first (e.g. docker.io=127.0.0.1:5000; registry * for all); repeatable")
	fs.BoolVar(&o.isolateNetwork, "isolate-pipeline-network", false, "give each pipeline container a network of its own with only loopback; by default containers share the host's network, so that pipelines can fetch what they need")
	fs.StringVar(&o.imageCache, "image-cache-size", "10Gi", "size budget of the image cache under the data directory; what no recent Job used is removed past it")
	fs.BoolVar(&o.gitops, "gitops", false, "also run Flux's source-controller and kustomize-controller (from the bin directory's flux/<version>/, which `make tools` builds) against the API server, applying the Destination local's directory of the state repository to the platform itself, served to Flux over HTTPS on 127.0.0.1 with a password in the data directory")
	o.intervals.bind(fs)
	o.zap.Development = false
	o.zap.BindFlags(fs)
	// The log is a file for people to read: console lines with readable times, unless the
	// command line says otherwise (it is parsed after these defaults).
	for name, value := range map[string]string{"zap-encoder": "console", "zap-time-encoding": "iso8601"} {
		if err := fs.Set(name, value); err != nil {
			panic(fmt.Sprintf("default of --%s: %v", name, err)) // both values are valid
		}
	}
}

// runLocalCommand runs `kratix local` until ctx ends (Ctrl-C, SIGTERM).
func runLocalCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kratix local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts localOptions
	opts.bind(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	pipelines, err := opts.pipelines()
	if err != nil {
		return usageError{err}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	newLogger := func(w io.Writer) logr.Logger {
		log := zap.New(zap.UseFlagOptions(&opts.zap), zap.WriteTo(w))
		// The engine's packages log through controller-runtime's global logger too.
		ctrl.SetLogger(log)
		return log
	}
	return localplatform.Run(ctx, localplatform.Options{
		DataDir:     opts.dataDir,
		BinDir:      opts.binDir,
		APIPort:     opts.apiPort,
		MetricsAddr: opts.metricsAddr,
		Self:        self,

		ResourceResyncInterval:      opts.intervals.resourceResync,
		ReconcileAfterFailure:       opts.intervals.reconcileAfterFailure,
		RerunStatusDelay:            opts.intervals.rerunDelay(),
		WorkPlacementResyncInterval: opts.intervals.placementResync,
		WatchedStoreResyncInterval:  opts.intervals.watchedResync,
		Out:                         os.Stdout,
		NewLogger:                   newLogger,
		Pipelines:                   pipelines,
		GitOps:                      opts.gitops,
	})
}
