package controllers

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// TestPromisesOfLabel: a Job or Work labelled with a Promise's name reaches that Promise, also
// when the name was too long for a label value and was shortened, whether the shortened value
// is as long as the limit or shorter (separators at the cut are trimmed).
func TestPromisesOfLabel(t *testing.T) {
	atLimit := strings.Repeat("a", 70)
	belowLimit := strings.Repeat("b", 51) + "-promise-name-cut-at-a-dash"
	if len(names.LabelValue(belowLimit)) >= names.MaxLabelValueLength {
		t.Fatalf("the test needs a label value below the limit")
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: atLimit}},
		&v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: belowLimit}},
		&v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: "redis"}},
	).Build()
	for _, name := range []string{atLimit, belowLimit, "redis"} {
		reqs := promisesOfLabel(t.Context(), c, logr.Discard(), names.LabelValue(name))
		got := []string{}
		for _, r := range reqs {
			got = append(got, r.Name)
		}
		if !slices.Equal(got, []string{name}) {
			t.Errorf("label %q maps to %q, want [%q]", names.LabelValue(name), got, name)
		}
	}
}
