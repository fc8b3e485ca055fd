// Package turns hands out a limited number of slots per line, first come first served, without
// polling: one who finds a line's slots taken joins it and is woken when a released slot is
// handed to it. The local runner's Jobs wait in one line for its containers; WorkPlacements
// wait in one line per state store for its writes.
package turns

import "sync"

// Lines holds the lines, each with up to limit slots held at once. A nil *Lines has no limit.
// Its methods are safe for concurrent use.
type Lines[K comparable] struct {
	limit int
	mu    sync.Mutex
	lines map[string]*line[K]
	// handOvers counts the slots handed over; a reconcile notes the count when it starts
	// (Since) and forfeits only what was handed to it before (Forfeit).
	handOvers uint64
	// wake brings one who was handed a slot back to take it; called without mu held.
	wake func(K)
}

// line is one line's slots: how many are held (handed ones included), who waits for one in the
// order they came (queue, which may hold tickets of those who left; waiting says who is in line
// and with which ticket), and who was handed a slot and has not taken it yet, with the count of
// hand-overs at which it was handed.
type line[K comparable] struct {
	inUse   int
	queue   []ticket[K]
	waiting map[K]uint64
	tickets uint64
	handed  map[K]uint64
}

type ticket[K comparable] struct {
	who K
	n   uint64
}

// New returns lines of limit slots each (at least one).
func New[K comparable](limit int) *Lines[K] {
	return &Lines[K]{limit: max(1, limit), lines: map[string]*line[K]{}}
}

// SetWake sets how one who was handed a slot is brought back to take it (Take). It is called
// without the lines' lock held, and must not block for long.
func (s *Lines[K]) SetWake(wake func(K)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wake = wake
}

// Take takes a slot of the line for who: the one handed to it, or a free one when nobody waits.
// It reports false when who must wait: it is then in the line (once, however often it asks) and
// is woken when a slot is handed to it. Call release once, when the slot is no longer needed.
func (s *Lines[K]) Take(key string, who K) (release func(), ok bool) {
	if s == nil {
		return func() {}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lines[key]
	if l == nil {
		l = &line[K]{waiting: map[K]uint64{}, handed: map[K]uint64{}}
		s.lines[key] = l
	}
	_, handed := l.handed[who]
	switch {
	case handed:
		delete(l.handed, who)
	case len(l.waiting) == 0 && l.inUse < s.limit:
		l.inUse++
	default:
		if _, in := l.waiting[who]; !in {
			l.tickets++
			l.waiting[who] = l.tickets
			l.queue = append(l.queue, ticket[K]{who, l.tickets})
		}
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { s.release(key) }) }, true
}

// Leave takes who out of every line it waits in; a slot already handed to it stays (Forfeit).
func (s *Lines[K]) Leave(who K) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		delete(l.waiting, who)
	}
}

// Since is the mark that a reconcile notes when it starts, for Forfeit.
func (s *Lines[K]) Since() uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handOvers
}

// Forfeit passes on the slots handed to who before its reconcile started (since) that the
// reconcile did not take (it had nothing left to do), so that no slot is lost; call it when each
// of its reconciles ends. A slot handed while the reconcile ran stays: the wake that came with it
// runs who again, and that reconcile takes it or passes it on.
func (s *Lines[K]) Forfeit(who K, since uint64) {
	if s == nil {
		return
	}
	var woken []K
	s.mu.Lock()
	for key, l := range s.lines {
		if at, ok := l.handed[who]; !ok || at > since {
			continue
		}
		delete(l.handed, who)
		if next, ok := s.handOver(key); ok {
			woken = append(woken, next)
		}
	}
	wake := s.wake
	s.mu.Unlock()
	if wake != nil {
		for _, next := range woken {
			wake(next)
		}
	}
}

// Len is the number of lines that hold or wait for a slot.
func (s *Lines[K]) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// release frees a held slot of the line: the first in line is handed it and woken, or the slot
// goes back to the pool.
func (s *Lines[K]) release(key string) {
	s.mu.Lock()
	next, ok := s.handOver(key)
	wake := s.wake
	s.mu.Unlock()
	if ok && wake != nil {
		wake(next)
	}
}

// handOver gives a held slot of the line to the first in line, or frees it. s.mu is held.
func (s *Lines[K]) handOver(key string) (K, bool) {
	l := s.lines[key]
	for len(l.queue) > 0 {
		t := l.queue[0]
		l.queue[0] = ticket[K]{}
		l.queue = l.queue[1:]
		if l.waiting[t.who] != t.n {
			continue // it left the line, or left and came back behind
		}
		delete(l.waiting, t.who)
		s.handOvers++
		l.handed[t.who] = s.handOvers
		return t.who, true
	}
	if l.inUse--; l.inUse == 0 && len(l.handed) == 0 && len(l.waiting) == 0 {
		delete(s.lines, key)
	}
	var none K
	return none, false
}
