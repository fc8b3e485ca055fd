package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/config/policy"
	"kratix.dev/kratix/internal/localplatform"
)

// The repository's examples, which the test runs as the README and their own READMEs tell a user
// to.
const (
	updatesDir   = "../../examples/updates"
	workflowsDir = "../../examples/workflows"
)

// TestLocalPlatform runs the "Updates" scenario (examples/updates/README.md) and the resource
// workflow of examples/workflows against `kratix local`, stops the platform with SIGTERM, starts
// it again on the same data directory, and checks that everything is still there and still works.
// The workflow's parts are subtests, which skip, saying why, where they cannot run.
func TestLocalPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds kratix and runs `kratix local` (etcd, kube-apiserver, kube-controller-manager) for about half a minute; skipped under -short")
	}
	l := newLocal(t, buildTools(t))

	cold := l.start()
	t.Logf("cold start (fresh data directory): ready after %s", cold.Round(10*time.Millisecond))
	l.checkStarted()
	l.checkRunsAsItsUser()
	l.checkSecondStartRefused()

	l.updatesScenario()
	l.checkDestinationsBuild(t)
	workflows := l.subtest("workflows", "", l.workflowScenario)
	l.subtest("image-pipeline", "", l.imageScenario)

	head := strings.TrimSpace(l.git("rev-parse", "main"))
	took, err := l.stop()
	if err != nil {
		t.Fatalf("stop with SIGTERM: %v (after %s)\n%s", err, took, l.outputText())
	}
	t.Logf("stopped with SIGTERM in %s", took.Round(10*time.Millisecond))
	if procs := l.processesOf(); len(procs) > 0 {
		t.Fatalf("processes of the platform outlived it:\n%s", strings.Join(procs, "\n"))
	}

	warm := l.start()
	t.Logf("warm start (existing data directory): ready after %s", warm.Round(10*time.Millisecond))
	l.checkStarted()
	l.checkResumed(head)
	l.deleteMisscheduled()
	skip := ""
	if !workflows {
		skip = "the workflows subtest failed, so there is no Job of hello to collect"
	}
	l.subtest("workflows-garbage-collected", skip, l.checkGarbageCollected)
}

// checkRunsAsItsUser checks that every process of the platform runs as the user it was started
// as (nobody, when the test runs as root): no part needs root, the pipelines' sandboxes included.
func (l *local) checkRunsAsItsUser() {
	t := l.t
	t.Helper()
	want := os.Geteuid()
	if l.user != nil {
		want = int(l.user.Uid)
	}
	procs := l.processesOf()
	if len(procs) < 3 {
		t.Fatalf("found %d processes of the platform: %v", len(procs), procs)
	}
	for _, p := range procs {
		pid, _, _ := strings.Cut(p, ":")
		status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
		if err != nil {
			continue // ended meanwhile
		}
		for _, line := range strings.Split(string(status), "\n") {
			if uids, ok := strings.CutPrefix(line, "Uid:"); ok && strings.Fields(uids)[1] != strconv.Itoa(want) {
				t.Errorf("%s runs as uid %s, not %d", p, strings.Fields(uids)[1], want)
			}
		}
	}
}

// subtest runs f as a subtest of l's test, with l's helpers reporting to the subtest while it
// runs; a non-empty skip skips it with that reason. It returns whether the subtest ran and passed.
func (l *local) subtest(name, skip string, f func()) bool {
	ran := false
	passed := l.t.Run(name, func(t *testing.T) {
		if skip != "" {
			t.Skip(skip)
		}
		parent := l.t
		l.t = t
		defer func() { l.t = parent }()
		f()
		ran = true
	})
	return ran && passed
}

