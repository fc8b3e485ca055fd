// Package crd tests the generated CRDs of config/crd/bases against a real kube-apiserver: that
// they install, that Kratix objects apply, that bad objects are refused with a readable message,
// that defaults are filled in, and what `kubectl get` shows.
package crd

import (
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// object parses one YAML manifest.
func object(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(strings.TrimSpace(manifest)), &u.Object); err != nil {
		t.Fatalf("bad manifest in the test: %v\n%s", err, manifest)
	}
	return u
}
