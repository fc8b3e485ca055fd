package statestore

import "testing"

// SetAggregatedBudget makes an aggregated file hold n bytes of workloads until the test ends, so
// that tests of its budget need not decode and parse tens of MiB.
func SetAggregatedBudget(t testing.TB, n int) {
	old := aggregatedBudget
	aggregatedBudget = n
	t.Cleanup(func() { aggregatedBudget = old })
}
