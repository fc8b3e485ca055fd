package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/internal/testenv"
)

// rolloutDir holds the Website Promise of examples/rollout/README.md.
const rolloutDir = "../../examples/rollout"

const (
	// rolloutRequests is how many Website requests the scenario makes.
	rolloutRequests = 100
	// websitesDir is where their ConfigMaps are committed.
	websitesDir = "local/resources/default/website"
	// bulkTimeout bounds a wait for the engine to work through every request (100 Jobs, or a
	// rollout of ten batches) on a busy 2-core machine.
	bulkTimeout = 6 * time.Minute
)

// rolloutStatus is the part of a Promise's status.rollout that the test reads.
type rolloutStatus struct {
	ToRevision string `json:"toRevision"`
	Phase      string `json:"phase"`
	Total      int    `json:"total"`
	Updated    int    `json:"updated"`
	Failed     int    `json:"failed"`
	Waiting    int    `json:"waiting"`
	Message    string `json:"message"`
	Batches    []struct {
		Index  int `json:"index"`
		Size   int `json:"size"`
		Failed int `json:"failed"`
	} `json:"batches"`
}

// TestLocalRollout runs examples/rollout on `kratix local`: 100 Website requests of v1.0.0, two
// of them pinned to v1.0.0 by ResourceBindings; a broken v2.0.0 whose rollout (10 at a time, at
// most 3 failures) halts after its first batch, the other requests' files untouched in Git; a
// fixed v3.0.0 whose rollout takes the failed requests first, then the rest in name order, 10 at
// a time, as the Git history shows; the pinned requests keep v1.0.0 until one binding asks for
// latest.
func TestLocalRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds kratix and runs `kratix local` with about 200 pipeline Jobs for a few minutes; skipped under -short")
	}
	begin := time.Now()
	phase := func(what string) { t.Logf("%s: %s", time.Since(begin).Round(time.Second), what) }
	l := newLocal(t, buildTools(t))
	phase("kratix built")
	l.start()
	phase("started")

	// v1.0.0 and 100 requests, in one apply.
	l.kubectl("apply", "-f", filepath.Join(rolloutDir, "promise-v1.yaml"))
	l.kubectl("wait", "--for=condition=Available", "promise/website", "--timeout=60s")
	l.kubectl("wait", "--for=condition=Established", "crd/websites.rollout.example.io", "--timeout=60s")
	names := make([]string, rolloutRequests)
	var yaml strings.Builder
	for i := range names {
		names[i] = fmt.Sprintf("site-%02d", i)
		fmt.Fprintf(&yaml, "---\napiVersion: rollout.example.io/v1\nkind: Website\nmetadata:\n  name: %s\n  namespace: default\nspec:\n  title: %s\n", names[i], names[i])
	}
	requestsFile := filepath.Join(t.TempDir(), "websites.yaml")
	if err := os.WriteFile(requestsFile, []byte(yaml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "kubectl apply the requests", func() error {
		if out, err := l.kubectlErr("apply", "-f", requestsFile); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	l.waitForVersion(names, "v1")
	phase(fmt.Sprintf("%d requests' files committed with v1", len(names)))
	l.waitForRolloutPhase("website-v1.0.0", "Complete", nil)

	// site-00 and site-01 pinned to v1.0.0.
	pinned, rollout := names[:2], names[2:]
	l.kubectl("apply", "-f", filepath.Join(rolloutDir, "resource-bindings.yaml"))
	v1Blobs := l.websiteBlobs()
	v1Jobs := l.websiteJobs()
	v1Head := strings.TrimSpace(l.git("rev-parse", "main"))

	// v2.0.0 is broken: the first batch of 10 fails and the rollout halts.
	l.kubectl("apply", "-f", filepath.Join(rolloutDir, "promise-v2-broken.yaml"))
	firstBatch := rollout[:10]
	halted := l.waitForRolloutPhase("website-v2.0.0", "Halted", nil)
	phase("v2.0.0's rollout halted: " + halted.Message)
	if !strings.Contains(halted.Message, "halted after") || !strings.Contains(halted.Message, "at most 3 may fail") {
		t.Errorf("the halted rollout's message does not say why it stopped: %q", halted.Message)
	}
	if halted.Total != len(rollout) || halted.Waiting != len(rollout)-10 || halted.Updated != 0 || len(halted.Batches) != 1 || halted.Batches[0].Size != 10 {
		t.Errorf("halted rollout: total %d, waiting %d, updated %d, batches %+v; want %d, %d, 0, one of 10", halted.Total, halted.Waiting, halted.Updated, halted.Batches, len(rollout), len(rollout)-10)
	}
	eventually(t, "the first batch's workflows failed", func() error {
		failed := l.failedWebsites()
		if !slices.Equal(failed, firstBatch) {
			return fmt.Errorf("failed requests %v, want %v", failed, firstBatch)
		}
		return nil
	})
	// The gate closed while the batch ran: the Promise's count follows the batch to its end.
	l.waitForRolloutPhase("website-v2.0.0", "Halted", func(ro rolloutStatus) error {
		if ro.Failed != len(firstBatch) {
			return fmt.Errorf("%d failed, want the whole first batch, %d", ro.Failed, len(firstBatch))
		}
		return nil
	})
	time.Sleep(3 * time.Second) // time enough for a Job that should not start
	if ran := newJobs(v1Jobs, l.websiteJobs()); !slices.Equal(ran, firstBatch) {
		t.Errorf("the requests that ran Jobs after v2.0.0: %v, want the first batch %v", ran, firstBatch)
	}
	if diff := l.git("diff", "--stat", v1Head, "main", "--", websitesDir); diff != "" {
		t.Errorf("v2.0.0 changed the requests' files:\n%s", diff)
	}
	if unchanged := sameBlobs(v1Blobs, l.websiteBlobs()); len(unchanged) != rolloutRequests {
		t.Errorf("%d requests' files are unchanged after v2.0.0, want all %d (a failed pipeline writes nothing)", len(unchanged), rolloutRequests)
	}
	waiting := l.kubectl("get", "website", "site-50", "-o", `jsonpath={.status.conditions[?(@.type=="PromiseUpdatePending")].status} {.status.conditions[?(@.type=="PromiseUpdatePending")].reason}`)
	if waiting != "True RolloutWaiting" {
		t.Errorf("site-50, which the rollout did not reach: PromiseUpdatePending %q, want True RolloutWaiting", waiting)
	}
	t.Logf("kubectl get promises:\n%s", l.kubectl("get", "promises"))

	// v3.0.0 fixes it: the failed requests first, then the others, 10 at a time.
	v2Head := strings.TrimSpace(l.git("rev-parse", "main"))
	l.kubectl("apply", "-f", filepath.Join(rolloutDir, "promise-v3.yaml"))
	done := l.waitForRolloutPhase("website-v3.0.0", "Complete", nil)
	phase("v3.0.0's rollout complete: " + done.Message)
	l.waitForVersion(rollout, "v3")
	if done.Updated != len(rollout) || done.Failed != 0 || len(done.Batches) != 10 {
		t.Errorf("complete rollout: updated %d, failed %d, %d batches; want %d, 0, 10", done.Updated, done.Failed, len(done.Batches), len(rollout))
	}
	t.Logf("kubectl get promises:\n%s", l.kubectl("get", "promises"))
	l.checkBatchHistory(v2Head, rollout, firstBatch)
	blobs := l.websiteBlobs()
	for _, name := range pinned {
		if blobs[name] != v1Blobs[name] {
			t.Errorf("%s, bound to v1.0.0, changed: %s, was %s", name, blobs[name], v1Blobs[name])
		}
	}

	// site-00's binding asks for latest: it alone moves to v3.0.0.
	l.kubectl("patch", "resourcebinding", "site-00-website", "--type=merge", "-p", `{"spec":{"version":"latest"}}`)
	l.waitForVersion(pinned[:1], "v3")
	phase("site-00 moved to v3 by its binding")
	// The Promise counts site-00 in its rollout again.
	l.waitForRolloutPhase("website-v3.0.0", "Complete", func(ro rolloutStatus) error {
		if ro.Total != len(rollout)+1 || ro.Updated != ro.Total {
			return fmt.Errorf("total %d, updated %d; want %d", ro.Total, ro.Updated, len(rollout)+1)
		}
		return nil
	})
	if got := l.websiteBlobs()["site-01"]; got != v1Blobs["site-01"] {
		t.Errorf("site-01, still bound to v1.0.0, changed when site-00's binding moved")
	}
	if ran := newJobs(v1Jobs, l.websiteJobs()); slices.Contains(ran, "site-01") {
		t.Errorf("site-01, bound to v1.0.0, ran a Job")
	}

	jobs := 0
	for _, js := range l.websiteJobs() {
		jobs += len(js)
	}
	commits := strings.Count(l.git("log", "--format=%H", "main", "--", websitesDir), "\n")
	phase(fmt.Sprintf("done: %d Jobs of the requests' workflows, %d commits that touch %s, %d commits on main", jobs, commits, websitesDir, strings.Count(l.git("log", "--format=%H", "main"), "\n")))
}

// waitForRolloutPhase waits until the website Promise's rollout to the revision is in the phase.
func (l *local) waitForRolloutPhase(revision, phase string, check func(rolloutStatus) error) rolloutStatus {
	t := l.t
	t.Helper()
	var got rolloutStatus
	testenv.Eventually(t, "the rollout to "+revision+" "+phase, bulkTimeout, time.Second, func() error {
		out, err := l.kubectlErr("get", "promise", "website", "-o", "jsonpath={.status.rollout}")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		got = rolloutStatus{}
		if out != "" {
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				return fmt.Errorf("status.rollout %s: %v", out, err)
			}
		}
		if got.ToRevision != revision || got.Phase != phase {
			return fmt.Errorf("rollout to %q %s: %s", got.ToRevision, got.Phase, got.Message)
		}
		if check != nil {
			return check(got)
		}
		return nil
	})
	return got
}

// waitForVersion waits until the ConfigMaps of the requests on main say the version.
func (l *local) waitForVersion(names []string, version string) {
	t := l.t
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%d requests' files with %s", len(names), version), bulkTimeout, time.Second, func() error {
		out, err := l.gitErr("grep", "-l", "-E", `^ *version: "?`+version+`"?$`, "main", "--", websitesDir)
		if err != nil && out != "" {
			return fmt.Errorf("git grep: %v %s", err, out)
		}
		have := map[string]bool{}
		for _, line := range strings.Fields(out) {
			if name := websiteOf(strings.TrimPrefix(line, "main:")); name != "" {
				have[name] = true
			}
		}
		var missing []string
		for _, n := range names {
			if !have[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d without %s: %v", len(missing), version, missing)
		}
		return nil
	})
}

