package keyedmutex

import (
	"sync"
	"sync/atomic"
	"testing"
)

// One key is held by one goroutine at a time; other keys do not wait for it; and no lock is kept
// for a key once nobody holds or waits for it.
func TestMutex(t *testing.T) {
	var m Mutex
	var inside [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % 2
			unlock := m.Lock([]string{"a", "b"}[k])
			if n := inside[k].Add(1); n != 1 {
				t.Errorf("%d goroutines hold key %d at once", n, k)
			}
			inside[k].Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if n := m.Len(); n != 0 {
		t.Errorf("%d locks kept after every holder unlocked", n)
	}

	unlockA := m.Lock("a")
	done := make(chan struct{})
	go func() {
		m.Lock("b")()
		close(done)
	}()
	<-done // would hang if b waited for a
	unlockA()
	if n := m.Len(); n != 0 {
		t.Errorf("%d locks kept", n)
	}
}
