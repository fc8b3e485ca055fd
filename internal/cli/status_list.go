package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// requestSummary is one request of a Promise as `kratix status <promise>` lists it: its Ready
// condition, how many of its Works are Ready and of its placements written, and how many are
// misscheduled.
type requestSummary struct {
	Namespace string      `json:"namespace,omitempty"`
	Name      string      `json:"name"`
	Ready     string      `json:"ready"`
	Reason    string      `json:"reason,omitempty"`
	Message   string      `json:"message,omitempty"`
	Created   metav1.Time `json:"created"`
	// Pipelines is the phase of each pipeline of its workflow's last run, in order.
	Pipelines    []string `json:"pipelines,omitempty"`
	Works        int      `json:"works"`
	WorksReady   int      `json:"worksReady"`
	Placements   int      `json:"placements"`
	Written      int      `json:"written"`
	Misscheduled int      `json:"misscheduled"`
}

// promiseStatus summarises every request of the Promise in the session's namespace, or in
// every namespace with -A, from three lists: the requests, the Promise's Works and its
// placements (not a walk per request).
func (s *session) promiseStatus(ctx context.Context, promiseName string) ([]requestSummary, error) {
	api, err := s.getPromiseAPI(ctx, promiseName)
	if err != nil {
		return nil, err
	}
	requests := &unstructured.UnstructuredList{}
	requests.SetGroupVersionKind(api.gvk.GroupVersion().WithKind(api.gvk.Kind + "List"))
	var opts []client.ListOption
	if api.namespaced && !s.all {
		opts = append(opts, client.InNamespace(s.namespace))
	}
	if err := s.list(ctx, requests, opts...); err != nil {
		return nil, err
	}
	// Works and placements are in the requests' namespaces or a pipeline namespace: listed in
	// all, and kept by what their specs say.
	byPromise := client.MatchingLabels{v1alpha1.LabelPromiseName: names.LabelValue(promiseName)}
	var works v1alpha1.WorkList
	if err := s.list(ctx, &works, byPromise, client.MatchingLabels{v1alpha1.LabelWorkType: v1alpha1.WorkTypeResource}); err != nil {
		return nil, err
	}
	var wps v1alpha1.WorkPlacementList
	if err := s.list(ctx, &wps, byPromise); err != nil {
		return nil, err
	}
	type key struct{ namespace, name string }
	rows := map[key]*requestSummary{}
	out := make([]requestSummary, len(requests.Items))
	for i := range requests.Items {
		r := &request{promise: api.promise, obj: &requests.Items[i], namespaced: api.namespaced}
		rep := &statusReport{Kind: api.gvk.Kind, Name: r.obj.GetName()}
		if err := requestStatus(r, rep); err != nil {
			return nil, err
		}
		out[i] = requestSummary{Namespace: r.obj.GetNamespace(), Name: r.obj.GetName(), Ready: rep.Ready, Reason: rep.Reason,
			Message: rep.Message, Created: r.obj.GetCreationTimestamp()}
		if rep.Workflow != nil {
			for _, p := range rep.Workflow.Pipelines {
				out[i].Pipelines = append(out[i].Pipelines, orDash(p.Phase))
			}
		}
		rows[key{out[i].Namespace, out[i].Name}] = &out[i]
	}
	for _, w := range works.Items {
		if row := rows[key{w.Spec.ResourceNamespace, w.Spec.ResourceName}]; row != nil && w.Spec.PromiseName == promiseName {
			row.Works++
			if ready, _ := condition(w.Status.Conditions, v1alpha1.ConditionReady); ready == string(metav1.ConditionTrue) {
				row.WorksReady++
			}
		}
	}
	for _, wp := range wps.Items {
		row := rows[key{wp.Spec.ResourceNamespace, wp.Spec.ResourceName}]
		if row == nil || wp.Spec.PromiseName != promiseName || wp.Spec.ResourceName == "" {
			continue
		}
		row.Placements++
		switch status, _ := placementStatus(wp); {
		case wp.IsMisscheduled():
			row.Misscheduled++
		case status == v1alpha1.ReasonWriteSucceeded:
			row.Written++
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// printPromiseStatus writes the requests as `kubectl get` lists objects: a table (NAMESPACE with
// -A; wide adds the pipelines' phases and the message), or the list as YAML or JSON.
func printPromiseStatus(w io.Writer, output string, all bool, rows []requestSummary, now time.Time) error {
	switch output {
	case outputJSON:
		return printJSON(w, map[string]any{"requests": rows})
	case outputYAML:
		return printYAML(w, map[string]any{"requests": rows})
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "No requests.")
		return err
	}
	headers := []string{"NAME", "READY", "REASON", "WORKS", "PLACEMENTS", "MISSCHEDULED", "AGE"}
	if all {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	if output == outputWide {
		headers = append(headers, "PIPELINES", "MESSAGE")
	}
	t := newTable(w, headers...)
	for _, r := range rows {
		cells := []string{r.Name, r.Ready, orDash(r.Reason), fmt.Sprintf("%d/%d", r.WorksReady, r.Works),
			fmt.Sprintf("%d/%d", r.Written, r.Placements), fmt.Sprint(r.Misscheduled), age(now.Sub(r.Created.Time))}
		if all {
			cells = append([]string{orDash(r.Namespace)}, cells...)
		}
		if output == outputWide {
			pipelines := "-"
			if len(r.Pipelines) > 0 {
				pipelines = strings.Join(r.Pipelines, ",")
			}
			cells = append(cells, pipelines, orDash(r.Message))
		}
		t.row(cells...)
	}
	return t.flush()
}