// websiteOf is the request whose file the path is, empty for none.
func websiteOf(path string) string {
	rest, ok := strings.CutPrefix(path, websitesDir+"/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// websiteBlobs maps each request to the blob of its file on main.
func (l *local) websiteBlobs() map[string]string {
	l.t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(l.git("ls-tree", "-r", "main", "--", websitesDir)), "\n") {
		meta, path, ok := strings.Cut(line, "\t")
		if f := strings.Fields(meta); ok && len(f) == 3 && websiteOf(path) != "" {
			out[websiteOf(path)] += f[2]
		}
	}
	return out
}

// sameBlobs lists the requests whose blob is the same in both.
func sameBlobs(before, after map[string]string) []string {
	var same []string
	for name, blob := range before {
		if after[name] == blob {
			same = append(same, name)
		}
	}
	return same
}

// websiteJobs maps each request to the names of its workflow Jobs.
func (l *local) websiteJobs() map[string][]string {
	l.t.Helper()
	out := map[string][]string{}
	list := l.kubectl("get", "jobs", "-n", "default", "-l", "kratix.io/promise-name=website,kratix.io/workflow-type=resource",
		"-o", `jsonpath={range .items[*]}{.metadata.labels.kratix\.io/resource-name} {.metadata.name}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[0]] = append(out[f[0]], f[1])
		}
	}
	return out
}

// newJobs lists, sorted, the requests with a Job in after that is not in before.
func newJobs(before, after map[string][]string) []string {
	var ran []string
	for name, jobs := range after {
		for _, j := range jobs {
			if !slices.Contains(before[name], j) {
				ran = append(ran, name)
				break
			}
		}
	}
	sort.Strings(ran)
	return ran
}

// failedWebsites lists, sorted, the requests whose Configure workflow failed.
func (l *local) failedWebsites() []string {
	l.t.Helper()
	out := l.kubectl("get", "websites", "-n", "default",
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="ConfigureWorkflowCompleted")].reason}{"\n"}{end}`)
	var failed []string
	for _, line := range strings.Split(out, "\n") {
		if name, reason, _ := strings.Cut(line, " "); reason == "ConfigureWorkflowFailed" {
			failed = append(failed, name)
		}
	}
	sort.Strings(failed)
	return failed
}

var resourceTrailer = regexp.MustCompile(`(?m)^Kratix-Resource: default/(\S+)$`)

// checkBatchHistory reads, from the commits after since, in which commit each request's file
// changed first (its Kratix-Resource trailer), and checks that the requests came batch by batch:
// the first batch (the requests that failed before), then the others in name order, 10 at a
// time. A batch starts once the previous one finished, so no commit of a batch comes before one
// of an earlier batch.
func (l *local) checkBatchHistory(since string, rollout, first []string) {
	t := l.t
	t.Helper()
	batchOf := map[string]int{}
	for _, n := range first {
		batchOf[n] = 0
	}
	i := 0
	for _, n := range rollout {
		if _, ok := batchOf[n]; !ok {
			batchOf[n] = 1 + i/10
			i++
		}
	}
	log := l.git("log", "--reverse", "--format=%H%n%B%x00", since+"..main", "--", websitesDir)
	commitOf := map[string]int{}
	commits := 0
	var order []string
	for _, msg := range strings.Split(log, "\x00") {
		if strings.TrimSpace(msg) == "" {
			continue
		}
		for _, m := range resourceTrailer.FindAllStringSubmatch(msg, -1) {
			if _, seen := commitOf[m[1]]; !seen {
				commitOf[m[1]] = commits
				order = append(order, m[1])
			}
		}
		commits++
	}
	t.Logf("v3.0.0's rollout: %d commits change the requests' files", commits)
	if len(order) != len(rollout) {
		t.Errorf("the commits after v2.0.0 change %d requests' files, want the %d of the rollout: %v", len(order), len(rollout), order)
	}
	lastBatch, lastCommit := -1, -1
	var story []string
	for _, name := range order {
		b, ok := batchOf[name]
		if !ok {
			t.Errorf("a commit of v3.0.0's rollout changes %s, which is not in the rollout", name)
			continue
		}
		if b < lastBatch {
			t.Errorf("%s (batch %d) changed in commit %d, after a request of batch %d (commit %d)", name, b+1, commitOf[name], lastBatch+1, lastCommit)
		}
		if b != lastBatch {
			story = append(story, fmt.Sprintf("batch %d from commit %d", b+1, commitOf[name]))
		}
		lastBatch, lastCommit = max(lastBatch, b), commitOf[name]
	}
	t.Logf("the history, batch by batch: %s", strings.Join(story, ", "))
}
