package controllers

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
)

// Field indexes of the manager's cache, so that a watch maps an event to exactly the objects it
// affects instead of listing them all.
const (
	// indexSecretRef indexes GitStateStores and BucketStateStores by "namespace/name" of their
	// Secret.
	indexSecretRef = "spec.secretRef"
	// indexStateStoreRef indexes Destinations by "Kind/name" of their state store.
	indexStateStoreRef = "spec.stateStoreRef"
)

// setupIndexes registers the field indexes with the manager's cache.
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
	if err := indexer.IndexField(ctx, &v1alpha1.Destination{}, indexStateStoreRef, func(obj client.Object) []string {
		ref := obj.(*v1alpha1.Destination).Spec.StateStoreRef
		return []string{stateStoreRefValue(ref.Kind, ref.Name)}
	}); err != nil {
		return fmt.Errorf("index Destinations by state store: %w", err)
	}
	return nil
}

// stateStoreRefValue is the value of indexStateStoreRef for a store.
func stateStoreRefValue(kind, name string) string {
	return writers.Key{Kind: kind, Name: name}.String()
}
