package cli

import (
	"bytes"
	"os"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/scheduling"
)

// TestStatus shows a request whose second pipeline failed on the local job runner (which keeps
// the end of the log in the Job's Failed condition), with one placement written and one
// misscheduled. The objects are made as the engine makes them, without the engine, so that every
// time in the output is known.
func TestStatus(t *testing.T) {
	ctx := t.Context()
	base := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	data, err := os.ReadFile("testdata/promise-db.yaml")
	if err != nil {
		t.Fatal(err)
	}
	promise := &v1alpha1.Promise{}
	if err := yaml.UnmarshalStrict(data, promise); err != nil {
		t.Fatal(err)
	}
	create(t, promise)
	if _, err := env.InstallResourceCRD(ctx, "status.example.io", "Database", "databases"); err != nil {
		t.Fatal(err)
	}

	req := &unstructured.Unstructured{}
	req.SetAPIVersion("status.example.io/v1")
	req.SetKind("Database")
	req.SetNamespace("default")
	req.SetName("orders")
	create(t, req)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: base.Add(d)} }
	status := map[string]any{
		"message": "the Resource Configure workflow failed at pipeline migrate",
		"conditions": []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "ConfigureWorkflowFailed",
			Message: "the Resource Configure workflow failed at pipeline migrate", LastTransitionTime: *at(40 * time.Second)}},
		"kratix": map[string]any{"workflows": v1alpha1.WorkflowStatus{Action: v1alpha1.WorkflowActionConfigure, Pipelines: []v1alpha1.WorkflowPipelineStatus{
			{Name: "render", Phase: v1alpha1.WorkflowPhaseSucceeded, Run: 1, LastTransitionTime: at(20 * time.Second)},
			{Name: "migrate", Phase: v1alpha1.WorkflowPhaseFailed, Run: 1, LastTransitionTime: at(40 * time.Second)},
		}}},
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&map[string]any{"status": status})
	if err != nil {
		t.Fatal(err)
	}
	req.Object["status"] = raw["status"]
	if err := env.Client.Status().Update(ctx, req); err != nil {
		t.Fatal(err)
	}

	labels := func(p string) map[string]string {
		l := pipeline.RequestSelector("db", "default", "orders")
		l[v1alpha1.LabelWorkflowAction] = v1alpha1.WorkflowActionConfigure
		l[v1alpha1.LabelPipelineName] = p
		l[v1alpha1.LabelWorkflowRun] = "1"
		return l
	}
	succeeded := []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: *at(20 * time.Second)},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: *at(20 * time.Second)},
	}
	failure := "container \"migrate\": exited with status 3: applying 0002_orders.sql\nERROR: relation \"orders\" already exists"
	failed := []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: failure, LastTransitionTime: *at(40 * time.Second)},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: failure, LastTransitionTime: *at(40 * time.Second)},
	}
	createJob(t, "db-orders-render-1", labels("render"), batchv1.JobStatus{StartTime: at(0), CompletionTime: at(20 * time.Second), Succeeded: 1, Conditions: succeeded})
	createJob(t, "db-orders-migrate-1", labels("migrate"), batchv1.JobStatus{StartTime: at(25 * time.Second), Failed: 1, Conditions: failed})

	work := &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Name: "db-orders-render", Namespace: "default", Labels: map[string]string{
		v1alpha1.LabelPromiseName: "db", v1alpha1.LabelWorkType: v1alpha1.WorkTypeResource, v1alpha1.LabelResourceName: "orders",
		v1alpha1.LabelResourceNamespace: "default", v1alpha1.LabelPipelineName: "render"}}}
	work.Spec = v1alpha1.WorkSpec{PromiseName: "db", ResourceName: "orders", ResourceNamespace: "default", PipelineName: "render"}
	create(t, work)
	work.Status = v1alpha1.WorkStatus{WorkPlacements: 2, WorkPlacementsCreated: 2, Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "AllPlacementsReady", Message: "2 of 2 placements ready", LastTransitionTime: *at(22 * time.Second)}}}
	if err := env.Client.Status().Update(ctx, work); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		dest, reason string
		ready        metav1.ConditionStatus
		misscheduled bool
	}{{"dev-9", v1alpha1.ReasonWriteSucceeded, metav1.ConditionTrue, false}, {"old-9", "Misscheduled", metav1.ConditionFalse, true}} {
		wp := &v1alpha1.WorkPlacement{ObjectMeta: metav1.ObjectMeta{Name: work.Name + "." + p.dest, Namespace: "default",
			Labels: map[string]string{v1alpha1.LabelWork: work.Name, v1alpha1.LabelTargetDestination: p.dest, v1alpha1.LabelPromiseName: "db"}}}
		if p.misscheduled {
			wp.Labels[v1alpha1.LabelMisscheduled] = "true"
		}
		wp.Spec = v1alpha1.WorkPlacementSpec{TargetDestinationName: p.dest, PromiseName: "db", ResourceName: "orders", ResourceNamespace: "default",
			PipelineName: "render", ID: scheduling.GroupID(".")}
		create(t, wp)
		wp.Status = v1alpha1.WorkPlacementStatus{VersionID: "0123456789abcdef0123456789abcdef01234567", Path: p.dest + "/resources/default/db/orders/render/5058f",
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: p.ready, Reason: p.reason, Message: "-", LastTransitionTime: *at(22 * time.Second)}}}
		if err := env.Client.Status().Update(ctx, wp); err != nil {
			t.Fatal(err)
		}
	}

	fs, f := newFlagSet("status", os.Stderr, false)
	if err := parse(fs, f, []string{"--kubeconfig", env.Kubeconfig(), "-n", "default"}); err != nil {
		t.Fatal(err)
	}
	s, err := f.connect()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.status(ctx, target{kind: targetRequest, promise: "db", name: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	for name, output := range map[string]string{"status": outputTable, "status-wide": outputWide} {
		var out bytes.Buffer
		if err := printStatus(&out, output, rep, base.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		golden(t, name, out.String())
	}
	golden(t, "status-json", mustKratix(t, "status", "db/orders", "-n", "default", "-o", "json"))

	// The Promise's requests: orders, and a new one in another namespace, not yet run (an
	// existing namespace: envtest has no controller that would finish deleting a new one).
	other := &unstructured.Unstructured{}
	other.SetGroupVersionKind(req.GroupVersionKind())
	other.SetNamespace("kube-public")
	other.SetName("invoices")
	create(t, other)
	for name, args := range map[string][]string{
		"status-promise":             {"-n", "default"},
		"status-promise-all":         {"-A"},
		"status-promise-all-wide":    {"-A", "-o", "wide"},
		"status-promise-other-empty": {"-n", "kube-system"},
	} {
		fs, f := newFlagSet("status", os.Stderr, true)
		if err := parse(fs, f, append([]string{"--kubeconfig", env.Kubeconfig()}, args...)); err != nil {
			t.Fatal(err)
		}
		s, err := f.connect()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.promiseStatus(ctx, "db")
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			rows[i].Created = metav1.Time{Time: base}
		}
		var out bytes.Buffer
		if err := printPromiseStatus(&out, f.output, f.allNamespaces, rows, base.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		golden(t, name, out.String())
	}
	if _, _, err := kratix(t, "status", "db/orders", "-A"); !IsUsageError(err) {
		t.Errorf("status <promise>/<request> -A: got %v, want a usage error", err)
	}
}

// createJob creates a pipeline Job with the labels and status given.
func createJob(t *testing.T, name string, labels map[string]string, status batchv1.JobStatus) {
	t.Helper()
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels}}
	job.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}
	create(t, job)
	job.Status = status
	if err := env.Client.Status().Update(t.Context(), job); err != nil {
		t.Fatal(err)
	}
}
