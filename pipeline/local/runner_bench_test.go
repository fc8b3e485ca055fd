package local

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// BenchmarkRunnerTrivialJobs measures how many pipeline Jobs per minute the local runner completes
// for a trivial pipeline (`echo x > /kratix/output/a.yaml`), each Job a full run: reader, the
// user's container in its sandbox, work-writer and status-writer, against the API server. One op
// is one Job; the Jobs of an iteration are created at once, for distinct requests.
func BenchmarkRunnerTrivialJobs(b *testing.B) {
	ctx := context.Background()
	crd, err := env.InstallResourceCRD(ctx, "example.platform.io", "AppConfig", "appconfigs")
	if err != nil {
		b.Fatal(err)
	}
	startRunner(b, 0)
	api, err := json.Marshal(crd)
	if err != nil {
		b.Fatal(err)
	}
	promise := &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: "trivial"}, Spec: v1alpha1.PromiseSpec{
		API:       &runtime.RawExtension{Raw: api},
		Workflows: v1alpha1.Workflows{Resource: v1alpha1.WorkflowTriggers{Configure: []v1alpha1.Pipeline{shPipeline("echo", "echo x > /kratix/output/a.yaml")}}},
	}}
	var jobs []*batchv1.Job
	for i := range b.N {
		request := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.platform.io/v1", "kind": "AppConfig",
			"metadata": map[string]any{"name": fmt.Sprintf("bench-%d-%d", b.N, i), "namespace": "default"},
		}}
		if err := env.Client.Create(ctx, request); err != nil {
			b.Fatal(err)
		}
		job, err := pipeline.BuildJob(pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: promise, Object: request}, 0, 1, pipeline.Options{})
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, job)
	}
	b.ResetTimer()
	start := time.Now()
	for _, job := range jobs {
		if err := env.Client.Create(ctx, job); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for _, job := range jobs {
		for env.Client.Get(ctx, client.ObjectKeyFromObject(job), job) != nil || !finished(job) {
			if time.Now().After(deadline) {
				b.Fatalf("Job %s did not finish", job.Name)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if condition(job, batchv1.JobComplete) == nil {
			b.Fatalf("Job %s failed: %+v", job.Name, job.Status.Conditions)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Minutes(), "jobs/min")
}
