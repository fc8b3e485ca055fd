package local

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"kratix.dev/kratix/internal/testenv"
)

// BenchmarkRunnerTrivialJobs measures how many pipeline Jobs per minute the local runner completes
// for a trivial pipeline (`echo x > /kratix/output/a.yaml`), each Job a full run: reader, the
// user's container in its sandbox, work-writer and status-writer, against the API server. One op
// is one Job; the Jobs of an iteration are created at once, for distinct requests.
func BenchmarkRunnerTrivialJobs(b *testing.B) {
	ctx := context.Background()
	api := appConfigAPI(b, ctx)
	startRunner(b, 0)
	var jobs []*batchv1.Job
	for range b.N {
		jobs = append(jobs, requestJob(b, ctx, api, "trivial", "bench-", shPipeline("echo", "echo x > /kratix/output/a.yaml")))
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
		testenv.Eventually(b, "Job "+job.Name+" finishes", time.Until(deadline), 20*time.Millisecond, func() error {
			return jobDone(ctx, job, finished)
		})
		if condition(job, batchv1.JobComplete) == nil {
			b.Fatalf("Job %s failed: %+v", job.Name, job.Status.Conditions)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Minutes(), "jobs/min")
}
