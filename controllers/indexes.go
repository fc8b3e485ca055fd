package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/scheduling"
)

// Field indexes of the manager's cache, so that a watch maps an event to exactly the objects it
// affects instead of listing them all.
const (
	// indexSecretRef indexes GitStateStores and BucketStateStores by "namespace/name" of their
	// Secret.
	indexSecretRef = "spec.secretRef"
	// indexStoreLocation indexes GitStateStores and BucketStateStores by where they write
	// (storeTarget.location): the overlap check of every placement's write finds the stores
	// that share a repository and branch, or a bucket, through it.
	indexStoreLocation = "spec.location"
	// indexStateStoreRef indexes Destinations by "Kind/name" of their state store.
	indexStateStoreRef = "spec.stateStoreRef"
	// indexTargetDestination indexes WorkPlacements by spec.targetDestinationName: the Work,
	// WorkPlacement and Destination controllers find a Destination's placements through it.
	indexTargetDestination = "spec.targetDestinationName"
	// indexPlacementWork indexes WorkPlacements by their kratix.io/work label (per namespace,
	// as every index of a namespaced kind).
	indexPlacementWork = "metadata.labels.work"
	// indexWorkSelectorLabels indexes Works by every "key=value" pair that one of their workload
	// groups selects on, and by anySelector for a group with an empty selector.
	indexWorkSelectorLabels = "spec.workloadGroups.selectorLabels"
	// anySelector is the index value of a workload group that selects nothing in particular.
	anySelector = "*"
)

// setupIndexes registers every field index with the manager's cache, before any controller
// that lists through one starts.
func setupIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	secretOf := func(ref *v1alpha1.SecretRef) []string {
		if ref == nil {
			return nil
		}
		return []string{secretKey(ref).String()}
	}
	if err := indexer.IndexField(ctx, &v1alpha1.GitStateStore{}, indexSecretRef, func(obj client.Object) []string {
		return secretOf(obj.(*v1alpha1.GitStateStore).Spec.SecretRef)
	}); err != nil {
		return fmt.Errorf("index GitStateStores by Secret: %w", err)
	}
	if err := indexer.IndexField(ctx, &v1alpha1.BucketStateStore{}, indexSecretRef, func(obj client.Object) []string {
		return secretOf(obj.(*v1alpha1.BucketStateStore).Spec.SecretRef)
	}); err != nil {
		return fmt.Errorf("index BucketStateStores by Secret: %w", err)
	}
	for _, store := range []client.Object{&v1alpha1.GitStateStore{}, &v1alpha1.BucketStateStore{}} {
		if err := indexer.IndexField(ctx, store, indexStoreLocation, func(obj client.Object) []string {
			return []string{targetOf(obj).location}
		}); err != nil {
			return fmt.Errorf("index %T by location: %w", store, err)
		}
	}
	if err := indexer.IndexField(ctx, &v1alpha1.Destination{}, indexStateStoreRef, func(obj client.Object) []string {
		ref := obj.(*v1alpha1.Destination).Spec.StateStoreRef
		return []string{stateStoreRefValue(ref.Kind, ref.Name)}
	}); err != nil {
		return fmt.Errorf("index Destinations by state store: %w", err)
	}
	if err := indexer.IndexField(ctx, &v1alpha1.WorkPlacement{}, indexTargetDestination, func(obj client.Object) []string {
		return []string{obj.(*v1alpha1.WorkPlacement).Spec.TargetDestinationName}
	}); err != nil {
		return fmt.Errorf("index WorkPlacements by Destination: %w", err)
	}
	if err := indexer.IndexField(ctx, &v1alpha1.WorkPlacement{}, indexPlacementWork, func(obj client.Object) []string {
		if work, ok := obj.GetLabels()[v1alpha1.LabelWork]; ok {
			return []string{work}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index WorkPlacements by Work: %w", err)
	}
	if err := indexer.IndexField(ctx, &v1alpha1.Work{}, indexWorkSelectorLabels, func(obj client.Object) []string {
		return workSelectorValues(obj.(*v1alpha1.Work))
	}); err != nil {
		return fmt.Errorf("index Works by selector labels: %w", err)
	}
	return nil
}

// stateStoreRefValue is the value of indexStateStoreRef for a store.
func stateStoreRefValue(kind, name string) string {
	return writers.Key{Kind: kind, Name: name}.String()
}

// workSelectorValues are the indexWorkSelectorLabels values of a Work: "key=value" for every pair
// its groups' resolved selectors hold, anySelector for a group with an empty selector.
func workSelectorValues(work *v1alpha1.Work) []string {
	set := map[string]struct{}{}
	for i := range work.Spec.WorkloadGroups {
		sel := scheduling.GroupSelector(&work.Spec.WorkloadGroups[i])
		if len(sel) == 0 {
			set[anySelector] = struct{}{}
		}
		for k, v := range sel {
			set[k+"="+v] = struct{}{}
		}
	}
	return slices.Sorted(maps.Keys(set))
}
