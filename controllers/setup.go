package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
)

// Options tune the controllers.
type Options struct {
	// MaxConcurrentReconciles by controller name; Default applies to the controllers not listed.
	MaxConcurrentReconciles map[string]int
	// DefaultMaxConcurrentReconciles applies to every controller not in MaxConcurrentReconciles.
	DefaultMaxConcurrentReconciles int
}

// Concurrency returns the number of concurrent reconciles for the named controller.
func (o Options) Concurrency(controller string) int {
	if n, ok := o.MaxConcurrentReconciles[controller]; ok && n > 0 {
		return n
	}
	if o.DefaultMaxConcurrentReconciles > 0 {
		return o.DefaultMaxConcurrentReconciles
	}
	return 1
}

// SetupWithManager registers every controller of the engine with mgr. None exist yet: the
// placement, Promise and resource controllers land with their issues.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return nil
}
