package statestore

import (
	"errors"
	"slices"
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

func TestFlatFile(t *testing.T) {
	tests := []struct {
		dest, file, want, wantErr string
	}{
		{dest: "dev", file: "app/deploy.yaml", want: "dev/app/deploy.yaml"},
		{dest: "clusters/dev/", file: "ns.yaml", want: "clusters/dev/ns.yaml"},
		{dest: "dev", file: ".kratix/other.state", wantErr: "engine's own files"},
		{dest: "dev", file: ".kratix", wantErr: "engine's own files"},
		{dest: "dev", file: "../prod/ns.yaml", wantErr: "escapes its root"},
		{dest: "dev", file: "/etc/passwd", wantErr: "empty segment"},
		{dest: "dev", file: ".git/config", wantErr: ".git"},
		{dest: "dev", file: "/", wantErr: "not a file"},
		{dest: "dev", file: "resources", wantErr: "resources/ directory"},
		{dest: "dev", file: "dependencies/", wantErr: "dependencies/ directory"},
		{dest: "dev", file: "resources/kratix-canary-configmap.yaml", wantErr: "canary file"},
		{dest: "dev", file: "dependencies/kratix-canary-namespace.yaml", wantErr: "canary file"},
		{dest: "dev", file: "resources/app.yaml", want: "dev/resources/app.yaml"},
	}
	for _, tt := range tests {
		got, err := FlatFile(tt.dest, tt.file)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("FlatFile(%q, %q) = %q, %v; want an error with %q", tt.dest, tt.file, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("FlatFile(%q, %q) = %q, %v; want %q", tt.dest, tt.file, got, err, tt.want)
		}
	}
}

func TestAggregatedFile(t *testing.T) {
	if got, err := AggregatedFile("dev", ""); err != nil || got != "dev/aggregated.yaml" {
		t.Errorf("default: %q, %v", got, err)
	}
	if got, err := AggregatedFile("dev/", "all.yaml"); err != nil || got != "dev/all.yaml" {
		t.Errorf("named: %q, %v", got, err)
	}
	if _, err := AggregatedFile("dev", "../all.yaml"); err == nil {
		t.Error("a filename that is a path was accepted")
	}
}

// A state file lists exactly the files written, survives a round trip, and cannot be edited
// into removing files outside its Destination.
func TestStateFileRoundTrip(t *testing.T) {
	files := []string{"dev/a.yaml", "dev/sub/b.yaml"}
	data, err := EncodeStateFile("dev", "ns.wp", files)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "dev/a.yaml") {
		t.Errorf("the state file lists paths relative to the store, not the Destination:\n%s", data)
	}
	got, err := ParseStateFile("dev", data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, files) {
		t.Errorf("ParseStateFile = %v, want %v", got, files)
	}
	if _, err := EncodeStateFile("dev", "ns.wp", []string{"prod/a.yaml"}); err == nil {
		t.Error("a file outside the Destination was encoded")
	}
	for _, bad := range []string{
		"../prod/a.yaml\n", "a.yaml\n.kratix/other.state\n", "/etc/passwd\n",
		`{"files": ["../prod/a.yaml"]}`, `{"files": [".kratix/other.state"]}`, `{"files": "a.yaml"}`,
	} {
		if got, err := ParseStateFile("dev", []byte(bad)); err == nil {
			t.Errorf("ParseStateFile(%q) = %v, want an error", bad, got)
		}
	}
}

// A state file lists every name as written: one that starts with "#" (a comment in the line
// format of earlier versions) or ends in a space (which that format trimmed).
func TestStateFileKeepsEveryName(t *testing.T) {
	files := []string{"dev/#notes.yaml", "dev/x.yaml ", "dev/ y.yaml"}
	data, err := EncodeStateFile("dev", "ns.wp", files)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseStateFile("dev", data)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	if !slices.Equal(got, files) {
		t.Errorf("ParseStateFile = %q, want %q\n%s", got, files, data)
	}
}

// A state file of an earlier version (a "#" header, one path per line) is still read, so that
// an upgraded engine removes what the old one wrote.
func TestStateFileOfEarlierVersionsIsRead(t *testing.T) {
	legacy := "# Files written by the WorkPlacement ns.wp, relative to its Destination's directory.\n" +
		"# The engine removes exactly these when the WorkPlacement is deleted; do not edit.\n" +
		"a.yaml\nsub/b.yaml\n"
	got, err := ParseStateFile("dev", []byte(legacy))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"dev/a.yaml", "dev/sub/b.yaml"}; !slices.Equal(got, want) {
		t.Errorf("ParseStateFile = %q, want %q", got, want)
	}
}
