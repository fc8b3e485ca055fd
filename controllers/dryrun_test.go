package controllers

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// dryRunV1 renders a request into configmap.yaml (its name and color) and old.yaml.
const dryRunV1 = `set -eu
name=$(grep -m1 '^  name:' /kratix/input/object.yaml | awk '{print $2}')
color=$(grep -m1 '^  color:' /kratix/input/object.yaml | awk '{print $2}')
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\ndata:\n  color: %s\n' "$name" "$color" > /kratix/output/configmap.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old-%s\n  namespace: default\n' "$name" > /kratix/output/old.yaml`

// dryRunV2 changes configmap.yaml, drops old.yaml and adds new.yaml.
const dryRunV2 = `set -eu
name=$(grep -m1 '^  name:' /kratix/input/object.yaml | awk '{print $2}')
color=$(grep -m1 '^  color:' /kratix/input/object.yaml | awk '{print $2}')
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\ndata:\n  color: %s\n  size: large\n' "$name" "$color" > /kratix/output/configmap.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new-%s\n  namespace: default\n' "$name" > /kratix/output/new.yaml`

// dryRunWorld is a platform with the examples' Git store and Destinations, a Promise whose
// resource pipeline runs script, and its requests, Ready and written.
type dryRunWorld struct {
	f        *gitFixture
	promise  *v1alpha1.Promise
	group    string
	requests []*unstructured.Unstructured
}

func newDryRunWorld(t *testing.T, script string, requests ...string) *dryRunWorld {
	t.Helper()
	startPlatform(t)
	w := &dryRunWorld{f: newGitFixture(t)}
	exampleStore(t, w.f, "updates/destinations.yaml")
	w.promise, w.group = workflowPromise(t, script)
	create(t, w.promise)
	waitForPromise(t, w.promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	for _, name := range requests {
		r := thing(w.group, name)
		create(t, r)
		w.requests = append(w.requests, r)
	}
	for _, r := range w.requests {
		waitForRequest(t, r, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	}
	return w
}

// head is main's commit.
func (w *dryRunWorld) head(t *testing.T) string {
	t.Helper()
	out, err := w.f.git(t, "rev-parse", "main")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// raw encodes an object for spec.resource.
func raw(t *testing.T, obj map[string]any) runtime.RawExtension {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: data}
}

// waitForDryRun waits until the DryRun's Completed condition has the status and reason.
func waitForDryRun(t *testing.T, dr *v1alpha1.DryRun, status metav1.ConditionStatus, reason string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("DryRun %s Completed=%s %s", dr.Name, status, reason), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(dr), dr); err != nil {
			return err
		}
		c := meta.FindStatusCondition(dr.Status.Conditions, v1alpha1.ConditionDryRunCompleted)
		switch {
		case c == nil:
			return fmt.Errorf("no Completed condition: %+v", dr.Status)
		case c.Status != status || c.Reason != reason:
			return fmt.Errorf("Completed=%s %s: %s; components %+v", c.Status, c.Reason, c.Message, dr.Status.Components)
		}
		return nil
	})
}

// files is the DryRun's file list of a Destination.
func dryRunFiles(dr *v1alpha1.DryRun, dest string) []string {
	for _, d := range dr.Status.Destinations {
		if d.Destination == dest {
			return d.Files
		}
	}
	return nil
}

// placementCount is the number of WorkPlacements in the cluster.
func placementCount(t *testing.T) int {
	t.Helper()
	var wps v1alpha1.WorkPlacementList
	if err := env.Client.List(t.Context(), &wps); err != nil {
		t.Fatal(err)
	}
	return len(wps.Items)
}

// hunksByFile splits a Git-style unified diff into each file's hunks (from its first "@@"),
// the hunk headers without the context that follows their ranges (git picks a "function" line
// there by its own rules, go-git the line before the hunk).
func hunksByFile(diff string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(diff, "diff --git a/")[1:] {
		path, _, _ := strings.Cut(part, " ")
		i := strings.Index(part, "\n@@")
		if i < 0 {
			out[path] = ""
			continue
		}
		lines := strings.Split(part[i+1:], "\n")
		for j, line := range lines {
			if strings.HasPrefix(line, "@@ ") {
				if end := strings.Index(line[3:], " @@"); end >= 0 {
					lines[j] = line[:3+end+3]
				}
			}
		}
		out[path] = strings.Join(lines, "\n")
	}
	return out
}