// checkStarted checks what a start must have done: one ready line after the instructions, etcd on
// HTTPS only, the admission policy that guards Works with its binding, and a ready store and
// Destination.
func (l *local) checkStarted() {
	t := l.t
	t.Helper()
	out := l.outputText()
	if n := strings.Count(out, "\n"+localplatform.ReadyLine+"\n"); n != 1 {
		t.Errorf("the ready line appears %d times:\n%s", n, out)
	}
	for _, want := range []string{"export KUBECONFIG=" + filepath.Join(l.dataDir, "kubeconfig"), "git -C ", "state.git log"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not say %q:\n%s", want, out)
		}
	}
	l.checkEtcdRefusesPlainHTTP()
	// Every admission policy of the install, and its binding.
	policies, err := policy.Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range policies {
		kind, name := strings.ToLower(obj.GetKind()), obj.GetName()
		if got := l.kubectl("get", kind, name, "-o", "jsonpath={.metadata.name}"); got != name {
			t.Errorf("%s %s: got %q", kind, name, got)
		}
	}
	if got := l.kubectl("get", "gitstatestore", localplatform.StoreName, "-o", "jsonpath={.status.status}"); got != "Ready" {
		t.Errorf("GitStateStore %s status = %q", localplatform.StoreName, got)
	}
	l.kubectl("wait", "--for=condition=Ready", "destination/"+localplatform.DestinationName, "--timeout=10s")
	if got := l.kubectl("get", "destination", localplatform.DestinationName, "-o", "jsonpath={.metadata.labels.environment}"); got != "local" {
		t.Errorf("Destination %s label environment = %q, want local", localplatform.DestinationName, got)
	}
}

// checkSecondStartRefused starts a second platform on the same data directory: it must say that
// one runs already and exit non-zero, leaving the first alone.
func (l *local) checkSecondStartRefused() {
	t := l.t
	t.Helper()
	cmd := l.command(t.Context())
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill() // the test fails anyway; Wait returns once it is dead
		<-done
		t.Fatalf("a second start on the same data directory is still running after 30s:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("a second start on the same data directory: err=%v, output:\n%s", err, out)
	}
	if !l.running() {
		t.Fatal("the first platform stopped when a second one started")
	}
}

// updatesScenario is examples/updates/README.md, steps 1 to 4.
func (l *local) updatesScenario() {
	t := l.t
	t.Helper()
	l.kubectl("apply", "-f", filepath.Join(updatesDir, "destinations.yaml"))
	l.kubectl("wait", "--for=condition=Ready", "destination/dev-cluster-1", "destination/prod-cluster-1", "--timeout=60s")

	// Step 2: foo on dev, nothing of the Promise on prod.
	l.kubectl("apply", "-f", filepath.Join(updatesDir, "promise-v1.yaml"))
	devFile := l.waitForFile("dev-cluster-1/dependencies/promise-name", "/static/promise-name-dependencies.yaml", "name: foo")
	if files := l.filesUnder("prod-cluster-1/dependencies/promise-name", ""); len(files) > 0 {
		t.Errorf("prod-cluster-1 holds files of the Promise v1: %v", files)
	}
	devBlob := l.git("rev-parse", "main:"+devFile)

	// Step 3: bar on prod; dev keeps foo, unchanged, and its WorkPlacement is misscheduled.
	l.kubectl("apply", "-f", filepath.Join(updatesDir, "promise-v2.yaml"))
	l.waitForFile("prod-cluster-1/dependencies/promise-name", "/static/promise-name-dependencies.yaml", "name: bar")
	eventually(t, "the dev WorkPlacement is misscheduled", func() error {
		got, err := l.kubectlErr("get", "workplacements", "-A", "-l", "kratix.io/misscheduled=true", "-o", "jsonpath={.items[*].spec.targetDestinationName}")
		if err != nil || got != "dev-cluster-1" {
			return fmt.Errorf("misscheduled placements' destinations: %q (%v)", got, err)
		}
		return nil
	})
	if got := l.git("rev-parse", "main:"+devFile); got != devBlob {
		t.Errorf("%s changed after the Promise moved to prod", devFile)
	}

	// Step 4: both placements listed, the dev one misscheduled.
	list := l.kubectl("get", "workplacements", "-A", "--show-labels")
	for _, want := range []string{"dev-cluster-1", "prod-cluster-1", "kratix.io/misscheduled=true"} {
		if !strings.Contains(list, want) {
			t.Errorf("kubectl get workplacements -A --show-labels does not show %q:\n%s", want, list)
		}
	}
	l.checkHistory("prod-cluster-1", "kratix: update prod-cluster-1: promise-name", "Kratix-Promise: promise-name")
}

// waitForFile waits for a file below dir whose name ends with suffix and which contains want; it
// returns the file's path.
func (l *local) waitForFile(dir, suffix, want string) string {
	t := l.t
	t.Helper()
	var path string
	eventually(t, fmt.Sprintf("a file %s/...%s with %q", dir, suffix, want), func() error {
		if _, err := l.gitErr("rev-parse", "--verify", "--quiet", "main"); err != nil {
			return fmt.Errorf("no main branch yet")
		}
		files := l.filesUnder(dir, suffix)
		if len(files) != 1 {
			return fmt.Errorf("files: %v", files)
		}
		content, err := l.gitErr("show", "main:"+files[0])
		if err != nil || !strings.Contains(content, want) {
			return fmt.Errorf("%s holds %q (%v)", files[0], content, err)
		}
		path = files[0]
		return nil
	})
	return path
}

