package writers

import (
	"context"
	"time"

	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/statestore"
)

// instrumented is a store's writer that records every write in the metrics package: its result
// and how long it took. The Registry hands out only instrumented writers.
type instrumented struct {
	statestore.Writer
	key Key
}

// instrument wraps a store's writer so that its writes are measured.
func instrument(key Key, w statestore.Writer) *instrumented {
	metrics.InitStore(key.Kind, key.Name)
	return &instrumented{Writer: w, key: key}
}

// Unwrap is the writer it instruments (statestore.ReportsDrift).
func (w *instrumented) Unwrap() statestore.Writer { return w.Writer }

// Apply implements statestore.Writer.
func (w *instrumented) Apply(ctx context.Context, change statestore.Change) (statestore.Result, error) {
	start := time.Now()
	res, err := w.Writer.Apply(ctx, change)
	metrics.ObserveWrite(w.key.Kind, w.key.Name, time.Since(start), res.Changed, err)
	return res, err
}
