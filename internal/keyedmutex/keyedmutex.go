// Package keyedmutex serializes work per key (a Destination, a store directory) with one lock
// per key that is in use, freed when its last holder and waiter are done, so that a long-running
// process does not keep a lock for every key it ever saw.
package keyedmutex

import "sync"

// Mutex is a set of locks, one per key. The zero value is ready to use.
type Mutex struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	sync.Mutex
	// refs counts the holder and the waiters of the lock; the entry goes when it drops to 0.
	refs int
}

// Lock locks key, waiting while another holds it, and returns the function that unlocks it.
func (m *Mutex) Lock(key string) (unlock func()) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]*entry{}
	}
	e := m.locks[key]
	if e == nil {
		e = &entry{}
		m.locks[key] = e
	}
	e.refs++
	m.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		m.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}
}

// Len is how many keys have a lock now: those held or waited for.
func (m *Mutex) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.locks)
}
