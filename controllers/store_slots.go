package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	"kratix.dev/kratix/internal/turns"
)

// storeSlots limits how many of a controller's workers write to one state store at once, so
// that a store whose server is slow or holds every push (someone who may create a store may run
// that server) cannot take every worker and stall the writes of every other store. A worker that
// finds its store's slots taken does not wait: its placement joins the store's line (turns) and
// the worker serves another; the placement is woken when a released slot is handed to it, so
// nothing polls and placements are written in the order they came. The limit still lets a
// store's writes arrive together, for the writer's group commit. The placementRestorer's writes
// (withoutStoreSlots) take no slot and forfeit none.
type storeSlots struct {
	*turns.Lines[types.NamespacedName]
}

func newStoreSlots(limit int) storeSlots {
	return storeSlots{turns.New[types.NamespacedName](limit)}
}

// tryAcquire takes a slot of the store for the placement (turns.Lines.Take).
func (s storeSlots) tryAcquire(ctx context.Context, store string, who types.NamespacedName) (release func(), ok bool) {
	if bypassesStoreSlots(ctx) {
		return func() {}, true
	}
	return s.Take(store, who)
}

// forfeit passes on the slots handed to the placement before its reconcile started (since) that
// the reconcile did not take (turns.Lines.Forfeit); a reconcile of the restorer's forfeits
// nothing.
func (s storeSlots) forfeit(ctx context.Context, who types.NamespacedName, since uint64) {
	if !bypassesStoreSlots(ctx) {
		s.Forfeit(who, since)
	}
}

type bypassStoreSlotsKey struct{}

// withoutStoreSlots marks a context whose writes are not the workers' (the placementRestorer's,
// which writes every touched placement of a store at once so that they make one commit).
func withoutStoreSlots(ctx context.Context) context.Context {
	return context.WithValue(ctx, bypassStoreSlotsKey{}, true)
}

func bypassesStoreSlots(ctx context.Context) bool {
	v, _ := ctx.Value(bypassStoreSlotsKey{}).(bool)
	return v
}
