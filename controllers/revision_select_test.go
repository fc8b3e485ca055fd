package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// The digest of a Promise's spec is computed once per generation of the Promise, and again for
// a new generation, another Promise of the same name, or a Promise built in memory.
func TestSpecHashMemo(t *testing.T) {
	promise := func(uid string, generation int64, version string) *v1alpha1.Promise {
		p := &v1alpha1.Promise{}
		p.UID, p.Generation = types.UID(uid), generation
		p.Spec.DestinationSelectors = []v1alpha1.PromiseScheduling{{MatchLabels: map[string]string{"version": version}}}
		return p
	}
	digest := func(p *v1alpha1.Promise) string {
		h, err := pipeline.PromiseSpecHash(&p.Spec)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	var m specHashMemo
	for _, step := range []struct {
		name    string
		promise *v1alpha1.Promise
		want    string // the version whose digest is expected
	}{
		{"first generation", promise("a", 1, "1"), "1"},
		// Not something the API server does: it shows that the generation's digest is reused.
		{"same generation again", promise("a", 1, "changed without a new generation"), "1"},
		{"new generation", promise("a", 2, "2"), "2"},
		{"another Promise of the same generation", promise("b", 2, "3"), "3"},
		{"built in memory", promise("", 0, "4"), "4"},
	} {
		got, err := m.of(step.promise)
		if err != nil {
			t.Fatal(err)
		}
		if want := digest(promise("x", 1, step.want)); got != want {
			t.Errorf("%s: digest %s, want version %s's %s", step.name, got, step.want, want)
		}
	}
}