// A dry run of a Promise update lists exactly the files, and the diff, that applying the update
// then commits; the dry run itself commits nothing, creates no WorkPlacement and changes no
// request.
func TestDryRunDiffMatchesRealUpdate(t *testing.T) {
	w := newDryRunWorld(t, dryRunV1, "first", "second")
	before, commits, placements := w.head(t), w.f.commits(t), placementCount(t)

	v2 := w.promise.Spec.DeepCopy()
	v2.Workflows.Resource.Configure = []v1alpha1.Pipeline{shPipeline("render", dryRunV2)}
	dr := &v1alpha1.DryRun{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("update"), Namespace: v1alpha1.DefaultPlatformNS},
		Spec:       v1alpha1.DryRunSpec{PromiseRef: v1alpha1.DryRunPromiseRef{Name: w.promise.Name}, Promise: v2, AllRequests: true},
	}
	create(t, dr)
	waitForDryRun(t, dr, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten)
	if len(dr.Status.Components) != 2 {
		t.Fatalf("components %+v, want one per request", dr.Status.Components)
	}
	want := []string{}
	for _, r := range []string{"first", "second"} {
		dir := "dev-cluster-1/resources/default/" + w.promise.Name + "/" + r + "/render/5058f/"
		want = append(want, "+ "+dir+"new.yaml", "~ "+dir+"configmap.yaml", "- "+dir+"old.yaml")
	}
	got := dryRunFiles(dr, "dev-cluster-1")
	if !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("dev-cluster-1 files %v, want %v", got, want)
	}
	if n := w.f.commits(t); n != commits || w.head(t) != before {
		t.Fatalf("the dry run committed: %d commits, was %d", n, commits)
	}
	if n := placementCount(t); n != placements {
		t.Errorf("%d WorkPlacements, was %d", n, placements)
	}

	update(t, w.promise, func(p *v1alpha1.Promise) { p.Spec = *v2 })
	var nameStatus []string
	waitFor(t, "the update's commits to hold the dry run's files", func() error {
		out, err := w.f.git(t, "diff", "--no-renames", "--name-status", before, "main")
		if err != nil {
			return err
		}
		nameStatus = nameStatus[:0]
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			status, path, _ := strings.Cut(line, "\t")
			kind := map[string]string{"A": "+", "M": "~", "D": "-"}[status]
			nameStatus = append(nameStatus, kind+" "+path)
		}
		if !slices.Equal(sortedCopy(nameStatus), sortedCopy(got)) {
			return fmt.Errorf("git diff --name-status: %v, the dry run: %v", nameStatus, got)
		}
		return nil
	})
	after := w.head(t)
	gitDiff, err := w.f.git(t, "diff", "--no-renames", before, after)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := hunksByFile(dr.Status.Diff), hunksByFile(gitDiff)
	if len(mine) != len(theirs) {
		t.Errorf("the dry run's diff has %d files, git diff %d", len(mine), len(theirs))
	}
	for path, hunks := range theirs {
		if mine[path] != hunks {
			t.Errorf("%s: the dry run's hunks\n%s\ngit diff's\n%s", path, mine[path], hunks)
		}
	}
	// Dry runs leave nothing in the store's history: every commit since is the update's.
	log, err := w.f.git(t, "log", "--format=%s", before+".."+after)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(log), "dryrun") || strings.Contains(log, dr.Name) {
		t.Errorf("a commit of the dry run:\n%s", log)
	}
}

// A dry run of one request's new spec (upstream's fields) writes nothing anywhere: no commit,
// no WorkPlacement; deleting the DryRun takes its Jobs and Works away.
func TestDryRunWritesNothing(t *testing.T) {
	w := newDryRunWorld(t, dryRunV1, "first")
	before, placements := w.head(t), placementCount(t)
	dr := &v1alpha1.DryRun{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("red"), Namespace: "default"},
		Spec: v1alpha1.DryRunSpec{
			PromiseRef:         v1alpha1.DryRunPromiseRef{Name: w.promise.Name},
			ResourceRequestRef: v1alpha1.DryRunResourceRequestRef{Name: "first"},
			Resource:           raw(t, map[string]any{"spec": map[string]any{"color": "red"}}),
		},
	}
	create(t, dr)
	waitForDryRun(t, dr, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten)
	waitForNamespacedEvent(t, "default", "DryRun", dr.Name, corev1.EventTypeNormal, v1alpha1.ReasonSummaryWritten, func(note string) bool {
		return strings.Contains(note, "nothing was written")
	})
	path := "dev-cluster-1/resources/default/" + w.promise.Name + "/first/render/5058f/configmap.yaml"
	if got := dryRunFiles(dr, "dev-cluster-1"); !slices.Equal(got, []string{"~ " + path}) {
		t.Errorf("files %v, want only the changed configmap", got)
	}
	if !strings.Contains(dr.Status.Diff, "-  color: blue\n+  color: red\n") {
		t.Errorf("diff:\n%s", dr.Status.Diff)
	}
	ref := pipeline.DryRunRef{Namespace: dr.Namespace, Name: dr.Name}
	var works v1alpha1.WorkList
	if err := env.Client.List(t.Context(), &works, client.MatchingLabels(ref.Labels())); err != nil {
		t.Fatal(err)
	}
	if len(works.Items) != 1 {
		t.Fatalf("%d Works of the dry run, want 1", len(works.Items))
	}
	time.Sleep(2 * time.Second) // a placement or a write would show by now
	if got := w.head(t); got != before {
		t.Errorf("main moved from %s to %s", before, got)
	}
	if n := placementCount(t); n != placements {
		t.Errorf("%d WorkPlacements, was %d", n, placements)
	}
	wps := listPlacements(t, &works.Items[0])
	if len(wps) != 0 {
		t.Errorf("the dry run's Work has placements: %v", placementNames(wps))
	}
	if got := w.f.show(t, path); !strings.Contains(got, "color: blue") {
		t.Errorf("%s = %q", path, got)
	}

	deleteAndWait(t, dr)
	var jobs batchv1.JobList
	if err := env.Client.List(t.Context(), &jobs, client.MatchingLabels(ref.Labels())); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.List(t.Context(), &works, client.MatchingLabels(ref.Labels())); err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, j := range jobs.Items {
		if j.DeletionTimestamp.IsZero() {
			live++
		}
	}
	if live != 0 || len(works.Items) != 0 {
		t.Errorf("left behind: %d Jobs, %d Works", live, len(works.Items))
	}
}

