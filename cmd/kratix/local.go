package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

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
}

func (o *localOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.dataDir, "data-dir", localplatform.DefaultDataDir, "directory of the platform's state: etcd data, certificates, the state repository, logs, kubeconfig")
	fs.StringVar(&o.binDir, "bin-dir", "", "directory that holds k8s/<version>/{etcd,kube-apiserver,kube-controller-manager,kubectl}; default: this binary's directory if it holds k8s/, else ./bin")
	fs.IntVar(&o.apiPort, "api-port", 0, "port of the API server on 127.0.0.1; 0 picks a free one at each start (the kubeconfig is rewritten)")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "address of the engine's Prometheus metrics endpoint, e.g. 127.0.0.1:8080; 0 turns it off")
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
		WorkPlacementResyncInterval: opts.intervals.placementResync,
		Out:                         os.Stdout,
		NewLogger:                   newLogger,
	})
}
