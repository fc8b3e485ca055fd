package controllers

import (
	"context"
	"sync"
)

// storeSlots limits how many of a controller's workers write to one state store at once, so
// that a store whose server is slow or holds every push (someone who may create a store may run
// that server) cannot take every worker and stall the writes of every other store. A worker that
// finds its store's slots taken does not wait: it puts its item back for later and serves
// another. The limit still lets a store's writes arrive together, for the writer's group
// commit.
type storeSlots struct {
	limit int
	mu    sync.Mutex
	inUse map[string]int
}

func newStoreSlots(limit int) *storeSlots {
	return &storeSlots{limit: max(1, limit), inUse: map[string]int{}}
}

// tryAcquire takes a slot of the store, and reports false when all are taken. release gives it
// back; call it once. A nil storeSlots has no limit.
func (s *storeSlots) tryAcquire(ctx context.Context, store string) (release func(), ok bool) {
	if s == nil || bypassesStoreSlots(ctx) {
		return func() {}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse[store] >= s.limit {
		return nil, false
	}
	s.inUse[store]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.inUse[store]--; s.inUse[store] == 0 {
				delete(s.inUse, store)
			}
		})
	}, true
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
