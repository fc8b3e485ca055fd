package controllers

import (
	"context"

	"kratix.dev/kratix/api/v1alpha1"
)

// hasRolloutPolicy reports whether the Promise asks for its spec changes to roll out in batches.
func hasRolloutPolicy(p *v1alpha1.Promise) bool {
	_, ok := p.Annotations[v1alpha1.AnnotationRolloutBatchSize]
	return ok
}

// rollOut moves the rollout of the Promise's spec through its requests.
func (r *PromiseReconciler) rollOut(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	return nil
}
