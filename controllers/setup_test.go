package controllers

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestOptionsConcurrency(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want map[string]int
	}{
		{"nothing set: one at a time", Options{}, map[string]int{"work": 1}},
		{"default applies to unlisted controllers", Options{DefaultMaxConcurrentReconciles: 4}, map[string]int{"work": 4}},
		{"a listed controller wins", Options{DefaultMaxConcurrentReconciles: 4, MaxConcurrentReconciles: map[string]int{"workplacement": 16}},
			map[string]int{"workplacement": 16, "work": 4}},
		{"a zero entry falls back to the default", Options{DefaultMaxConcurrentReconciles: 2, MaxConcurrentReconciles: map[string]int{"work": 0}},
			map[string]int{"work": 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for controller, want := range tc.want {
				if got := tc.opts.Concurrency(controller); got != want {
					t.Errorf("Concurrency(%q) = %d, want %d", controller, got, want)
				}
			}
		})
	}
}

// The cache keeps a running Job's pod template, which the local job runner needs, and drops a
// finished one's; managedFields go from every object.
func TestCacheOptionsTransformJobs(t *testing.T) {
	var transform cache.TransformFunc
	for obj, by := range CacheOptions().ByObject {
		if _, ok := obj.(*batchv1.Job); ok {
			transform = by.Transform
		}
	}
	if transform == nil {
		t.Fatal("the cache has no transform for Jobs")
	}
	newJob := func(conds ...batchv1.JobCondition) *batchv1.Job {
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "j", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kratix"}}},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			}}},
			Status: batchv1.JobStatus{Conditions: conds},
		}
	}
	for _, tc := range []struct {
		name         string
		job          *batchv1.Job
		wantTemplate bool
	}{
		{"running", newJob(), true},
		{"complete", newJob(batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}), false},
		{"failed", newJob(batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := transform(tc.job)
			if err != nil {
				t.Fatal(err)
			}
			job := out.(*batchv1.Job)
			if got := len(job.Spec.Template.Spec.Containers) > 0; got != tc.wantTemplate {
				t.Errorf("pod template kept = %v, want %v", got, tc.wantTemplate)
			}
			if len(job.ManagedFields) != 0 {
				t.Errorf("managedFields kept: %v", job.ManagedFields)
			}
		})
	}
}
