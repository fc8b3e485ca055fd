// Package testenv starts a real control plane for tests: the kube-apiserver and etcd that
// `make tools` builds into bin/, through controller-runtime's envtest, with the engine's CRDs
// installed. A test package starts one with Main from its TestMain and shares it.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	platformv1alpha1 "kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/config/policy"
)

// Env is a running control plane with the engine's CRDs installed.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client uses Scheme and asks the API server for strict field validation, as kubectl does, so
	// that unknown fields are errors rather than silently dropped.
	Client client.Client
	// Scheme knows the built-in kinds, CRDs and the platform.kratix.io kinds.
	Scheme *runtime.Scheme
	// CRDs are the engine's CRDs as installed.
	CRDs []*apiextensionsv1.CustomResourceDefinition

	env        *envtest.Environment
	dir        string
	kubeconfig string
	// apiServerDown: StopAPIServer stopped the API server and StartAPIServer has yet to start it.
	apiServerDown bool
}

// Start starts etcd and kube-apiserver on loopback and installs the CRDs of config/crd/bases and
// the admission policies of config/policy, as the cluster install does.
// Stop it when done.
func Start() (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, platformv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "kratix-testenv-")
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		Scheme:                   scheme,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// The API server's certificates live in a directory of ours rather than one envtest makes and
	// removes on every stop, so that StartAPIServer serves the certificate that Config trusts.
	certDir := filepath.Join(dir, "apiserver")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	apiServer := te.ControlPlane.GetAPIServer()
	apiServer.CertDir = certDir
	// Without a grace period for watches, a stopping kube-apiserver waits on its clients' open
	// watches (a running manager's informers) for as long as they last.
	apiServer.Configure().Set("shutdown-watch-termination-grace-period", "2s")
	cfg, err := te.Start()
	if err != nil {
		// A failure after the processes started (installing the CRDs, say) must not leave them
		// running: stop whatever did start.
		err = fmt.Errorf("start envtest (kube-apiserver and etcd from %s): %w", assets, err)
		return nil, errors.Join(err, te.Stop(), os.RemoveAll(dir))
	}
	e := &Env{Config: cfg, Scheme: scheme, CRDs: te.CRDs, env: te, dir: dir}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("build client: %w", err), e.Stop())
	}
	e.Client = client.WithFieldValidation(c, metav1.FieldValidationStrict)
	if err := policy.Apply(context.Background(), e.Client); err != nil {
		return nil, errors.Join(fmt.Errorf("install the admission policies: %w", err), e.Stop())
	}
	e.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.kubeconfig, te.KubeConfig, 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("write kubeconfig: %w", err), e.Stop())
	}
	return e, nil
}

// Stop stops the control plane and removes its files.
func (e *Env) Stop() error {
	err := e.env.Stop()
	return errors.Join(err, os.RemoveAll(e.dir))
}

// StopAPIServer stops kube-apiserver and leaves etcd running, for tests of an engine that loses
// its API server; StartAPIServer brings it back. A server that does not stop within the
// environment's stop timeout is killed, and the error says so: StartAPIServer may still start
// it again.
func (e *Env) StopAPIServer() error {
	e.apiServerDown = true
	if err := e.env.ControlPlane.GetAPIServer().Stop(); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	return nil
}

// StartAPIServer starts the kube-apiserver that StopAPIServer stopped, on the same address with the
// same certificates and the same etcd, so that Config, Client and Kubeconfig work again as they
// were, and waits until it is healthy. It fails unless StopAPIServer stopped it: a second process
// on the address would fail, and its health check would be answered by the first.
func (e *Env) StartAPIServer() error {
	if !e.apiServerDown {
		return errors.New("testenv: the API server is running")
	}
	if err := e.env.ControlPlane.GetAPIServer().Start(); err != nil {
		return fmt.Errorf("start kube-apiserver again: %w", err)
	}
	e.apiServerDown = false
	return nil
}

// Kubeconfig is the path of an administrator's kubeconfig for the control plane.
func (e *Env) Kubeconfig() string { return e.kubeconfig }

// Kubectl returns a kubectl command (the one `make tools` builds) bound to the control plane, with
// its cache inside the environment's temporary directory rather than under $HOME.
func (e *Env) Kubectl(ctx context.Context, args ...string) (*exec.Cmd, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	full := append([]string{"--kubeconfig", e.kubeconfig, "--cache-dir", filepath.Join(e.dir, "kubectl-cache")}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(assets, "kubectl"), full...)
	cmd.Env = append(os.Environ(), "HOME="+e.dir, "XDG_CACHE_HOME="+filepath.Join(e.dir, "cache"))
	return cmd, nil
}

// InstallResourceCRD installs a namespaced CRD like a Promise's API, with any fields and a status
// subresource, and waits until it is served; an existing one is kept. It returns the CRD.
func (e *Env) InstallResourceCRD(ctx context.Context, group, kind, plural string) (*apiextensionsv1.CustomResourceDefinition, error) {
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, Plural: plural, Singular: strings.ToLower(kind), ListKind: kind + "List"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema:       &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			}},
		},
	}
	if err := e.Client.Create(ctx, crd.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create CRD %s: %w", crd.Name, err)
	}
	gk := schema.GroupKind{Group: group, Kind: kind}
	for {
		current := &apiextensionsv1.CustomResourceDefinition{}
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(crd), current); err == nil && established(current) {
			// The API server's discovery can lag behind Established by a moment: the kind is
			// ready for the tests once the client can map it.
			if _, err := e.Client.RESTMapper().RESTMapping(gk, "v1"); err == nil {
				return crd, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CRD %s not established: %w", crd.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// established reports whether the CRD's Established condition is True.
func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// Main starts a control plane, stores it in *env, runs the package's tests and stops it; use it as
// `func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }`. It returns the exit code.
func Main(m *testing.M, env **Env) int {
	e, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// RepoRoot is the directory of the engine's go.mod, found upwards from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isEngineModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: the engine's go.mod is not in any parent of the working directory")
		}
		dir = parent
	}
}

func isEngineModule(goMod []byte) bool {
	const first = "module kratix.dev/kratix\n"
	return len(goMod) >= len(first) && string(goMod[:len(first)]) == first
}

// AssetsDir is the directory of kube-apiserver, etcd and kubectl: $KUBEBUILDER_ASSETS when set
// (the Makefile sets it), else the newest version under bin/k8s.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, checkAssets(dir)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	versions, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "v*")) // a bad pattern is impossible here
	if len(versions) == 0 {
		return "", errors.New("testenv: no control plane binaries under bin/k8s; run `make tools`")
	}
	sort.Strings(versions)
	dir := versions[len(versions)-1]
	return dir, checkAssets(dir)
}

func checkAssets(dir string) error {
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("testenv: %s is missing from %s; run `make tools`", name, dir)
		}
	}
	return nil
}

// Context is a context that ends with the test or after a minute, whichever is first.
func Context(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Eventually calls check every interval until it returns nil, and fails the test with check's
// last error once timeout has passed.
func Eventually(t testing.TB, what string, timeout, interval time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(interval)
	}
}
