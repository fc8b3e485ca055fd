package controllers

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/statestore"
)

// placementFacts is what one reconcile of a WorkPlacement observed. Its conditions, its status
// fields and the result of the reconcile are pure functions of it.
type placementFacts struct {
	// destination is the target Destination's name.
	destination string
	// deleting: the placement is being deleted and its files are to be removed.
	deleting bool
	// misscheduled: the placement carries kratix.io/misscheduled=true; its files are frozen.
	misscheduled bool
	// destinationMissing: the target Destination does not exist.
	destinationMissing bool
	// notOwned says why the placement may not write in its owner's name from its namespace
	// (work_ownership.go); empty when it may.
	notOwned string
	// destinationOverlaps says why nothing is written for the Destination: its path overlaps
	// another's (destination_overlap.go); empty when its directory is its own.
	destinationOverlaps string
	// storeNotReady says why the Destination's state store cannot be written to; empty when it
	// can.
	storeNotReady string
	// storeWatchesDrift: the store's writer reports someone else's changes itself
	// (statestore.DriftReporter), so a written placement's resync is only a safety net.
	storeWatchesDrift bool
	// storeBusy: the workers' slots of the store were all taken (store_slots.go); nothing was
	// written and the placement comes back soon.
	storeBusy bool
	// invalidContent is why a workload's content could not be decoded.
	invalidContent error
	// claimed is why the files were not written: another placement is first to one of their
	// paths (statestore.ErrClaimed).
	claimed error
	// writeErr is why writing the files, or removing the directory, failed.
	writeErr error
	// written: the files were written (or found as they should be) in dir.
	written bool
	// dir is the placement's directory in the store, relative to the store's root.
	dir string
	// files is the number of files written.
	files int
	// result is the store's answer to the write.
	result statestore.Result
	// now is when the reconcile ran; it becomes lastWriteTime when the write changed the store.
	now metav1.Time
	// finalized: the finalizer was removed, the object is gone, and there is no status to write.
	finalized bool
}

// setPlacementStatus turns the facts into the placement's status: the conditions
// ScheduleSucceeded, WriteSucceeded and Ready, and after a write its versionID, path,
// lastWriteTime and observedGeneration.
func setPlacementStatus(status *v1alpha1.WorkPlacementStatus, generation int64, f placementFacts) {
	if f.written {
		if keepsVersion(status, generation, f) {
			// A resync found the files as this spec wrote them: their version is still the
			// commit that wrote them, whatever other placements committed since. Written
			// anew, the store's head would cost this placement and its request a status write
			// at every resync (at 3,000 requests, half a round's placement status writes).
			f.result.Version = status.VersionID
		}
		status.VersionID = f.result.Version
		status.Path = f.dir
		if f.result.Changed || status.LastWriteTime == nil {
			now := f.now
			status.LastWriteTime = &now
		}
		status.ObservedGeneration = generation
	}
	setPlacementScheduleCondition(status, generation, f)
	switch {
	case f.misscheduled && !f.deleting:
		// WriteSucceeded keeps the outcome of the last write: the files are still there.
		setPlacementReadyCondition(status, generation, f)
		return
	case storeWaitKeepsReady(status, generation, f):
		return
	}
	cond, reason, msg := placementWriteState(f)
	if reason == "" {
		return
	}
	conditions.Set(&status.Conditions, v1alpha1.ConditionWriteSucceeded, cond, reason, msg, generation)
	setPlacementReadyCondition(status, generation, f)
}

// keepsVersion reports whether a write that changed nothing found the files that this
// generation's write put in the same directory, at the version the status has.
func keepsVersion(status *v1alpha1.WorkPlacementStatus, generation int64, f placementFacts) bool {
	return !f.result.Changed && status.VersionID != "" && status.ObservedGeneration == generation && status.Path == f.dir
}

// setPlacementScheduleCondition sets ScheduleSucceeded: False while the placement is
// misscheduled or its Destination is missing, True otherwise.
func setPlacementScheduleCondition(status *v1alpha1.WorkPlacementStatus, generation int64, f placementFacts) {
	switch {
	case f.notOwned != "":
		conditions.Set(&status.Conditions, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonWorkNotOwned, f.notOwned, generation)
	case f.misscheduled:
		conditions.Set(&status.Conditions, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonMisscheduled,
			fmt.Sprintf("Destination %q no longer matches the workload's selectors", f.destination), generation)
	case f.destinationMissing:
		conditions.Set(&status.Conditions, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionFalse, v1alpha1.ReasonDestinationNotFound,
			fmt.Sprintf("Destination %q does not exist", f.destination), generation)
	default:
		conditions.Set(&status.Conditions, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionTrue, v1alpha1.ReasonScheduled,
			fmt.Sprintf("scheduled to Destination %q", f.destination), generation)
	}
}

// setPlacementReadyCondition sets Ready: True once the current spec is written, False with the
// reason that stops it otherwise.
func setPlacementReadyCondition(status *v1alpha1.WorkPlacementStatus, generation int64, f placementFacts) {
	if f.misscheduled {
		conditions.Set(&status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonMisscheduled,
			fmt.Sprintf("files are kept on %s and no longer updated", f.destination), generation)
		return
	}
	cond, reason, msg := placementWriteState(f)
	conditions.Set(&status.Conditions, v1alpha1.ConditionReady, cond, reason, msg, generation)
}

