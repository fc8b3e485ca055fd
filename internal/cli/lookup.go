package cli

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/promiseapi"
)

// request is a resource request with its Promise.
type request struct {
	promise *v1alpha1.Promise
	obj     *unstructured.Unstructured
	// namespaced: the Promise's API is namespaced.
	namespaced bool
}

// promiseAPI is a Promise and the kind of its requests.
type promiseAPI struct {
	promise    *v1alpha1.Promise
	gvk        schema.GroupVersionKind
	namespaced bool
}

// getPromiseAPI reads a Promise and the API it brings.
func (s *session) getPromiseAPI(ctx context.Context, promiseName string) (*promiseAPI, error) {
	promise := &v1alpha1.Promise{}
	if err := s.get(ctx, fmt.Sprintf("promise %q", promiseName), client.ObjectKey{Name: promiseName}, promise); err != nil {
		return nil, err
	}
	if !promiseapi.HasAPI(promise) {
		return nil, fmt.Errorf("promise %q has no API: it takes no requests", promiseName)
	}
	crd, err := promiseapi.CRD(promise)
	if err != nil {
		return nil, fmt.Errorf("promise %q: its API: %w", promiseName, err)
	}
	return &promiseAPI{promise: promise, gvk: promiseapi.GroupVersionKind(crd), namespaced: promiseapi.Namespaced(crd)}, nil
}

// getRequest reads the Promise and the request of its API, in the session's namespace when the
// API is namespaced.
func (s *session) getRequest(ctx context.Context, promiseName, name string) (*request, error) {
	api, err := s.getPromiseAPI(ctx, promiseName)
	if err != nil {
		return nil, err
	}
	r := &request{promise: api.promise, obj: &unstructured.Unstructured{}, namespaced: api.namespaced}
	r.obj.SetGroupVersionKind(api.gvk)
	key := client.ObjectKey{Name: name}
	if r.namespaced {
		key.Namespace = s.namespace
	}
	if err := s.get(ctx, fmt.Sprintf("%s %q of promise %q", api.gvk.Kind, name, promiseName), key, r.obj); err != nil {
		return nil, err
	}
	return r, nil
}

// works lists the Works the request's workflows wrote, as the engine finds them.
func (s *session) works(ctx context.Context, r *request) ([]v1alpha1.Work, error) {
	works, err := controllers.ResourceWorks(ctx, s.c, r.promise.Name, r.obj)
	if err != nil {
		return nil, apiError(s.server, err)
	}
	sort.Slice(works, func(i, j int) bool {
		return works[i].Namespace+"/"+works[i].Name < works[j].Namespace+"/"+works[j].Name
	})
	return works, nil
}

// placementsOfWorks lists the placements of the Works, as the engine finds them.
func (s *session) placementsOfWorks(ctx context.Context, works []v1alpha1.Work) ([]v1alpha1.WorkPlacement, error) {
	var out []v1alpha1.WorkPlacement
	for i := range works {
		wps, err := controllers.PlacementsOf(ctx, s.c, &works[i])
		if err != nil {
			return nil, apiError(s.server, err)
		}
		out = append(out, wps...)
	}
	sortPlacements(out)
	return out, nil
}

// getPlacement reads a WorkPlacement: in the namespace that -n or the context names, or, when
// neither does, in whichever namespace holds the one of that name (the engine's are in the
// platform namespace or the requests').
func (s *session) getPlacement(ctx context.Context, name string) (*v1alpha1.WorkPlacement, error) {
	what := fmt.Sprintf("workplacement %q", name)
	if s.explicitNS && !s.all {
		wp := &v1alpha1.WorkPlacement{}
		if err := s.get(ctx, what, client.ObjectKey{Namespace: s.namespace, Name: name}, wp); err != nil {
			return nil, err
		}
		return wp, nil
	}
	var list v1alpha1.WorkPlacementList
	if err := s.list(ctx, &list, client.MatchingFields{"metadata.name": name}); err != nil {
		return nil, err
	}
	switch len(list.Items) {
	case 0:
		return nil, fmt.Errorf("%s not found in any namespace", what)
	case 1:
		return &list.Items[0], nil
	}
	return nil, fmt.Errorf("%s is in %d namespaces: name one with -n", what, len(list.Items))
}

// getDestination reads a Destination.
func (s *session) getDestination(ctx context.Context, name string) (*v1alpha1.Destination, error) {
	d := &v1alpha1.Destination{}
	if err := s.get(ctx, fmt.Sprintf("destination %q", name), client.ObjectKey{Name: name}, d); err != nil {
		return nil, err
	}
	return d, nil
}

// placementsOnDestination lists the WorkPlacements of every namespace that target the
// Destination.
func (s *session) placementsOnDestination(ctx context.Context, name string) ([]v1alpha1.WorkPlacement, error) {
	var list v1alpha1.WorkPlacementList
	if err := s.list(ctx, &list, client.MatchingLabels{v1alpha1.LabelTargetDestination: names.LabelValue(name)}); err != nil {
		return nil, err
	}
	out := list.Items[:0]
	for _, wp := range list.Items {
		if wp.Spec.TargetDestinationName == name {
			out = append(out, wp)
		}
	}
	sortPlacements(out)
	return out, nil
}

func sortPlacements(wps []v1alpha1.WorkPlacement) {
	sort.Slice(wps, func(i, j int) bool {
		if wps[i].Spec.TargetDestinationName != wps[j].Spec.TargetDestinationName {
			return wps[i].Spec.TargetDestinationName < wps[j].Spec.TargetDestinationName
		}
		return wps[i].Namespace+"/"+wps[i].Name < wps[j].Namespace+"/"+wps[j].Name
	})
}
