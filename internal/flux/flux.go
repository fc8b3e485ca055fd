// Package flux runs Flux's source-controller and kustomize-controller, the binaries that `make
// tools` builds into bin/flux/<version>/, against an API server, and builds the Flux objects that
// make a cluster apply one Destination's directory of a state store: a GitRepository or a Bucket
// with its Secret, and the two Kustomizations of the README ("How a Destination is consumed"),
// `kratix-resources` depending on `kratix-dependencies`, both pruning. The Flux end-to-end tests
// (test/flux) and `kratix local --gitops` use it.
//
// The controllers run as child processes on loopback only: the artifact server on a free port of
// 127.0.0.1, metrics and health probes off, no leader election, their logs in files. Stop ends
// them; should this process die first, the kernel kills them.
package flux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Version is the release of the controllers that hack/build-flux.sh builds.
const Version = "v1.9.6"

// Namespace is where the controllers' objects live, as in a Flux install.
const Namespace = "flux-system"

// Binaries are the controllers and the directory of their CRDs.
type Binaries struct {
	SourceController    string
	KustomizeController string
	CRDDir              string
}

// FindBinaries finds <binDir>/flux/<Version>/{source-controller,kustomize-controller,crds/}.
func FindBinaries(binDir string) (Binaries, error) {
	dir := filepath.Join(binDir, "flux", Version)
	b := Binaries{
		SourceController:    filepath.Join(dir, "source-controller"),
		KustomizeController: filepath.Join(dir, "kustomize-controller"),
		CRDDir:              filepath.Join(dir, "crds"),
	}
	for _, p := range []string{b.SourceController, b.KustomizeController} {
		if info, err := os.Stat(p); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return Binaries{}, fmt.Errorf("flux: no %s (Flux %s): run `make tools`, or point --bin-dir at the directory that holds flux/%s/", p, Version, Version)
		}
	}
	if crds, _ := filepath.Glob(filepath.Join(b.CRDDir, "*.yaml")); len(crds) == 0 { // the pattern is valid
		return Binaries{}, fmt.Errorf("flux: no CRDs in %s: run `make tools`", b.CRDDir)
	}
	return b, nil
}

// CRDs decodes every CRD of dir's *.yaml files.
func CRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml")) // the pattern is valid
	sort.Strings(files)
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := dec.Decode(crd); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("decode %s: %w", name, err)
			}
			if crd.Name != "" {
				out = append(out, crd)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("flux: no CRDs in %s", dir)
	}
	return out, nil
}