// A dry run changes nothing of the request it runs for: status, labels, resource version, and
// its workflow's Jobs stay as they were.
func TestDryRunDoesNotTouchRequestStatus(t *testing.T) {
	w := newDryRunWorld(t, dryRunV1, "first")
	request := w.requests[0]
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(request), request); err != nil {
		t.Fatal(err)
	}
	selector := pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: w.promise, Object: request}.Selector()
	jobsOf := func() []string {
		var jobs batchv1.JobList
		if err := env.Client.List(t.Context(), &jobs, client.InNamespace("default"), client.MatchingLabels(selector)); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, j := range jobs.Items {
			out = append(out, j.Name)
		}
		sort.Strings(out)
		return out
	}
	jobsBefore, versionBefore := jobsOf(), request.GetResourceVersion()
	statusBefore, _ := json.Marshal(request.Object["status"])

	dr := &v1alpha1.DryRun{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("green"), Namespace: "default"},
		Spec: v1alpha1.DryRunSpec{
			PromiseRef:         v1alpha1.DryRunPromiseRef{Name: w.promise.Name},
			ResourceRequestRef: v1alpha1.DryRunResourceRequestRef{Name: "first"},
			Resource:           raw(t, map[string]any{"spec": map[string]any{"color": "green"}}),
		},
	}
	create(t, dr)
	waitForDryRun(t, dr, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten)
	time.Sleep(time.Second)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(request), request); err != nil {
		t.Fatal(err)
	}
	statusAfter, _ := json.Marshal(request.Object["status"])
	if request.GetResourceVersion() != versionBefore || string(statusAfter) != string(statusBefore) {
		t.Errorf("the request changed: resourceVersion %s -> %s\nstatus %s\n-> %s", versionBefore, request.GetResourceVersion(), statusBefore, statusAfter)
	}
	if got := jobsOf(); !slices.Equal(got, jobsBefore) {
		t.Errorf("the request's Jobs %v, were %v", got, jobsBefore)
	}
	if color, _, _ := unstructured.NestedString(request.Object, "spec", "color"); color != "blue" {
		t.Errorf("spec.color %q", color)
	}
}

// A request that does not exist yet: every file it would write is added.
func TestDryRunNewRequestAllAdded(t *testing.T) {
	w := newDryRunWorld(t, dryRunV1, "first")
	dr := &v1alpha1.DryRun{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("new"), Namespace: "default"},
		Spec: v1alpha1.DryRunSpec{
			PromiseRef:         v1alpha1.DryRunPromiseRef{Name: w.promise.Name},
			ResourceRequestRef: v1alpha1.DryRunResourceRequestRef{Name: "newcomer"},
			Resource:           raw(t, map[string]any{"spec": map[string]any{"color": "green"}}),
		},
	}
	create(t, dr)
	waitForDryRun(t, dr, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten)
	dir := "dev-cluster-1/resources/default/" + w.promise.Name + "/newcomer/render/5058f/"
	want := []string{"+ " + dir + "configmap.yaml", "+ " + dir + "old.yaml"}
	if got := dryRunFiles(dr, "dev-cluster-1"); !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if len(dr.Status.Destinations) != 1 || dr.Status.Destinations[0].Added != 2 || dr.Status.Destinations[0].Changed+dr.Status.Destinations[0].Removed != 0 {
		t.Errorf("destinations %+v", dr.Status.Destinations)
	}
	if strings.Count(dr.Status.Diff, "new file mode") != 2 || !strings.Contains(dr.Status.Diff, "+  name: newcomer\n") {
		t.Errorf("diff:\n%s", dr.Status.Diff)
	}
	if got := w.f.files(t); slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, "newcomer") }) {
		t.Errorf("the store has the newcomer's files: %v", got)
	}
}

