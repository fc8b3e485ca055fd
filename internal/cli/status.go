package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// logTailLines is how much of a failed container's log status shows.
const logTailLines = 10

// statusReport is everything `kratix status` shows about a request.
type statusReport struct {
	Promise   string `json:"promise"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Ready is the request's Ready condition: True, False or Unknown.
	Ready    string                   `json:"ready"`
	Reason   string                   `json:"reason,omitempty"`
	Message  string                   `json:"message,omitempty"`
	Workflow *v1alpha1.WorkflowStatus `json:"workflow,omitempty"`
	Jobs     []jobReport              `json:"jobs"`
	Works    []workReport             `json:"works"`
	// Placements are the WorkPlacements of the Works: where each landed.
	Placements []placementReport `json:"placements"`
	Warnings   []string          `json:"warnings"`
}

type jobReport struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
	Pipeline  string     `json:"pipeline"`
	Action    string     `json:"action"`
	Run       string     `json:"run,omitempty"`
	Started   *time.Time `json:"started,omitempty"`
	Duration  string     `json:"duration,omitempty"`
	// Result is Running, Succeeded or Failed.
	Result  string `json:"result"`
	Message string `json:"message,omitempty"`
	// LogTail is the end of the failed container's log, when a Pod or the runner kept it.
	LogTail string `json:"logTail,omitempty"`
}

type workReport struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Pipeline   string `json:"pipeline"`
	Ready      string `json:"ready"`
	Message    string `json:"message,omitempty"`
	Placements int    `json:"placements"`
}

type placementReport struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	Destination  string `json:"destination"`
	Status       string `json:"status"`
	Message      string `json:"message,omitempty"`
	Misscheduled bool   `json:"misscheduled,omitempty"`
	Version      string `json:"version,omitempty"`
	Path         string `json:"path,omitempty"`
}

func runStatus(ctx context.Context, args []string, out Streams) error {
	fs, f := newFlagSet("status", out.Err, true)
	fs.Usage = func() {
		fmt.Fprintln(out.Err, "usage: kratix status <promise>/<request> | <promise> [-A] [flags]")
		fs.PrintDefaults()
	}
	if err := parse(fs, f, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("status takes one <promise>/<request>, or a <promise> for all its requests")
	}
	t, err := parseTarget(fs.Arg(0), targetRequest, targetPromise)
	if err != nil {
		return err
	}
	if f.allNamespaces && t.kind == targetRequest {
		return usagef("--all-namespaces lists every request of a Promise: kratix status %s -A", t.promise)
	}
	s, err := f.connect()
	if err != nil {
		return err
	}
	if t.kind == targetPromise {
		rows, err := s.promiseStatus(ctx, t.promise)
		if err != nil {
			return err
		}
		return printPromiseStatus(out.Out, s.output, s.all, rows, time.Now())
	}
	report, err := s.status(ctx, t)
	if err != nil {
		return err
	}
	return printStatus(out.Out, s.output, report, time.Now())
}

// status gathers the request's condition and workflow, its Jobs with the logs of failures, its
// Works and their placements, and warns of what needs someone's attention.
func (s *session) status(ctx context.Context, t target) (*statusReport, error) {
	r, err := s.getRequest(ctx, t.promise, t.name)
	if err != nil {
		return nil, err
	}
	rep := &statusReport{Promise: r.promise.Name, Kind: r.obj.GetKind(), Namespace: r.obj.GetNamespace(), Name: r.obj.GetName(),
		Jobs: []jobReport{}, Works: []workReport{}, Placements: []placementReport{}, Warnings: []string{}}
	if err := requestStatus(r, rep); err != nil {
		return nil, err
	}
	if rep.Jobs, err = s.jobs(ctx, r); err != nil {
		return nil, err
	}
	works, err := s.works(ctx, r)
	if err != nil {
		return nil, err
	}
	wps, err := s.placementsOfWorks(ctx, works)
	if err != nil {
		return nil, err
	}
	for _, w := range works {
		ready, msg := condition(w.Status.Conditions, v1alpha1.ConditionReady)
		rep.Works = append(rep.Works, workReport{Namespace: w.Namespace, Name: w.Name, Pipeline: w.Spec.PipelineName, Ready: ready, Message: msg, Placements: w.Status.WorkPlacementsCreated})
	}
	for _, wp := range wps {
		status, msg := placementStatus(wp)
		rep.Placements = append(rep.Placements, placementReport{Namespace: wp.Namespace, Name: wp.Name, Destination: wp.Spec.TargetDestinationName,
			Status: status, Message: msg, Misscheduled: wp.IsMisscheduled(), Version: wp.Status.VersionID, Path: wp.Status.Path})
	}
	rep.Warnings = warnings(rep)
	return rep, nil
}

// requestStatus reads the request's Ready condition, message and workflow progress.
func requestStatus(r *request, rep *statusReport) error {
	var st struct {
		Message    string             `json:"message"`
		Conditions []metav1.Condition `json:"conditions"`
		Kratix     struct {
			Workflows *v1alpha1.WorkflowStatus `json:"workflows"`
		} `json:"kratix"`
	}
	if raw, ok := r.obj.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st); err != nil {
			return fmt.Errorf("read the status of %s %s: %w", rep.Kind, rep.Name, err)
		}
	}
	rep.Ready = string(metav1.ConditionUnknown)
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil {
		rep.Ready, rep.Reason, rep.Message = string(c.Status), c.Reason, c.Message
	}
	if rep.Message == "" {
		rep.Message = st.Message
	}
	rep.Workflow = st.Kratix.Workflows
	return nil
}

// jobs lists the Jobs of the request's workflows, in every namespace (a Promise's
// pipelineNamespace is not the request's), oldest first.
func (s *session) jobs(ctx context.Context, r *request) ([]jobReport, error) {
	var list batchv1.JobList
	if err := s.list(ctx, &list, client.MatchingLabels(pipeline.RequestSelector(r.promise.Name, r.obj.GetNamespace(), r.obj.GetName()))); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := startOf(&list.Items[i]), startOf(&list.Items[j])
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return list.Items[i].Name < list.Items[j].Name
	})
	out := make([]jobReport, 0, len(list.Items))
	for i := range list.Items {
		job := &list.Items[i]
		jr := jobReport{Namespace: job.Namespace, Name: job.Name, Pipeline: job.Labels[v1alpha1.LabelPipelineName],
			Action: job.Labels[v1alpha1.LabelWorkflowAction], Run: job.Labels[v1alpha1.LabelWorkflowRun], Result: "Running"}
		if job.Status.StartTime != nil {
			started := job.Status.StartTime.UTC()
			jr.Started = &started
			end := time.Now()
			if job.Status.CompletionTime != nil {
				end = job.Status.CompletionTime.Time
			}
			for _, c := range job.Status.Conditions {
				if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
					end = c.LastTransitionTime.Time
				}
			}
			jr.Duration = end.Sub(job.Status.StartTime.Time).Round(time.Second).String()
		}
		for _, c := range job.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				jr.Result = "Succeeded"
			case batchv1.JobFailed:
				jr.Result, jr.Message = "Failed", c.Message
			}
		}
		if jr.Result == "Failed" {
			jr.LogTail = s.failedLogs(ctx, job)
		}
		out = append(out, jr)
	}
	return out, nil
}

// startOf is when a Job started, else when it was created.
func startOf(job *batchv1.Job) metav1.Time {
	if job.Status.StartTime != nil {
		return *job.Status.StartTime
	}
	return job.CreationTimestamp
}

// failedLogs is the end of the log of each failed container of the Job's Pods, as a kubelet
// keeps it. The local job runner runs no Pods: it puts the end of the failed container's log in
// the Job's Failed condition instead, which status shows as the Job's message.
func (s *session) failedLogs(ctx context.Context, job *batchv1.Job) string {
	var pods corev1.PodList
	if err := s.c.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{"job-name": job.Name}); err != nil {
		return fmt.Sprintf("(the Job's Pods cannot be listed: %v)", apiError(s.server, err))
	}
	var b strings.Builder
	for _, pod := range pods.Items {
		statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
		for _, cs := range statuses {
			if cs.State.Terminated == nil || cs.State.Terminated.ExitCode == 0 {
				continue
			}
			req := s.logs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: cs.Name, TailLines: ptr.To[int64](logTailLines)})
			data, err := req.DoRaw(ctx)
			if err != nil {
				fmt.Fprintf(&b, "(pod %s, container %s: the log cannot be read: %v)\n", pod.Name, cs.Name, err)
				continue
			}
			fmt.Fprintf(&b, "pod %s, container %s (exit code %d):\n%s", pod.Name, cs.Name, cs.State.Terminated.ExitCode, data)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// condition is a condition's status and message; Unknown when it is missing.
func condition(conds []metav1.Condition, typ string) (string, string) {
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		return string(metav1.ConditionUnknown), ""
	}
	return string(c.Status), c.Message
}

// placementStatus is what `kubectl get workplacements` shows as STATUS (the Ready condition's
// reason) and its message.
func placementStatus(wp v1alpha1.WorkPlacement) (string, string) {
	c := meta.FindStatusCondition(wp.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil {
		return "Pending", ""
	}
	return c.Reason, c.Message
}

// warnings are what needs attention: a request not Ready, failed Jobs, Works not Ready,
// placements misscheduled or not written.
func warnings(rep *statusReport) []string {
	out := []string{}
	failed := map[string]jobReport{} // the last failed Job of each pipeline
	last := map[string]jobReport{}
	for _, j := range rep.Jobs {
		last[j.Action+"/"+j.Pipeline] = j
		if j.Result == "Failed" {
			failed[j.Action+"/"+j.Pipeline] = j
		}
	}
	for key, j := range failed {
		if last[key].Name == j.Name {
			out = append(out, fmt.Sprintf("pipeline %s failed in its last run (Job %s/%s)", j.Pipeline, j.Namespace, j.Name))
		}
	}
	for _, w := range rep.Works {
		if w.Ready != string(metav1.ConditionTrue) {
			out = append(out, fmt.Sprintf("Work %s/%s is not Ready: %s", w.Namespace, w.Name, orDash(w.Message)))
		}
	}
	for _, p := range rep.Placements {
		switch {
		case p.Misscheduled:
			out = append(out, fmt.Sprintf("WorkPlacement %s/%s is misscheduled: destination %s no longer matches; its files stay, frozen, until it is deleted", p.Namespace, p.Name, p.Destination))
		case p.Status != v1alpha1.ReasonWriteSucceeded:
			out = append(out, fmt.Sprintf("WorkPlacement %s/%s on %s: %s: %s", p.Namespace, p.Name, p.Destination, p.Status, orDash(p.Message)))
		}
	}
	sort.Strings(out)
	if rep.Ready != string(metav1.ConditionTrue) {
		out = append([]string{fmt.Sprintf("the request is not Ready: %s", orDash(rep.Message))}, out...)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
