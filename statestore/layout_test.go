package statestore

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const rootGroupID = "5058f1af8388633f609cadb75a75dc9d" // md5(".")

func TestNestedDir(t *testing.T) {
	cases := []struct {
		name string
		dest string
		p    Placement
		want string
		bad  bool
	}{
		{"resource output", "dev-cluster-1", Placement{Promise: "appconfig", ResourceNamespace: "default", Resource: "hello", Pipeline: "render", GroupID: rootGroupID},
			"dev-cluster-1/resources/default/appconfig/hello/render/5058f", false},
		{"promise workflow output", "clusters/dev", Placement{Promise: "redis", Pipeline: "promise-configure", GroupID: rootGroupID},
			"clusters/dev/dependencies/redis/promise-configure/5058f", false},
		{"static dependencies", "dev-cluster-1", Placement{Promise: "promise-name", GroupID: rootGroupID},
			"dev-cluster-1/dependencies/promise-name/5058f/static", false},
		{"a resource without a namespace", "dev", Placement{Promise: "p", Resource: "r", Pipeline: "x", GroupID: rootGroupID}, "", true},
		{"a name that escapes", "dev", Placement{Promise: "..", Pipeline: "x", GroupID: rootGroupID}, "", true},
		{"no group id", "dev", Placement{Promise: "p"}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NestedDir(tc.dest, tc.p)
			if tc.bad {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("NestedDir = %q, %v; want an invalid-path error", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NestedDir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestStateFileIsNotAManifest(t *testing.T) {
	p, err := StateFile("dev", "appconfig-hello.dev")
	if err != nil {
		t.Fatal(err)
	}
	if p != "dev/.kratix/appconfig-hello.dev.state" {
		t.Errorf("StateFile = %q", p)
	}
	for _, ext := range []string{".yaml", ".yml", ".json"} {
		if strings.HasSuffix(p, ext) {
			t.Errorf("state file %q would be read by Flux and Argo CD as a manifest", p)
		}
	}
}

func TestCanaryFiles(t *testing.T) {
	files, err := CanaryFiles("dev-cluster-1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"dev-cluster-1/dependencies/kratix-canary-namespace.yaml": "Namespace",
		"dev-cluster-1/resources/kratix-canary-configmap.yaml":    "ConfigMap",
	}
	if len(files) != len(want) {
		t.Fatalf("%d canary files, want %d", len(files), len(want))
	}
	for _, f := range files {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(f.Content, &obj); err != nil {
			t.Fatalf("%s does not parse: %v", f.Path, err)
		}
		if want[f.Path] != obj.Kind {
			t.Errorf("%s holds a %q, want %q", f.Path, obj.Kind, want[f.Path])
		}
		if obj.Kind == "ConfigMap" && obj.Metadata.Namespace != CanaryNamespace {
			t.Errorf("the canary ConfigMap is in namespace %q, want %q", obj.Metadata.Namespace, CanaryNamespace)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	cause := errors.New("connection refused")
	err := NewError(ErrTransient, "push to https://git.example.com/state.git", cause)
	if !errors.Is(err, ErrTransient) || !errors.Is(err, cause) || errors.Is(err, ErrAuthentication) {
		t.Errorf("errors.Is does not follow the kind and the cause: %v", err)
	}
	if !Retryable(err) || Retryable(NewError(ErrAuthentication, "push", nil)) {
		t.Error("Retryable: transient errors retry, authentication errors do not")
	}
	if got, want := err.Error(), "push to https://git.example.com/state.git: store unavailable: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
