package gitserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// stopTimeout bounds how long Stop waits for in-flight requests before it closes their
// connections, and for a running git gc.
const stopTimeout = 30 * time.Second

// lifecycle is what the HTTP and SSH servers share of starting, stopping, restarting and
// closing: one address kept across restarts, a mutex that serialises Stop, Restart and Close,
// waiting for git gc on Stop and removing the store on Close. What serves a listener, and how
// that ends, is the server's own.
type lifecycle struct {
	kind  string // "HTTP" or "SSH", for error messages
	store *store
	// start serves ln in the background and returns what ends that: it stops serving and waits
	// for everything it started. It is called with mu held, or while the server is not yet
	// shared.
	start func(ln net.Listener) (stop func() error)
	addr  string // 127.0.0.1:port, kept across restarts

	mu     sync.Mutex   // serialises Stop, Restart and Close
	stop   func() error // ends the current listening period; nil while stopped
	closed bool
}

// serve listens on addr and starts serving. The caller holds mu, or owns the server alone.
func (l *lifecycle) serve(addr string) error {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if addr != l.addr {
		l.addr = ln.Addr().String() // first start; a restart reuses the address, so readers race with nothing
	}
	l.stop = l.start(ln)
	return nil
}

// Stop ends the current listening period, if any, and waits for git gc.
func (l *lifecycle) Stop() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopLocked()
}

func (l *lifecycle) stopLocked() error {
	if l.stop == nil {
		return nil
	}
	stop := l.stop
	l.stop = nil
	err := stop()
	l.store.gc.wait(stopTimeout)
	return err
}

// Restart serves again on the same address after Stop.
func (l *lifecycle) Restart() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("restart the git %s server: it is closed", l.kind)
	}
	if l.stop != nil {
		return fmt.Errorf("restart the git %s server: it is running", l.kind)
	}
	return l.serve(l.addr)
}

// Close stops the server and removes the store's temporary directory.
func (l *lifecycle) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return errors.Join(l.stopLocked(), l.store.remove())
}

// startForTest starts a server and closes it when the test ends; it fails the test if the server
// cannot start. kind names the server in the failures; a nil *log becomes the test's log.
func startForTest[S interface{ Close() error }](t TB, kind string, log *io.Writer, start func() (S, error)) S {
	t.Helper()
	if *log == nil {
		*log = testLogWriter{t}
	}
	s, err := start()
	if err != nil {
		t.Fatalf("start the git %s server: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close the git %s server: %v", kind, err)
		}
	})
	return s
}
