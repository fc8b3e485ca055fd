package turns

import (
	"slices"
	"testing"
)

// TestLinesHandSlotsOverInTurn: those who find a line's slots taken wait, first come first
// served, and each released slot is handed to the first of them, which is woken; a slot handed
// to one who no longer needs it goes to the next, unless it was handed while that one's reconcile
// ran (the wake runs it again); one who leaves is skipped; another line's slots are its own.
func TestLinesHandSlotsOverInTurn(t *testing.T) {
	s := New[string](2)
	var woken []string
	s.SetWake(func(who string) { woken = append(woken, who) })
	take := func(line, who string) func() {
		t.Helper()
		release, ok := s.Take(line, who)
		if !ok {
			t.Fatalf("%s was refused a slot of %s", who, line)
		}
		return release
	}
	refused := func(line, who string) {
		t.Helper()
		if _, ok := s.Take(line, who); ok {
			t.Fatalf("%s was given a slot of %s while it should wait", who, line)
		}
	}
	wantWoken := func(names ...string) {
		t.Helper()
		if !slices.Equal(woken, names) {
			t.Fatalf("woken %v, want %v", woken, names)
		}
		woken = nil
	}

	releaseA := take("a", "a")
	releaseB := take("a", "b")
	refused("a", "c")
	refused("a", "d")
	refused("a", "c") // asking again keeps c's place
	releaseOther := take("other", "x")
	wantWoken()

	releaseA()
	releaseA() // once only
	wantWoken("c")
	refused("a", "e") // d and e wait behind c's handed slot
	releaseC := take("a", "c")
	refused("a", "d")

	releaseB()
	wantWoken("d")
	s.Forfeit("d", s.Since()) // d had nothing left to do: its slot goes to e
	wantWoken("e")
	refused("a", "d") // d asks again: at the end of the line
	releaseE := take("a", "e")

	// A reconcile of d starts, and is refused a slot; c's is handed to d while it runs: that
	// reconcile's end does not pass it on, for the wake runs d again to take it.
	mark := s.Since()
	refused("a", "d")
	refused("a", "f") // f waits behind d
	releaseC()
	wantWoken("d")
	s.Forfeit("d", mark)
	wantWoken()
	releaseD := take("a", "d")

	// g leaves the line (its Job ended): the slot goes past it to h; g, back, is behind h.
	refused("a", "g")
	refused("a", "h")
	s.Leave("g")
	refused("a", "g")
	releaseD()
	wantWoken("f")
	releaseF := take("a", "f")
	releaseF()
	wantWoken("h")
	releaseH := take("a", "h")
	releaseH()
	wantWoken("g")
	releaseG := take("a", "g")
	releaseG()
	releaseE()
	releaseOther()
	wantWoken()
	if n := s.Len(); n != 0 {
		t.Fatalf("%d lines left after every slot was released", n)
	}
}

// TestNilLinesHaveNoLimit: a nil *Lines gives every slot asked for.
func TestNilLinesHaveNoLimit(t *testing.T) {
	var s *Lines[int]
	for i := range 100 {
		release, ok := s.Take("a", i)
		if !ok {
			t.Fatalf("take %d refused", i)
		}
		defer release()
	}
	s.Forfeit(1, s.Since())
	s.Leave(1)
	s.SetWake(func(int) {})
	if s.Len() != 0 {
		t.Error("a nil Lines has lines")
	}
}

// BenchmarkLines: 10,000 wait in one line behind one slot, each asking twice, and are handed it
// in turn; asking is O(1) (a scan of the line on each ask was 100 million comparisons here).
func BenchmarkLines(b *testing.B) {
	for range b.N {
		s := New[int](1)
		var next []int
		s.SetWake(func(who int) { next = append(next, who) })
		release, _ := s.Take("a", -1)
		for i := range 10_000 {
			s.Take("a", i)
			s.Take("a", i)
		}
		release()
		for len(next) > 0 {
			who := next[0]
			next = next[1:]
			r, ok := s.Take("a", who)
			if !ok {
				b.Fatalf("%d was woken and refused", who)
			}
			r()
		}
		if s.Len() != 0 {
			b.Fatal("lines left")
		}
	}
}
