package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/metrics/metricstest"
)

// TestMetricsFollowPrometheusConventions lints every kratix_ metric as served, and checks that
// each has a help text and only the labels it documents.
func TestMetricsFollowPrometheusConventions(t *testing.T) {
	metrics.InitStore("GitStateStore", "lint")
	metrics.ObserveCommit("GitStateStore", "lint", 1)
	t.Cleanup(func() { metrics.ForgetStore("GitStateStore", "lint") })

	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		metrics.StateStoreWritesName:        {"kind", "result", "store"},
		metrics.StateStoreWriteDurationName: {"kind", "store"},
		metrics.CommitBatchSizeName:         {"kind", "store"},
		metrics.PipelineRunsName:            {"action", "result", "type"},
		metrics.SchedulingOutcomesName:      {"outcome"},
	}
	var ours []*dto.MetricFamily
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "kratix_") {
			continue
		}
		ours = append(ours, f)
		labels, ok := want[f.GetName()]
		if !ok {
			t.Errorf("metric %s is not known to this test", f.GetName())
			continue
		}
		delete(want, f.GetName())
		if len(f.GetHelp()) < 40 {
			t.Errorf("%s: help %q says too little", f.GetName(), f.GetHelp())
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			if strings.Join(got, ",") != strings.Join(labels, ",") {
				t.Errorf("%s has labels %v, want %v", f.GetName(), got, labels)
			}
		}
	}
	for name := range want {
		t.Errorf("metric %s is not served", name)
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestObserveWriteCountsByResult(t *testing.T) {
	store := map[string]string{"kind": "BucketStateStore", "store": "observe-write"}
	with := func(result string) map[string]string {
		return map[string]string{"kind": store["kind"], "store": store["store"], "result": result}
	}
	t.Cleanup(func() { metrics.ForgetStore(store["kind"], store["store"]) })

	metrics.InitStore(store["kind"], store["store"])
	for _, r := range []string{metrics.WriteSuccess, metrics.WriteUnchanged, metrics.WriteFailure} {
		if got := metricstest.Read(t, metrics.StateStoreWritesName, with(r)); got.Value != 0 {
			t.Errorf("a new store's %s writes read %v", r, got.Value)
		}
	}
	metrics.ObserveWrite(store["kind"], store["store"], 10*time.Millisecond, true, nil)
	metrics.ObserveWrite(store["kind"], store["store"], 20*time.Millisecond, true, nil)
	metrics.ObserveWrite(store["kind"], store["store"], 30*time.Millisecond, false, nil)
	// A failed write counts as a failure whatever its result says.
	metrics.ObserveWrite(store["kind"], store["store"], 40*time.Millisecond, true, errors.New("push refused"))

	for r, want := range map[string]float64{metrics.WriteSuccess: 2, metrics.WriteUnchanged: 1, metrics.WriteFailure: 1} {
		if got := metricstest.Read(t, metrics.StateStoreWritesName, with(r)); got.Value != want {
			t.Errorf("%s writes: %v, want %v", r, got.Value, want)
		}
	}
	d := metricstest.Read(t, metrics.StateStoreWriteDurationName, store)
	if d.Count != 4 || d.Sum < 0.099 || d.Sum > 0.101 {
		t.Errorf("durations: %d samples summing to %vs, want 4 summing to 0.1s", d.Count, d.Sum)
	}

	metrics.ForgetStore(store["kind"], store["store"])
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "store" && l.GetValue() == store["store"] {
					t.Errorf("%s still has a series of the forgotten store", f.GetName())
				}
			}
		}
	}
}

func TestObservePipelineRunKeepsLabelsBounded(t *testing.T) {
	labels := map[string]string{"type": "resource", "action": "delete", "result": metrics.PipelineFailed}
	before := metricstest.Read(t, metrics.PipelineRunsName, labels).Value
	all := metricstest.Read(t, metrics.PipelineRunsName, nil).Value

	metrics.ObservePipelineRun("resource", "delete", false)
	metrics.ObservePipelineRun("resource", "frobnicate", false)
	metrics.ObservePipelineRun("my-promise", "delete", true)

	if got := metricstest.Read(t, metrics.PipelineRunsName, labels).Value - before; got != 1 {
		t.Errorf("resource delete failures went up by %v, want 1", got)
	}
	if got := metricstest.Read(t, metrics.PipelineRunsName, nil).Value - all; got != 1 {
		t.Errorf("runs went up by %v in all, want 1: unknown labels were counted", got)
	}
}
