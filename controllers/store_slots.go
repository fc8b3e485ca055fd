package controllers

import (
	"context"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// storeSlots limits how many of a controller's workers write to one state store at once, so
// that a store whose server is slow or holds every push (someone who may create a store may run
// that server) cannot take every worker and stall the writes of every other store. A worker that
// finds its store's slots taken does not wait: its placement joins the store's line and the
// worker serves another. When a slot is released it is handed to the first placement in line,
// which is woken (wake) to take it: nothing polls, and placements are written in the order they
// came. The limit still lets a store's writes arrive together, for the writer's group commit.
type storeSlots struct {
	limit int
	mu    sync.Mutex
	lines map[string]*storeLine
	// handOvers counts the slots handed over; a reconcile notes the count when it starts
	// (since) and forfeits only what was handed to its placement before.
	handOvers uint64
	// wake brings a placement that was handed a slot back to a worker; set before the
	// controller's workers start, and called without mu held.
	wake func(types.NamespacedName)
}

// storeLine is one store's slots: how many are held (handed ones included), the placements
// waiting for one, first come first served, and those handed a slot they have not taken yet,
// with the count of hand-overs at which each was handed (storeSlots.handOvers).
type storeLine struct {
	inUse   int
	waiting []types.NamespacedName
	handed  map[types.NamespacedName]uint64
}

func newStoreSlots(limit int) *storeSlots {
	return &storeSlots{limit: max(1, limit), lines: map[string]*storeLine{}}
}

// tryAcquire takes a slot of the store for the placement: the one handed to it, or a free one
// when no placement is waiting. It reports false when the placement must wait; it is then in the
// store's line (once, however often it asks) and is woken when a slot is handed to it. release
// gives the slot back; call it once. A nil storeSlots has no limit.
func (s *storeSlots) tryAcquire(ctx context.Context, store string, who types.NamespacedName) (release func(), ok bool) {
	if s == nil || bypassesStoreSlots(ctx) {
		return func() {}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lines[store]
	if l == nil {
		l = &storeLine{handed: map[types.NamespacedName]uint64{}}
		s.lines[store] = l
	}
	_, handed := l.handed[who]
	switch {
	case handed:
		delete(l.handed, who)
	case len(l.waiting) == 0 && l.inUse < s.limit:
		l.inUse++
	default:
		if !slices.Contains(l.waiting, who) {
			l.waiting = append(l.waiting, who)
		}
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { s.release(store) }) }, true
}

// release frees a slot of the store: the first placement in line is handed it and woken, or
// the slot goes back to the pool.
func (s *storeSlots) release(store string) {
	s.mu.Lock()
	next, ok := s.handOver(store)
	wake := s.wake
	s.mu.Unlock()
	if ok && wake != nil {
		wake(next)
	}
}

// handOver gives a held slot of the store to the first placement in line, or frees it. s.mu is
// held.
func (s *storeSlots) handOver(store string) (types.NamespacedName, bool) {
	l := s.lines[store]
	if len(l.waiting) > 0 {
		next := l.waiting[0]
		l.waiting = l.waiting[1:]
		s.handOvers++
		l.handed[next] = s.handOvers
		return next, true
	}
	if l.inUse--; l.inUse == 0 && len(l.handed) == 0 {
		delete(s.lines, store)
	}
	return types.NamespacedName{}, false
}

// since is the mark that a reconcile notes when it starts, for forfeit.
func (s *storeSlots) since() uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handOvers
}

// forfeit passes on the slots handed to the placement before its reconcile started (since)
// that the reconcile did not take (the placement was deleted, or had nothing to write any
// more), so that no slot is lost; call it when each of its reconciles ends. A slot handed while
// the reconcile ran stays: the wake that came with it runs the placement again, and that
// reconcile takes it or passes it on. A reconcile whose writes bypass the slots (the
// placementRestorer's) forfeits nothing. A placement still waiting stays in line.
func (s *storeSlots) forfeit(ctx context.Context, who types.NamespacedName, since uint64) {
	if s == nil || bypassesStoreSlots(ctx) {
		return
	}
	var woken []types.NamespacedName
	s.mu.Lock()
	for store, l := range s.lines {
		if at, ok := l.handed[who]; !ok || at > since {
			continue
		}
		delete(l.handed, who)
		if next, ok := s.handOver(store); ok {
			woken = append(woken, next)
		}
	}
	wake := s.wake
	s.mu.Unlock()
	for _, next := range woken {
		if wake != nil {
			wake(next)
		}
	}
}

// setWake sets how a placement handed a slot is brought back to a worker.
func (s *storeSlots) setWake(wake func(types.NamespacedName)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wake = wake
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
