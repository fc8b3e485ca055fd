// Package install tests the cluster install that `make install-manifests` renders from
// config/default: that every object applies to a real kube-apiserver, that the manager's
// Deployment is hardened and passes flags the binary knows, and that its ServiceAccount gets the
// access the manager needs and no more.
package install

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"kratix.dev/kratix/config/policy"
	"kratix.dev/kratix/internal/testenv"
)

const (
	namespace      = "kratix-platform-system"
	serviceAccount = "kratix-manager"
	deployment     = "kratix-manager"
	// managerUser is the API server's name for the manager's ServiceAccount.
	managerUser = "system:serviceaccount:" + namespace + ":" + serviceAccount
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// repoRoot is the engine's repository.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// manifests is a rendered install: the YAML stream and its objects, in order.
type manifests struct {
	yaml    []byte
	objects []*unstructured.Unstructured
}

// find returns the object of that kind and name, or fails the test.
func (m *manifests) find(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range m.objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("the install has no %s %s", kind, name)
	return nil
}

// ofKind returns the objects of that kind.
func (m *manifests) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range m.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

var (
	defaultInstallOnce sync.Once
	defaultInstall     *manifests
	defaultInstallErr  error
)

// install renders config/default once per run, as `make install-manifests` does without IMG.
func install(t *testing.T) *manifests {
	t.Helper()
	defaultInstallOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			defaultInstallErr = err
			return
		}
		defaultInstall, defaultInstallErr = kustomizeBuild(root, filepath.Join(root, "config", "default"))
	})
	if defaultInstallErr != nil {
		t.Fatal(defaultInstallErr)
	}
	return defaultInstall
}

// kustomizeBuild runs bin/kustomize (built by `make tools`) on dir and parses what it prints.
func kustomizeBuild(root, dir string) (*manifests, error) {
	out, err := kustomize(root, dir, "build", ".")
	if err != nil {
		return nil, err
	}
	objects, err := parse(out)
	if err != nil {
		return nil, err
	}
	return &manifests{yaml: out, objects: objects}, nil
}

// kustomize runs bin/kustomize in dir and returns its standard output.
func kustomize(root, dir string, args ...string) ([]byte, error) {
	bin := filepath.Join(root, "bin", "kustomize")
	if _, err := os.Stat(bin); err != nil {
		return nil, errors.New("bin/kustomize is missing; run `make tools`")
	}
	home, err := os.MkdirTemp("", "kratix-install-test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// kustomize keeps plugin and cache files under $HOME and $XDG_CONFIG_HOME.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New("kustomize " + strings.Join(args, " ") + " in " + dir + ": " + err.Error() + "\n" + stderr.String())
	}
	return out, nil
}

// parse splits a YAML stream into objects.
func parse(stream []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var objects []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		objects = append(objects, &unstructured.Unstructured{Object: obj})
	}
}

// as converts a rendered object into its typed form.
func as[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// kubectl runs the kubectl that `make tools` builds against the control plane, with stdin as its
// input, and returns what it printed.
func kubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd, err := env.Kubectl(testenv.Context(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// asOnAFreshCluster removes what testenv installs besides the CRDs, the admission policies, so
// that the install applies to the API server as to a cluster that never had it: testenv applied
// them with a field manager of its own, with which the install's apply would conflict.
func asOnAFreshCluster(t *testing.T) {
	t.Helper()
	objs, err := policy.Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		if err := env.Client.Delete(t.Context(), obj); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("delete %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}