// checkHistory checks that the history of a Destination's directory has a commit whose message
// starts with subject and carries the trailers.
func (l *local) checkHistory(dir, subject string, trailers ...string) {
	t := l.t
	t.Helper()
	log := l.git("log", "--format=%B%x00", "main", "--", dir)
	for _, msg := range strings.Split(log, "\x00") {
		msg = strings.TrimSpace(msg)
		if !strings.HasPrefix(msg, subject) {
			continue
		}
		for _, tr := range append([]string{"Kratix-Destination: " + dir}, trailers...) {
			if !strings.Contains(msg, "\n"+tr) {
				t.Errorf("the commit %q lacks the trailer %q:\n%s", subject, tr, msg)
			}
		}
		return
	}
	t.Errorf("no commit %q in the history of %s:\n%s", subject, dir, log)
}

// checkDestinationsBuild builds each Destination's directory, and its dependencies/ and
// resources/, as Flux would, and checks that the Namespaces of the scenario are in them.
func (l *local) checkDestinationsBuild(t *testing.T) {
	t.Helper()
	root := l.checkout(t)
	want := map[string]string{"local": "kratix-worker-system", "dev-cluster-1": "name: foo", "prod-cluster-1": "name: bar"}
	for dest, manifest := range want {
		out := l.fluxBuild(t, filepath.Join(root, dest))
		if !strings.Contains(out, manifest) || !strings.Contains(out, "name: kratix-info") {
			t.Errorf("kustomize build %s lacks %q or the canary ConfigMap:\n%s", dest, manifest, out)
		}
		for _, sub := range []string{"dependencies", "resources"} {
			l.fluxBuild(t, filepath.Join(root, dest, sub))
		}
	}
}

// workflowScenario is examples/workflows/README.md, steps 1, 2 and 4, with its commands: the
// Promise's resource workflow runs in the local job runner (its busybox container on the host's
// tools, in the sandbox; the engine's adapter containers as the kratix binary), and its
// ConfigMap lands on dev-cluster-1.
// Deleting the request removes its directory (checkGarbageCollected follows up on its Job).
func (l *local) workflowScenario() {
	t := l.t
	t.Helper()
	// Step 1: the directory holds the Promise and a request of the API that the Promise installs.
	// The first apply creates the Promise and is refused the request, whose kind does not exist
	// yet; once the Promise is Available, a second apply creates the request.
	dir := workflowsDir + "/"
	out, err := l.kubectlErr("apply", "-f", dir)
	if err == nil || !strings.Contains(out, "promise.platform.kratix.io/appconfig created") || !strings.Contains(out, `no matches for kind "AppConfig"`) {
		t.Errorf("the first kubectl apply -f %s: err=%v, want the Promise created and the request refused for want of its CRD, as the README says:\n%s", dir, err, out)
	}
	l.kubectl("wait", "--for=condition=Available", "promise/appconfig", "--timeout=60s")
	// The API server can publish a new kind a moment after the CRD is established: retry on that
	// alone.
	eventually(t, "the second kubectl apply -f "+dir, func() error {
		out, err := l.kubectlErr("apply", "-f", dir)
		switch {
		case err != nil && strings.Contains(out, "no matches for kind"):
			return fmt.Errorf("%v: %s", err, out)
		case err != nil:
			t.Fatalf("the second kubectl apply -f %s: %v\n%s", dir, err, out)
		case !strings.Contains(out, "appconfig.example.platform.io/hello created") || !strings.Contains(out, "promise.platform.kratix.io/appconfig unchanged"):
			t.Errorf("the second kubectl apply -f %s does not say that it created hello and left the Promise unchanged:\n%s", dir, out)
		}
		return nil
	})
	path := l.waitForFile("dev-cluster-1/resources/default/appconfig/hello", "/configmap.yaml", `renderVersion: "1"`)
	if path != "dev-cluster-1/resources/default/appconfig/hello/render/5058f/configmap.yaml" {
		t.Errorf("the ConfigMap of hello is at %s", path)
	}
	eventually(t, "hello's status message", func() error {
		got, err := l.kubectlErr("get", "appconfig", "hello", "-o", "jsonpath={.status.message}")
		if err != nil || got != "rendered by version 1" {
			return fmt.Errorf("message %q (%v)", got, err)
		}
		return nil
	})
	if jobs := l.kubectl("get", "jobs", "-l", "kratix.io/resource-name=hello", "-o", "name"); strings.TrimSpace(jobs) == "" {
		t.Fatal("hello has no Job")
	}
	l.checkHistory("dev-cluster-1", "kratix: update dev-cluster-1: appconfig/default/hello (render)", "Kratix-Resource: default/hello", "Kratix-Pipeline: render")

	l.kubectl("delete", "appconfig", "hello", "--timeout=60s")
	eventually(t, "hello's directory is removed", func() error {
		if files := l.filesUnder("dev-cluster-1/resources/default/appconfig/hello", ""); len(files) > 0 {
			return fmt.Errorf("still there: %v", files)
		}
		return nil
	})
}