// storeWaitKeepsReady reports whether the conditions stay as they are while the store is not
// ready: that does not undo a write of the current spec, so a Ready placement does not flap when
// its store is validated again.
func storeWaitKeepsReady(status *v1alpha1.WorkPlacementStatus, generation int64, f placementFacts) bool {
	if f.storeNotReady == "" || f.deleting {
		return false
	}
	ready := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
	return ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == generation
}

// placementWriteState is the WriteSucceeded condition's status, reason and message for the
// facts; reason is empty when the reconcile observed nothing about writing.
func placementWriteState(f placementFacts) (metav1.ConditionStatus, string, string) {
	var afterwards string
	if f.deleting {
		afterwards = "; the placement's files are removed once the store can be written to"
	}
	switch {
	case f.notOwned != "":
		return metav1.ConditionFalse, v1alpha1.ReasonWorkNotOwned, f.notOwned
	case f.destinationMissing:
		return metav1.ConditionFalse, v1alpha1.ReasonDestinationNotFound,
			fmt.Sprintf("Destination %q does not exist: nothing is written until it is created", f.destination)
	case f.destinationOverlaps != "":
		return metav1.ConditionFalse, v1alpha1.ReasonPathOverlaps,
			fmt.Sprintf("Destination %q: %s", f.destination, f.destinationOverlaps)
	case f.storeNotReady != "":
		return metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady,
			fmt.Sprintf("the state store of Destination %q cannot be written to: %s%s", f.destination, f.storeNotReady, afterwards)
	case f.invalidContent != nil:
		return metav1.ConditionFalse, v1alpha1.ReasonInvalidWorkloadFormat,
			fmt.Sprintf("cannot decode the workloads: %v", f.invalidContent)
	case f.claimed != nil:
		return metav1.ConditionFalse, v1alpha1.ReasonFileClaimed,
			fmt.Sprintf("nothing is written to Destination %q: %v", f.destination, f.claimed)
	case f.writeErr != nil && errors.Is(f.writeErr, statestore.ErrInvalidPath):
		return metav1.ConditionFalse, v1alpha1.ReasonInvalidWorkloadPath,
			fmt.Sprintf("cannot write to Destination %q: %v", f.destination, f.writeErr)
	case f.writeErr != nil && f.deleting:
		return metav1.ConditionFalse, v1alpha1.ReasonWriteFailed,
			fmt.Sprintf("cannot remove the files in %q from Destination %q: %v%s", f.dir, f.destination, f.writeErr, afterwards)
	case f.writeErr != nil:
		return metav1.ConditionFalse, v1alpha1.ReasonWriteFailed,
			fmt.Sprintf("cannot write to Destination %q: %v", f.destination, f.writeErr)
	case f.written:
		return metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded,
			fmt.Sprintf("%d files written to %q at version %s", f.files, f.dir, f.result.Version)
	default:
		return "", "", ""
	}
}

// waitsForItsWrite reports whether a placement's status stays as it is while it waits for a
// slot of its busy store: it is woken when a slot is handed to it (storeSlots) and writes its
// status with the outcome of its write. Written now, a new spec's generation on
// ScheduleSucceeded alone would be a second status write for each placement of a busy store (a
// third of them at 1,000 requests). A new placement still says it is scheduled.
func waitsForItsWrite(status *v1alpha1.WorkPlacementStatus, f placementFacts) bool {
	return f.storeBusy && len(status.Conditions) > 0
}

// storeBusyRecheck is how soon a placement waiting in its store's line looks again, should a
// wake be lost: it is woken when a slot is handed to it (storeSlots), and asking again keeps its
// place in the line.
const storeBusyRecheck = time.Minute

// placementResult is the outcome of a reconcile for the facts. A written placement comes back
// after resync to correct drift in the store, or after watchedResync when the store's writer
// reports drift itself; a missing Destination or an unready store brings it back through the
// watches; a write that may pass later backs off; one that cannot stops until the placement or
// its Destination changes. A placement refused a claimed path comes back
// when the placement first to it changes or goes (claimantsOf), and after resync in case that
// event was missed.
func placementResult(f placementFacts, resync, watchedResync time.Duration) (ctrl.Result, error) {
	switch {
	case f.storeBusy:
		return ctrl.Result{RequeueAfter: storeBusyRecheck}, nil
	case f.finalized, f.notOwned != "", f.misscheduled && !f.deleting, f.destinationMissing, f.destinationOverlaps != "", f.storeNotReady != "":
		// The watches bring the placement back when that changes.
		return ctrl.Result{}, nil
	case f.claimed != nil:
		return ctrl.Result{RequeueAfter: resync}, nil
	case f.writeErr != nil, f.invalidContent != nil:
		_, _, msg := placementWriteState(f)
		return storeErrorResult(errors.Join(f.writeErr, f.invalidContent), msg)
	case f.written && !f.deleting:
		if f.storeWatchesDrift {
			resync = watchedResync
		}
		return ctrl.Result{RequeueAfter: resync}, nil
	default:
		return ctrl.Result{}, nil
	}
}
