package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// spec.workflows.config.reconciliationInterval below one minute is refused by the API server;
// the Promise's interval is its annotation when valid, else its spec, else the global one.
func TestReconciliationInterval(t *testing.T) {
	p := examplePromise(t, "updates/promise-v1.yaml")
	p.Name = uniqueName("interval")
	p.Spec.Workflows.Config.ReconciliationInterval = &metav1.Duration{Duration: 30 * time.Second}
	err := env.Client.Create(t.Context(), p)
	if err == nil || !strings.Contains(err.Error(), "at least 1m") {
		t.Fatalf("a 30s reconciliationInterval: %v, want it refused", err)
	}
	p.Spec.Workflows.Config.ReconciliationInterval = &metav1.Duration{Duration: 5 * time.Minute}
	create(t, p)

	global := 10 * time.Hour
	if got := reconciliationInterval(p, global); got != 5*time.Minute {
		t.Errorf("from the spec: %s", got)
	}
	for value, want := range map[string]time.Duration{"2m": 2 * time.Minute, "30s": 5 * time.Minute, "soon": 5 * time.Minute} {
		p.Annotations = map[string]string{v1alpha1.AnnotationReconciliationInterval: value}
		if got := reconciliationInterval(p, global); got != want {
			t.Errorf("annotation %q: %s, want %s", value, got, want)
		}
	}
	p.Annotations, p.Spec.Workflows.Config.ReconciliationInterval = nil, nil
	if got := reconciliationInterval(p, global); got != global {
		t.Errorf("neither: %s, want the global %s", got, global)
	}
}
