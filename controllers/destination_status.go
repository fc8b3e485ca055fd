package controllers

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
)

// destinationFacts is what one reconcile of a Destination observed. Its Ready condition and the
// result of the reconcile are pure functions of it.
type destinationFacts struct {
	// store names the state store, e.g. `GitStateStore "default"`.
	store string
	// path is the Destination's directory in the store.
	path string
	// deleting: the Destination is being deleted and its files are to be removed.
	deleting bool
	// storeMissing: the state store does not exist.
	storeMissing bool
	// storeNotReady says why the store cannot be written to; empty when it can.
	storeNotReady string
	// storePending: the store reports Ready but the engine has not validated it since it started;
	// its Destinations wait without changing their condition.
	storePending bool
	// overlaps says why nothing is written for the Destination: its path overlaps another's
	// (destination_overlap.go); empty when its directory is its own.
	overlaps string
	// placementsLeft is how many WorkPlacements of a Destination being deleted with cleanup all
	// have yet to remove their files.
	placementsLeft int
	// canariesDisabled: spec.initWorkloads.enabled is false.
	canariesDisabled bool
	// writeErr is why writing the canary files, or removing the directory, failed.
	writeErr error
	// canariesWritten: the canary files are in the store, written now or before;
	// canariesChanged: this reconcile put them there.
	canariesWritten, canariesChanged bool
	// now is the time of the reconcile.
	now metav1.Time
	// finalized: the finalizer was removed, the object is gone, and there is no status to write.
	finalized bool
}

// setDestinationStatus turns the facts into the status: the Ready condition and the time of the
// last canary write.
func setDestinationStatus(status *v1alpha1.DestinationStatus, generation int64, f destinationFacts) {
	setDestinationReadyCondition(status, generation, f)
	if f.canariesWritten && (f.canariesChanged || status.LastWriteTime == nil) {
		now := f.now
		status.LastWriteTime = &now
	}
}

// setDestinationReadyCondition turns the facts into the Ready condition. A pending store leaves
// an existing condition as it is, so that a restart of the engine does not flap Destinations.
func setDestinationReadyCondition(status *v1alpha1.DestinationStatus, generation int64, f destinationFacts) {
	if f.storePending && meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady) != nil {
		return
	}
	cond, reason, msg := destinationReadiness(f)
	conditions.Set(&status.Conditions, v1alpha1.ConditionReady, cond, reason, msg, generation)
}

// destinationReadiness is the Ready condition's status, reason and message for the facts.
func destinationReadiness(f destinationFacts) (metav1.ConditionStatus, string, string) {
	var afterwards string
	if f.deleting {
		afterwards = "; the Destination's files are removed once it can be written to (or set spec.cleanup to none to delete the Destination and leave them)"
	}
	switch {
	case f.overlaps != "":
		return metav1.ConditionFalse, v1alpha1.ReasonPathOverlaps, f.overlaps
	case f.placementsLeft > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonRemovingPlacements,
			fmt.Sprintf("waiting for %d WorkPlacements to remove their files before the Destination's directory is removed", f.placementsLeft)
	case f.storeMissing:
		return metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady,
			fmt.Sprintf("%s does not exist: create it or correct spec.stateStoreRef", f.store)
	case f.storePending:
		return metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady,
			fmt.Sprintf("waiting for the engine to validate %s", f.store)
	case f.storeNotReady != "":
		return metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady,
			fmt.Sprintf("%s is not ready: %s%s", f.store, f.storeNotReady, afterwards)
	case f.writeErr != nil && f.deleting:
		return metav1.ConditionFalse, v1alpha1.ReasonStateStoreWriteFailed,
			fmt.Sprintf("cannot remove the directory %q from %s: %v%s", f.path, f.store, f.writeErr, afterwards)
	case f.writeErr != nil:
		return metav1.ConditionFalse, v1alpha1.ReasonStateStoreWriteFailed,
			fmt.Sprintf("cannot write the canary files to %q in %s: %v", f.path, f.store, f.writeErr)
	case f.canariesDisabled:
		return metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady,
			fmt.Sprintf("%s is ready; no canary files are written (spec.initWorkloads.enabled is false)", f.store)
	default:
		return metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten,
			fmt.Sprintf("canary files written to %q in %s", f.path, f.store)
	}
}

// destinationResult is the outcome of a reconcile for the facts. A store that is missing or not
// ready brings the Destination back through the store watch and the writer registry; a write
// that may pass later backs off; one that cannot stops until the Destination or its store
// changes.
func destinationResult(f destinationFacts) (ctrl.Result, error) {
	switch {
	case f.writeErr == nil:
		return ctrl.Result{}, nil
	default:
		_, _, msg := destinationReadiness(f)
		return storeErrorResult(f.writeErr, msg)
	}
}
