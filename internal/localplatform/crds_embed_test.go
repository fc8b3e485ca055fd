package localplatform

import (
	"path/filepath"
	"sort"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// The binary embeds one CRD per file of config/crd/bases, each of the engine's API group.
func TestEmbeddedCRDs(t *testing.T) {
	crds, err := embeddedCRDs()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, c := range crds {
		if c.Spec.Group != v1alpha1.GroupVersion.Group {
			t.Errorf("CRD %s is of group %s", c.Name, c.Spec.Group)
		}
		got = append(got, v1alpha1.GroupVersion.Group+"_"+c.Spec.Names.Plural+".yaml")
	}
	for _, f := range files {
		want = append(want, filepath.Base(f))
	}
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("embedded %v, files %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("embedded %v, files %v", got, want)
			break
		}
	}
}
