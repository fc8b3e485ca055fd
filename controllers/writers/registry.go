package writers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/statestore"
)

// ErrNotReady matches the error of Get for a store without a validated writer.
var ErrNotReady = errors.New("state store not ready")

// NotReadyError says why a store has no writer to hand out. It matches ErrNotReady.
type NotReadyError struct {
	Key Key
	// Why is a short explanation, e.g. "its credentials have not been validated yet".
	Why string
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("%s %q is not ready: %s", e.Key.Kind, e.Key.Name, e.Why)
}

// Is makes errors.Is(err, ErrNotReady) true.
func (e *NotReadyError) Is(target error) bool { return target == ErrNotReady }

// Registry holds one writer per state store. It is safe for concurrent use.
type Registry struct {
	factory Factory
	log     logr.Logger

	mu      sync.Mutex
	entries map[Key]*entry
	subs    map[int]func(Notice)
	nextSub int
	closed  bool
	// closing tracks writers being closed in the background after they were replaced.
	closing sync.WaitGroup
}

type entry struct {
	writer      statestore.Writer
	fingerprint string
	ready       bool
}

// NewRegistry returns an empty registry that builds writers with factory.
func NewRegistry(factory Factory, log logr.Logger) *Registry {
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	return &Registry{factory: factory, log: log, entries: map[Key]*entry{}, subs: map[int]func(Notice){}}
}

// Get returns the validated writer of a store, or a *NotReadyError when the store has none: it
// was never validated, its last validation failed, or it does not exist.
func (r *Registry) Get(kind, name string) (statestore.Writer, error) {
	key := Key{Kind: kind, Name: name}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, &NotReadyError{Key: key, Why: "the engine is shutting down"}
	}
	e, ok := r.entries[key]
	switch {
	case !ok:
		return nil, &NotReadyError{Key: key, Why: "its credentials have not been validated yet"}
	case !e.ready:
		return nil, &NotReadyError{Key: key, Why: "its last validation failed"}
	}
	return e.writer, nil
}

// Ensure returns the writer for the store's current spec and Secret data: the one it holds when
// neither changed, else a new one from the factory, which replaces (and closes) the old. A new
// writer is not ready, so Get does not hand it out, until SetReady says so. built reports
// whether the factory was called.
func (r *Registry) Ensure(store client.Object, secret map[string][]byte) (w statestore.Writer, built bool, err error) {
	key, err := KeyOf(store)
	if err != nil {
		return nil, false, err
	}
	fp, err := fingerprint(store, secret)
	if err != nil {
		return nil, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false, statestore.NewError(statestore.ErrClosed, "build a writer for "+key.String(), nil)
	}
	old, ok := r.entries[key]
	if ok && old.fingerprint == fp {
		return old.writer, false, nil
	}
	w, err = r.factory.New(store, secret)
	if err != nil {
		// The old writer no longer matches the store: drop it rather than keep writing with
		// settings the user replaced.
		r.dropLocked(key)
		return nil, true, fmt.Errorf("build a writer for %s: %w", key, err)
	}
	if d, ok := w.(statestore.DriftReporter); ok {
		d.OnDrift(func(d statestore.Drift) { r.drifted(key, d) })
	}
	w = instrument(key, w)
	r.dropLocked(key)
	r.entries[key] = &entry{writer: w, fingerprint: fp}
	return w, true, nil
}

// drifted tells the subscribers that the store's content may differ from what the engine
// wrote (someone else changed it): the Destinations and placements on it write their files
// again.
func (r *Registry) drifted(key Key, d statestore.Drift) {
	r.mu.Lock()
	subs := r.subscribersLocked()
	closed := r.closed
	r.mu.Unlock()
	if !closed {
		notify(subs, Notice{Key: key, Drift: &d})
	}
}

// SetReady records whether w, the store's writer, passed validation. It does nothing when w is
// no longer the store's writer (a newer spec or Secret replaced it meanwhile). Subscribers hear
// of every change of readiness.
func (r *Registry) SetReady(key Key, w statestore.Writer, ready bool) {
	r.mu.Lock()
	e, ok := r.entries[key]
	changed := ok && !r.closed && e.writer == w && e.ready != ready
	if changed {
		e.ready = ready
	}
	subs := r.subscribersLocked()
	r.mu.Unlock()
	if changed {
		notify(subs, Notice{Key: key})
	}
}

// Remove closes and forgets the writer of a store, e.g. when the store is deleted, and its
// metrics.
func (r *Registry) Remove(key Key) {
	r.mu.Lock()
	e, ok := r.entries[key]
	wasReady := ok && e.ready
	r.dropLocked(key)
	subs := r.subscribersLocked()
	r.mu.Unlock()
	metrics.ForgetStore(key.Kind, key.Name)
	if wasReady {
		notify(subs, Notice{Key: key})
	}
}

// Notice is what a subscriber hears of a store.
type Notice struct {
	Key Key
	// Drift, when set, says that the store's writer found the store changed by someone else's
	// hand (statestore.DriftReporter), and where; nil when the writer's readiness changed.
	Drift *statestore.Drift
}

// Subscribe calls fn, outside the registry's lock, whenever a store's writer becomes ready or
// stops being ready, and when a writer reports that someone else changed its store. fn must not
// block. The returned function ends the subscription.
func (r *Registry) Subscribe(fn func(Notice)) (cancel func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextSub
	r.nextSub++
	r.subs[id] = fn
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, id)
	}
}

// Close closes every writer and waits for writers replaced earlier to finish closing. Later
// calls of Ensure fail and Get reports every store as not ready.
func (r *Registry) Close() error {
	r.mu.Lock()
	r.closed = true
	entries := r.entries
	r.entries = map[Key]*entry{}
	r.mu.Unlock()

	var errs []error
	for key, e := range entries {
		if err := e.writer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the writer of %s: %w", key, err))
		}
	}
	r.closing.Wait()
	return errors.Join(errs...)
}

// Start implements manager.Runnable: it closes the registry when the manager stops.
func (r *Registry) Start(ctx context.Context) error {
	<-ctx.Done()
	return r.Close()
}

// dropLocked forgets a store's writer and closes it in the background: closing waits for the
// writer's work in flight, which must not hold up the registry or the caller's reconcile.
func (r *Registry) dropLocked(key Key) {
	e, ok := r.entries[key]
	if !ok {
		return
	}
	delete(r.entries, key)
	r.closing.Go(func() {
		if err := e.writer.Close(); err != nil {
			// Nobody waits for this close to return its error to: the writer was replaced.
			r.log.Error(err, "close a replaced state-store writer", "stateStore", key.String())
		}
	})
}

func (r *Registry) subscribersLocked() []func(Notice) {
	subs := make([]func(Notice), 0, len(r.subs))
	for _, fn := range r.subs {
		subs = append(subs, fn)
	}
	return subs
}

func notify(subs []func(Notice), n Notice) {
	for _, fn := range subs {
		fn(n)
	}
}