// A diff longer than the bound is cut at a line's end and says so.
func TestDryRunSizeBound(t *testing.T) {
	big := dryRunV1 + `
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: default\ndata:\n  big: |\n' > /kratix/output/big.yaml
seq 1 40000 | sed 's/^/    line /' >> /kratix/output/big.yaml`
	w := newDryRunWorld(t, dryRunV1)
	v2 := w.promise.Spec.DeepCopy()
	v2.Workflows.Resource.Configure = []v1alpha1.Pipeline{shPipeline("render", big)}
	request := thing(w.group, "first")
	create(t, request)
	waitForRequest(t, request, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	dr := &v1alpha1.DryRun{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("big"), Namespace: v1alpha1.DefaultPlatformNS},
		Spec: v1alpha1.DryRunSpec{PromiseRef: v1alpha1.DryRunPromiseRef{Name: w.promise.Name}, Promise: v2,
			Requests: []v1alpha1.DryRunResourceRequestRef{{Name: "first", Namespace: "default"}}},
	}
	create(t, dr)
	waitForDryRun(t, dr, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten)
	if !dr.Status.DiffTruncated || len(dr.Status.Diff) > v1alpha1.DryRunMaxDiff || !strings.HasSuffix(dr.Status.Diff, " bytes\n") {
		t.Errorf("truncated %t, %d bytes, ends %q", dr.Status.DiffTruncated, len(dr.Status.Diff), dr.Status.Diff[max(0, len(dr.Status.Diff)-80):])
	}
	if got := dryRunFiles(dr, "dev-cluster-1"); len(got) != 1 || !strings.HasSuffix(got[0], "/big.yaml") {
		t.Errorf("files %v", got)
	}
}

// A DryRun in a tenant's namespace may name requests of that namespace only, and may not run a
// new Promise spec; one in the platform namespace may do both.
func TestDryRunNamespaceRule(t *testing.T) {
	startPlatform(t)
	promise, _ := workflowPromise(t, dryRunV1)
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	other := uniqueName("tenant-b")
	ensureNamespace(t, other)
	for _, tt := range []struct {
		name string
		spec v1alpha1.DryRunSpec
		want string
	}{
		{"another namespace's request", v1alpha1.DryRunSpec{ResourceRequestRef: v1alpha1.DryRunResourceRequestRef{Name: "theirs", Namespace: other}}, "another namespace"},
		{"a listed request of another namespace", v1alpha1.DryRunSpec{Promise: promise.Spec.DeepCopy(), Requests: []v1alpha1.DryRunResourceRequestRef{{Name: "theirs", Namespace: other}}}, "spec.promise"},
		{"a new Promise spec", v1alpha1.DryRunSpec{Promise: promise.Spec.DeepCopy(), AllRequests: true}, "platform namespace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.PromiseRef.Name = promise.Name
			dr := &v1alpha1.DryRun{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("tenant"), Namespace: "default"}, Spec: tt.spec}
			create(t, dr)
			waitForDryRun(t, dr, metav1.ConditionFalse, v1alpha1.ReasonDryRunInvalid)
			if c := meta.FindStatusCondition(dr.Status.Conditions, v1alpha1.ConditionDryRunCompleted); !strings.Contains(c.Message, tt.want) {
				t.Errorf("message %q, want it to mention %q", c.Message, tt.want)
			}
			var jobs batchv1.JobList
			if err := env.Client.List(t.Context(), &jobs, client.MatchingLabels(pipeline.DryRunRef{Namespace: dr.Namespace, Name: dr.Name}.Labels())); err != nil {
				t.Fatal(err)
			}
			if len(jobs.Items) != 0 {
				t.Errorf("%d Jobs started", len(jobs.Items))
			}
		})
	}
	// The platform namespace's DryRun may reach into another namespace (the request is missing:
	// the component fails, the DryRun is valid).
	dr := &v1alpha1.DryRun{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("platform"), Namespace: v1alpha1.DefaultPlatformNS},
		Spec: v1alpha1.DryRunSpec{PromiseRef: v1alpha1.DryRunPromiseRef{Name: promise.Name}, Promise: promise.Spec.DeepCopy(),
			Requests: []v1alpha1.DryRunResourceRequestRef{{Name: "theirs", Namespace: other}}}}
	create(t, dr)
	waitForDryRun(t, dr, metav1.ConditionFalse, v1alpha1.ReasonDryRunPipelineFailed)
	if len(dr.Status.Components) != 1 || !strings.Contains(dr.Status.Components[0].Message, "does not exist") {
		t.Errorf("components %+v", dr.Status.Components)
	}
}
