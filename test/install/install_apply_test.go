package install

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// What the README tells a user to run, `kubectl apply --server-side`, is accepted for every
// object of the install by a real API server (as a server-side dry run: the API server validates,
// defaults and admits each object, and stores nothing).
func TestInstallAppliesToTheAPIServer(t *testing.T) {
	m := install(t)

	// A dry run does not create the Namespace, and the API server refuses namespaced objects in
	// a namespace that does not exist: create it first. The CRDs are installed by testenv from
	// the same files, so their dry run is an update.
	var namespaces bytes.Buffer
	for _, ns := range m.ofKind("Namespace") {
		data, err := yaml.Marshal(ns.Object)
		if err != nil {
			t.Fatal(err)
		}
		namespaces.WriteString("---\n")
		namespaces.Write(data)
	}
	kubectl(t, namespaces.Bytes(), "apply", "--server-side", "--field-manager=kratix-install-test", "-f", "-")
	asOnAFreshCluster(t)

	out := kubectl(t, m.yaml, "apply", "--server-side", "--dry-run=server", "--field-manager=kratix-install-test", "-f", "-")
	// kubectl prints a line per object, e.g.
	// "deployment.apps/kratix-manager serverside-applied (server dry run)".
	applied := map[string]bool{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines {
		ref, status, _ := strings.Cut(line, " ")
		kindGroup, name, _ := strings.Cut(ref, "/")
		kind, _, _ := strings.Cut(kindGroup, ".")
		applied[kind+"/"+name] = status == "serverside-applied (server dry run)"
	}
	if len(lines) != len(m.objects) {
		t.Errorf("kubectl reported %d objects, the install has %d:\n%s", len(lines), len(m.objects), out)
	}
	for _, o := range m.objects {
		if !applied[strings.ToLower(o.GetKind())+"/"+o.GetName()] {
			t.Errorf("kubectl did not report %s %s as applied in a server dry run:\n%s", o.GetKind(), o.GetName(), out)
		}
	}
}

// Every CRD that `make manifests` generates is part of the install: a new kind's file must be
// listed in config/crd/kustomization.yaml, or a cluster install would lack it.
func TestInstallHasEveryGeneratedCRD(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no CRDs in config/crd/bases; run `make manifests`")
	}
	var installed []string
	for _, crd := range install(t).ofKind("CustomResourceDefinition") {
		installed = append(installed, crd.GetName())
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !slices.Contains(installed, crd.Metadata.Name) {
			t.Errorf("CRD %s (%s) is not in the install; list it in config/crd/kustomization.yaml", crd.Metadata.Name, filepath.Base(f))
		}
	}
	if len(installed) != len(files) {
		t.Errorf("the install has %d CRDs, config/crd/bases %d: %v", len(installed), len(files), installed)
	}
}
