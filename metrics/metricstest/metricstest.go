// Package metricstest reads metrics back from controller-runtime's registry, as a scrape would,
// for tests. Tests of one process share the registry: compare readings before and after.
package metricstest

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Reading is the sum over the series of one metric that carry the labels asked for.
type Reading struct {
	// Value of a counter or gauge.
	Value float64
	// Count and Sum of a histogram's samples.
	Count uint64
	Sum   float64
}

// Read gathers the registry and sums the series of the metric name whose labels include labels.
// A metric or series that does not exist reads as zero.
func Read(t testing.TB, name string, labels map[string]string) Reading {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var r Reading
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			r.Value += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			r.Count += m.GetHistogram().GetSampleCount()
			r.Sum += m.GetHistogram().GetSampleSum()
		}
	}
	return r
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(want)
}
