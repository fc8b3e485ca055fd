package controllers

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// TestStoreSlotsHandSlotsOverInTurn: placements that find their store's slots taken wait in
// line, first come first served, and each released slot is handed to the first of them, which
// is woken; a slot handed to a placement that no longer needs it goes to the next, unless it
// was handed while the placement's reconcile ran (the wake runs it again) or that reconcile was
// the restorer's; another store's slots are its own.
func TestStoreSlotsHandSlotsOverInTurn(t *testing.T) {
	ctx := context.Background()
	s := newStoreSlots(2)
	var woken []string
	s.setWake(func(wp types.NamespacedName) { woken = append(woken, wp.Name) })
	wp := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }
	take := func(store, name string) func() {
		t.Helper()
		release, ok := s.tryAcquire(ctx, store, wp(name))
		if !ok {
			t.Fatalf("%s was refused a slot of %s", name, store)
		}
		return release
	}
	refused := func(store, name string) {
		t.Helper()
		if _, ok := s.tryAcquire(ctx, store, wp(name)); ok {
			t.Fatalf("%s was given a slot of %s while it should wait", name, store)
		}
	}
	wantWoken := func(names ...string) {
		t.Helper()
		if !slices.Equal(woken, names) {
			t.Fatalf("woken %v, want %v", woken, names)
		}
		woken = nil
	}

	releaseA := take("git/a", "a")
	releaseB := take("git/a", "b")
	refused("git/a", "c")
	refused("git/a", "d")
	refused("git/a", "c") // asking again keeps c's place
	releaseOther := take("git/other", "x")
	wantWoken()

	releaseA()
	releaseA() // once only
	wantWoken("c")
	refused("git/a", "e") // d and e wait behind c's handed slot
	releaseC := take("git/a", "c")
	refused("git/a", "d")

	releaseB()
	wantWoken("d")
	s.forfeit(withoutStoreSlots(ctx), wp("d"), s.since()) // the restorer's reconcile of d: nothing forfeited
	wantWoken()
	s.forfeit(ctx, wp("d"), s.since()) // d had nothing left to write: its slot goes to e
	wantWoken("e")
	refused("git/a", "d") // d asks again: at the end of the line
	releaseE := take("git/a", "e")

	// A reconcile of d starts, and is refused a slot; c's is handed to d while it runs: that
	// reconcile's end does not pass it on, for the wake runs d again to take it.
	mark := s.since()
	refused("git/a", "d")
	refused("git/a", "f") // f waits behind d
	releaseC()
	wantWoken("d")
	s.forfeit(ctx, wp("d"), mark)
	wantWoken()
	releaseD := take("git/a", "d")
	releaseD()
	wantWoken("f")
	releaseF := take("git/a", "f")
	releaseF()
	releaseE()
	releaseOther()
	wantWoken()
	if len(s.lines) != 0 {
		t.Fatalf("lines left after every slot was released: %+v", s.lines)
	}
}
