package crd

import (
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
)

// TestCRDsInstall checks that every CRD of config/crd/bases is established and served with the
// scope, short names and category that CONTRACT.md §1 gives.
func TestCRDsInstall(t *testing.T) {
	ctx := testenv.Context(t)
	want := []struct {
		plural     string
		kind       string
		namespaced bool
		shortNames []string
		// upstream: HealthRecord has no status subresource and is in no category.
		noStatus bool
	}{
		{"promises", "Promise", false, nil, false},
		{"destinations", "Destination", false, []string{"dest"}, false},
		{"gitstatestores", "GitStateStore", false, nil, false},
		{"bucketstatestores", "BucketStateStore", false, nil, false},
		{"works", "Work", true, nil, false},
		{"workplacements", "WorkPlacement", true, []string{"wp"}, false},
		{"promisereleases", "PromiseRelease", false, nil, false},
		{"healthrecords", "HealthRecord", true, nil, true},
		{"promiserevisions", "PromiseRevision", false, nil, false},
		{"resourcebindings", "ResourceBinding", true, nil, false},
		{"dryruns", "DryRun", true, nil, false},
	}
	if len(env.CRDs) != len(want) {
		t.Errorf("installed %d CRDs from config/crd/bases, want %d", len(env.CRDs), len(want))
	}

	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	resources, err := dc.ServerResourcesForGroupVersion(platformv1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatalf("discover %s: %v", platformv1alpha1.GroupVersion, err)
	}
	for _, w := range want {
		t.Run(w.kind, func(t *testing.T) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: w.plural + "." + platformv1alpha1.GroupVersion.Group}, crd); err != nil {
				t.Fatalf("CRD not installed: %v", err)
			}
			if !established(crd) {
				t.Errorf("CRD %s is not Established: %+v", crd.Name, crd.Status.Conditions)
			}
			i := slices.IndexFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == w.plural })
			if i < 0 {
				t.Fatalf("%s is not served", w.plural)
			}
			r := resources.APIResources[i]
			if r.Kind != w.kind || r.Namespaced != w.namespaced {
				t.Errorf("served as kind %s namespaced=%v, want %s namespaced=%v", r.Kind, r.Namespaced, w.kind, w.namespaced)
			}
			if !slices.Equal(r.ShortNames, w.shortNames) {
				t.Errorf("short names %v, want %v", r.ShortNames, w.shortNames)
			}
			if w.noStatus {
				if slices.ContainsFunc(resources.APIResources, func(s metav1.APIResource) bool { return s.Name == w.plural+"/status" }) {
					t.Errorf("%s has a status subresource", w.plural)
				}
				return
			}
			if !slices.Contains(r.Categories, "kratix") {
				t.Errorf("categories %v lack kratix", r.Categories)
			}
			statusServed := slices.ContainsFunc(resources.APIResources, func(s metav1.APIResource) bool { return s.Name == w.plural+"/status" })
			if !statusServed {
				t.Errorf("%s has no status subresource", w.plural)
			}
		})
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
