package localplatform

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-logr/logr"
)

// DefaultDataDir is where the platform keeps its state unless told otherwise.
const DefaultDataDir = ".kratix-local"

// ReadyLine is printed once, alone on its line, when the platform is ready to use.
const ReadyLine = "kratix local: ready"

// Names of the objects the platform creates on its first start.
const (
	StoreName       = "default"
	DestinationName = "local"
	// PlatformDestinationName is the Destination of the platform itself (environment:
	// platform): what is written into its directory of the store, the platform applies to its
	// own API server, as a GitOps agent on a platform cluster would.
	PlatformDestinationName = "platform"
	// ApplierInventoryName is the ConfigMap, in the platform namespace, that lists what the
	// platform applied from the Destination platform's directory.
	ApplierInventoryName = "kratix-local-platform-applier"
)

// Options configure Run.
type Options struct {
	// DataDir holds everything the platform keeps; DefaultDataDir when empty.
	DataDir string
	// BinDir holds k8s/<version>/{etcd,kube-apiserver,kube-controller-manager} and kubectl;
	// DefaultBinDir when empty.
	BinDir string
	// APIPort is the API server's port on 127.0.0.1; 0 picks a free one at each start.
	APIPort int
	// MetricsAddr is the address of the manager's metrics endpoint; "0" or empty turns it off.
	MetricsAddr string
	// ResourceResyncInterval, WorkPlacementResyncInterval and WatchedStoreResyncInterval are
	// the engine's, as controllers.Options has them; the controllers' defaults when zero.
	ResourceResyncInterval      time.Duration
	WorkPlacementResyncInterval time.Duration
	WatchedStoreResyncInterval  time.Duration
	// ReconcileAfterFailure is controllers.Options.ReconcileAfterFailure.
	ReconcileAfterFailure bool
	// RerunStatusDelay is controllers.Options.RerunStatusDelay.
	RerunStatusDelay time.Duration
	// Self is this binary: the local job runner re-executes it for the engine's adapter
	// containers and to build the sandboxes of the others.
	Self string
	// Out receives the messages for the person who started the platform, and ReadyLine.
	Out io.Writer
	// NewLogger builds the engine's logger, writing to w (logs/kratix.log); default: the
	// logger discards.
	NewLogger func(w io.Writer) logr.Logger
	// ReadyTimeout bounds the start, from the first process to ReadyLine; default 3 minutes.
	ReadyTimeout time.Duration
	// StopTimeout bounds the stop of each part before it is killed; default 15 seconds.
	StopTimeout time.Duration
	// Pipelines configure the local job runner.
	Pipelines PipelineOptions
	// GitOps also runs Flux's source-controller and kustomize-controller (from
	// BinDir/flux/<version>/) against the API server, applying the Destination local's directory
	// of the state repository to the platform itself, as Flux on a destination cluster would.
	GitOps bool
}

// PipelineOptions configure how the local job runner runs pipeline containers.
type PipelineOptions struct {
	// HostToolsImages run on the host's tools instead of being pulled; nil: the runner's default
	// list (local.DefaultHostToolsImages), empty: none.
	HostToolsImages []string
	// RegistryMirrors maps a registry host ("docker.io", or "*" for all) to a mirror host, which
	// is tried first.
	RegistryMirrors map[string]string
	// IsolateNetwork gives each container a network namespace with only loopback.
	IsolateNetwork bool
	// ImageCacheBytes is the image cache's size budget; 0: local.DefaultImageCacheBytes.
	ImageCacheBytes int64
}

// withDefaults validates the options and fills in defaults; paths become absolute.
func (o Options) withDefaults() (Options, error) {
	if o.Self == "" {
		return o, errors.New("the path of this binary (Self) is required")
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.BinDir == "" {
		dir, err := DefaultBinDir(o.Self)
		if err != nil {
			return o, err
		}
		o.BinDir = dir
	}
	for _, p := range []*string{&o.DataDir, &o.BinDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, err
		}
		*p = abs
	}
	if o.APIPort < 0 || o.APIPort > 65535 {
		return o, fmt.Errorf("API port %d is not a port", o.APIPort)
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = "0"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.NewLogger == nil {
		o.NewLogger = func(io.Writer) logr.Logger { return logr.Discard() }
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 3 * time.Minute
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 15 * time.Second
	}
	return o, nil
}

// DefaultBinDir is the directory of the binary self when it holds k8s/ (bin/kratix next to
// bin/k8s, as `make build` and `make tools` leave them), else ./bin.
func DefaultBinDir(self string) (string, error) {
	dir := filepath.Dir(self)
	if info, err := os.Stat(filepath.Join(dir, "k8s")); err == nil && info.IsDir() {
		return dir, nil
	}
	return filepath.Abs("bin")
}

// binaries are the paths of the control plane's programs.
type binaries struct {
	etcd, apiserver, controllerManager, kubectl string
}

// findBinaries picks the newest version under <binDir>/k8s that has every program.
func findBinaries(binDir string) (binaries, error) {
	versions, _ := filepath.Glob(filepath.Join(binDir, "k8s", "v*")) // the pattern is valid
	sort.Sort(sort.Reverse(sort.StringSlice(versions)))
	for _, dir := range versions {
		b := binaries{
			etcd:              filepath.Join(dir, "etcd"),
			apiserver:         filepath.Join(dir, "kube-apiserver"),
			controllerManager: filepath.Join(dir, "kube-controller-manager"),
			kubectl:           filepath.Join(dir, "kubectl"),
		}
		if allExecutable(b.etcd, b.apiserver, b.controllerManager, b.kubectl) {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("no etcd, kube-apiserver, kube-controller-manager and kubectl under %s: run `make tools`, or point --bin-dir at the directory that holds k8s/<version>/", filepath.Join(binDir, "k8s"))
}

func allExecutable(paths ...string) bool {
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// layout names the files and directories inside the data directory.
type layout struct{ root string }

func (l layout) path(parts ...string) string {
	return filepath.Join(append([]string{l.root}, parts...)...)
}

func (l layout) kubeconfig() string   { return l.path("kubeconfig") }
func (l layout) repository() string   { return l.path("state.git") }
func (l layout) etcd() string         { return l.path("etcd") }
func (l layout) pki() string          { return l.path("pki") }
func (l layout) controlPlane() string { return l.path("control-plane") }
func (l layout) logs() string         { return l.path("logs") }
func (l layout) lock() string         { return l.path("kratix.lock") }

// create makes the directories of the layout.
func (l layout) create() error {
	for _, dir := range []string{l.root, l.pki(), l.controlPlane(), l.logs(), l.etcd()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}
