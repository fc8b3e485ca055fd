package controllers

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// TestStoreSlotsLetTheRestorerPass: the placementRestorer's writes take no slot of a store
// whose slots are all taken, and its reconcile of a placement that was handed a slot passes
// nothing on; the worker's reconcile does. (The line itself: internal/turns.)
func TestStoreSlotsLetTheRestorerPass(t *testing.T) {
	ctx := context.Background()
	restorer := withoutStoreSlots(ctx)
	s := newStoreSlots(1)
	var woken []string
	s.SetWake(func(wp types.NamespacedName) { woken = append(woken, wp.Name) })
	wp := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }

	releaseA, ok := s.tryAcquire(ctx, "git/a", wp("a"))
	if !ok {
		t.Fatal("a was refused the free slot")
	}
	if _, ok := s.tryAcquire(ctx, "git/a", wp("b")); ok {
		t.Fatal("b was given a slot while a holds the only one")
	}
	if _, ok := s.tryAcquire(ctx, "git/a", wp("c")); ok {
		t.Fatal("c was given a slot while a holds the only one")
	}
	releaseR, ok := s.tryAcquire(restorer, "git/a", wp("r"))
	if !ok {
		t.Fatal("the restorer was refused: it takes no slot")
	}
	releaseR()
	if len(woken) != 0 {
		t.Fatalf("the restorer's release handed a slot on: woken %v", woken)
	}
	releaseA()
	s.forfeit(restorer, wp("b"), s.Since())
	if !slices.Equal(woken, []string{"b"}) {
		t.Fatalf("woken %v, want [b]: the restorer's reconcile of b passed b's slot on", woken)
	}
	s.forfeit(ctx, wp("b"), s.Since())
	if !slices.Equal(woken, []string{"b", "c"}) {
		t.Fatalf("woken %v, want [b c]: b's own reconcile, with nothing to write, passes its slot on", woken)
	}
}