// checkGarbageCollected checks that kube-controller-manager's garbage collector removed the Job
// of the deleted request hello, which the request owned. It runs after the restart: the
// collector learns of a new API (the Promise's CRD) only at its next discovery, every 30 seconds,
// while at its start it knows them all and collects at once.
func (l *local) checkGarbageCollected() {
	t := l.t
	t.Helper()
	eventually(t, "the garbage collector removes hello's Job", func() error {
		jobs, err := l.kubectlErr("get", "jobs", "-l", "kratix.io/resource-name=hello", "-o", "name")
		if err != nil || strings.TrimSpace(jobs) != "" {
			return fmt.Errorf("jobs: %q (%v)", jobs, err)
		}
		return nil
	})
}

// checkResumed checks, after a restart, that the objects and the history are still there.
func (l *local) checkResumed(head string) {
	t := l.t
	t.Helper()
	if out, err := l.gitErr("merge-base", "--is-ancestor", head, "main"); err != nil {
		t.Errorf("the history before the restart (%s) is not part of main: %v %s", head, err, out)
	}
	if got := l.kubectl("get", "destinations", "-o", "name"); !containsAll(got, "destination.platform.kratix.io/dev-cluster-1", "destination.platform.kratix.io/prod-cluster-1", "destination.platform.kratix.io/local") {
		t.Errorf("Destinations after the restart:\n%s", got)
	}
	l.kubectl("wait", "--for=condition=Ready", "destination/dev-cluster-1", "destination/prod-cluster-1", "--timeout=60s")
	if got := l.kubectl("get", "promise", "promise-name", "-o", "jsonpath={.spec.dependencies[0].metadata.name}"); got != "bar" {
		t.Errorf("the Promise after the restart has the dependency %q, want bar", got)
	}
	if got := l.kubectl("get", "workplacements", "-A", "-l", "kratix.io/misscheduled=true", "-o", "jsonpath={.items[*].spec.targetDestinationName}"); got != "dev-cluster-1" {
		t.Errorf("misscheduled placements after the restart: %q", got)
	}
}

// deleteMisscheduled is step 5 of the Updates scenario: deleting the misscheduled WorkPlacement
// removes foo from dev-cluster-1 in a commit of its own.
func (l *local) deleteMisscheduled() {
	t := l.t
	t.Helper()
	l.kubectl("delete", "workplacements", "-A", "-l", "kratix.io/misscheduled=true", "--timeout=60s")
	eventually(t, "foo is removed from dev-cluster-1", func() error {
		if files := l.filesUnder("dev-cluster-1/dependencies/promise-name", ""); len(files) > 0 {
			return fmt.Errorf("still there: %v", files)
		}
		return nil
	})
	last := strings.TrimSpace(l.git("log", "-1", "--format=%H", "main", "--", "dev-cluster-1"))
	subject := l.git("log", "-1", "--format=%s", last)
	if !strings.HasPrefix(subject, "kratix: delete dev-cluster-1: promise-name") {
		t.Errorf("the commit that removed foo is %q", strings.TrimSpace(subject))
	}
	for _, f := range strings.Fields(l.git("show", "--name-only", "--format=", last)) {
		if !strings.HasPrefix(f, "dev-cluster-1/dependencies/promise-name/") {
			t.Errorf("the commit that removed foo also touches %s", f)
		}
	}
	story := l.git("log", "--format=%s", "main", "--", "dev-cluster-1")
	for _, want := range []string{"kratix: update dev-cluster-1", "kratix: delete dev-cluster-1: promise-name"} {
		if !strings.Contains(story, want) {
			t.Errorf("git log -- dev-cluster-1 lacks %q:\n%s", want, story)
		}
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