// Install creates or updates Flux's CRDs from crdDir and the namespace flux-system, and waits
// until the API server serves the CRDs. c's scheme must know CustomResourceDefinitions.
func Install(ctx context.Context, c client.Client, crdDir string) error {
	crds, err := CRDs(crdDir)
	if err != nil {
		return err
	}
	for _, want := range crds {
		current := &apiextensionsv1.CustomResourceDefinition{}
		switch err := c.Get(ctx, client.ObjectKeyFromObject(want), current); {
		case apierrors.IsNotFound(err):
			if err := c.Create(ctx, want.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create CRD %s: %w", want.Name, err)
			}
		case err != nil:
			return fmt.Errorf("read CRD %s: %w", want.Name, err)
		default:
			current.Labels, current.Annotations, current.Spec = want.Labels, want.Annotations, want.Spec
			if err := c.Update(ctx, current); err != nil {
				return fmt.Errorf("update CRD %s: %w", want.Name, err)
			}
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	for _, want := range crds {
		for {
			current := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(want), current); err == nil && established(current) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %w", want.Name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// Options configure Start.
type Options struct {
	Binaries Binaries
	// Kubeconfig is the API server the controllers reconcile, with the rights to apply whatever
	// the Destination holds (an administrator's).
	Kubeconfig string
	// Dir holds the artifacts (storage/); it is created if missing.
	Dir string
	// LogDir receives the logs, source-controller.log and kustomize-controller.log (appended
	// to); Dir when empty.
	LogDir string
	// RequeueDependency is how soon kustomize-controller looks again at a Kustomization whose
	// dependency is not ready; Flux's default (30 s) when zero.
	RequeueDependency time.Duration
	// LogLevel of both controllers; "info" when empty.
	LogLevel string
}

// Controllers are a running source-controller and kustomize-controller.
type Controllers struct {
	// ArtifactAddr is where source-controller serves artifacts, 127.0.0.1:port.
	ArtifactAddr string
	procs        []*process
}

// Start starts source-controller, then kustomize-controller. Install the CRDs first. Stop them
// when done.
func Start(opts Options) (*Controllers, error) {
	if opts.Kubeconfig == "" || opts.Dir == "" {
		return nil, errors.New("flux: Start needs a kubeconfig and a directory")
	}
	storage := filepath.Join(opts.Dir, "storage")
	if err := os.MkdirAll(storage, 0o700); err != nil {
		return nil, err
	}
	logDir := opts.LogDir
	if logDir == "" {
		logDir = opts.Dir
	}
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	level := opts.LogLevel
	if level == "" {
		level = "info"
	}
	common := []string{
		"--metrics-addr=0", "--health-addr=0", "--events-addr=", "--enable-leader-election=false",
		"--watch-all-namespaces=true", "--log-encoding=console", "--log-level=" + level,
	}
	source := append(append([]string{}, common...),
		"--storage-path="+storage, "--storage-addr="+addr, "--storage-adv-addr="+addr,
	)
	kustomize := append([]string{}, common...)
	if opts.RequeueDependency > 0 {
		kustomize = append(kustomize, "--requeue-dependency="+opts.RequeueDependency.String())
	}
	c := &Controllers{ArtifactAddr: addr}
	for _, p := range []struct {
		name, path string
		args       []string
	}{
		{"source-controller", opts.Binaries.SourceController, source},
		{"kustomize-controller", opts.Binaries.KustomizeController, kustomize},
	} {
		proc, err := startProcess(p.name, p.path, p.args, opts.Kubeconfig, filepath.Join(logDir, p.name+".log"))
		if err != nil {
			return nil, errors.Join(err, c.Stop(5*time.Second))
		}
		c.procs = append(c.procs, proc)
	}
	return c, nil
}

// Stop ends the controllers (SIGTERM, then SIGKILL after timeout) and waits for them.
func (c *Controllers) Stop(timeout time.Duration) error {
	if c == nil {
		return nil
	}
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		errs = append(errs, c.procs[i].stop(timeout))
	}
	return errors.Join(errs...)
}

// ExitError is non-nil once a controller has ended by itself: which, why, and the end of its log.
func (c *Controllers) ExitError() error {
	for _, p := range c.procs {
		if err := p.exitError(); err != nil {
			return err
		}
	}
	return nil
}

// Logs are the paths of the controllers' logs.
func (c *Controllers) Logs() []string {
	var out []string
	for _, p := range c.procs {
		out = append(out, p.logPath)
	}
	return out
}

// freeAddr is a free port of 127.0.0.1.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// process is one controller.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// startProcess starts a controller in a process group of its own (a Ctrl-C in a terminal reaches
// its parent alone, which stops it), killed by the kernel should the parent die first.
func startProcess(name, path string, args []string, kubeconfig, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// No proxy: every address the controllers reach is on loopback.
	env := []string{"KUBECONFIG=" + kubeconfig, "RUNTIME_NAMESPACE=" + Namespace}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "KUBECONFIG", "RUNTIME_NAMESPACE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", name, err), logFile.Close())
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close() // the child is gone; a failed close loses nothing it wrote
		close(p.done)
	}()
	return p, nil
}

func (p *process) exitError() error {
	select {
	case <-p.done:
	default:
		return nil
	}
	why := "exited"
	if p.err != nil {
		why = p.err.Error()
	}
	return fmt.Errorf("%s stopped unexpectedly (%s); the end of %s:\n%s", p.name, why, p.logPath, LogTail(p.logPath, 20))
}

func (p *process) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	<-p.done
	return fmt.Errorf("%s did not stop within %s and was killed", p.name, timeout)
}

// LogTail is the last n lines of a file, for an error message.
func LogTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
