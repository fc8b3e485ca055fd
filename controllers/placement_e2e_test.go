package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/scheduling"
)

// readyDestinationOn creates a Destination named name with the labels on the Git store, its path
// its name, and waits until its canary files are written.
func readyDestinationOn(t *testing.T, store *v1alpha1.GitStateStore, name string, labels map[string]string) *v1alpha1.Destination {
	t.Helper()
	dest := destination(v1alpha1.KindGitStateStore, store.Name, name)
	dest.Name, dest.Labels = name, labels
	create(t, dest)
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	return dest
}

// placementKey is a WorkPlacement (not read) of the Work by name.
func placementKey(work *v1alpha1.Work, name string) *v1alpha1.WorkPlacement {
	return &v1alpha1.WorkPlacement{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: work.Namespace}}
}

// blob is the object id of a file on main: equal ids mean equal bytes.
func (f *gitFixture) blob(t *testing.T, path string) string {
	t.Helper()
	return f.revParse(t, "main:"+path)
}

// commitsTouching lists the commits on main that touched path, newest first.
func (f *gitFixture) commitsTouching(t *testing.T, path string) []string {
	t.Helper()
	out, err := f.git(t, "log", "--format=%H", "main", "--", path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}

// touched lists the files that a commit changed.
func (f *gitFixture) touched(t *testing.T, commit string) []string {
	t.Helper()
	out, err := f.git(t, "show", "--name-only", "--format=", commit)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}

// directoryGroup is a workload group for directory, scheduled by a resource workflow's
// destination-selectors.yaml entry, with one file (its path relative to the directory).
func directoryGroup(t *testing.T, directory string, selector map[string]string, file, content string) v1alpha1.WorkloadGroup {
	t.Helper()
	encoded, err := v1alpha1.EncodeContent([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	return v1alpha1.WorkloadGroup{
		ID:        scheduling.GroupID(directory),
		Directory: directory,
		Workloads: []v1alpha1.Workload{{Filepath: file, Content: encoded}},
		DestinationSelectors: []v1alpha1.WorkloadGroupScheduling{
			{MatchLabels: selector, Source: v1alpha1.SelectorSourceResourceWorkflow},
		},
	}
}

// seedWorld is what the seed scenario leaves behind.
type seedWorld struct {
	f         *gitFixture
	dev, prod *v1alpha1.Destination
	work      *v1alpha1.Work
	// devPlacement is the name of the Work's placement on dev (deleted at the end).
	devPlacement string
	// fooWrite is the commit that wrote foo under dev.
	fooWrite string
	// devFile and prodFile are where the Work's manifest lands on each Destination.
	devFile, prodFile string
}

// seedPipeline is the pipeline of the seed scenario's Work.
const seedPipeline = "promise-configure"

// runSeedScenario plays the seed's "Updates" scenario through the Work, WorkPlacement,
// Destination and state-store controllers onto the real Git server, checking each step: a
// Promise-level Work with selector dev writes Namespace foo under dev only; moved to prod with
// bar, it writes bar under prod, leaves foo byte for byte, and labels the dev placement
// misscheduled; baz replaces bar on prod only; deleting the misscheduled placements by label
// removes foo in a delete commit of its own.
func runSeedScenario(t *testing.T) *seedWorld {
	t.Helper()
	startManager(t)
	ns := v1alpha1.DefaultPlatformNS
	ensureNamespace(t, ns)
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	// The seed label keeps other tests' Destinations out; env is the label the scenario changes.
	seed := uniqueName("seed")
	devLabels := map[string]string{"env": "dev", "seed": seed}
	prodLabels := map[string]string{"env": "prod", "seed": seed}
	// One after the other, so that no commit holds both Destinations' canary files.
	w := &seedWorld{f: f}
	w.dev = readyDestinationOn(t, store, uniqueName("dev"), devLabels)
	w.prod = readyDestinationOn(t, store, uniqueName("prod"), prodLabels)

	w.work = newWork(t, ns, "", rootGroup(t, devLabels, namespaceManifest("foo")))
	w.work.Spec.PipelineName = seedPipeline
	createWork(t, w.work)
	work := w.work
	id := work.Spec.WorkloadGroups[0].ID[:5]
	w.devFile = w.dev.Spec.Path + "/dependencies/namespace/" + seedPipeline + "/" + id + "/manifest.yaml"
	w.prodFile = w.prod.Spec.Path + "/dependencies/namespace/" + seedPipeline + "/" + id + "/manifest.yaml"
	w.devPlacement = work.Name + "." + w.dev.Name
	prodPlacement := work.Name + "." + w.prod.Name

	// foo under dev only.
	devWP := placementKey(work, w.devPlacement)
	waitForPlacements(t, work, "a placement on dev only", func(wps []v1alpha1.WorkPlacement) error {
		if got := placementNames(wps); !slices.Equal(got, []string{w.devPlacement}) {
			return fmt.Errorf("placements %v", got)
		}
		return nil
	})
	waitForPlacement(t, devWP, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if got := f.show(t, w.devFile); got != namespaceManifest("foo") {
		t.Fatalf("%s = %q, want Namespace foo", w.devFile, got)
	}
	if got, want := f.filesUnder(t, w.dev.Spec.Path), append(canaryPaths(w.dev.Spec.Path), w.devFile); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("files under dev = %v, want %v", got, want)
	}
	if got, want := f.filesUnder(t, w.prod.Spec.Path), canaryPaths(w.prod.Spec.Path); !slices.Equal(got, want) {
		t.Errorf("files under prod = %v, want only the canary files %v", got, want)
	}
	w.fooWrite = devWP.Status.VersionID
	if got := f.commitsTouching(t, w.devFile); !slices.Equal(got, []string{w.fooWrite}) {
		t.Errorf("commits touching %s = %v, want the placement's versionID %s", w.devFile, got, w.fooWrite)
	}
	fooBlob, devSpec := f.blob(t, w.devFile), devWP.Spec

	// Selector prod with bar, then baz: prod follows, dev keeps foo and is misscheduled.
	for _, next := range []string{"bar", "baz"} {
		update(t, work, func(wk *v1alpha1.Work) {
			wk.Spec.WorkloadGroups = []v1alpha1.WorkloadGroup{rootGroup(t, prodLabels, namespaceManifest(next))}
		})
		want := work.Spec.WorkloadGroups[0].Workloads
		waitForPlacements(t, work, "prod holds "+next+" and dev is misscheduled", func(wps []v1alpha1.WorkPlacement) error {
			if got := placementNames(wps); !slices.Equal(sortedCopy(got), sortedCopy([]string{w.devPlacement, prodPlacement})) {
				return fmt.Errorf("placements %v", got)
			}
			for _, wp := range wps {
				if wp.Name == prodPlacement && !equality.Semantic.DeepEqual(wp.Spec.Workloads, want) {
					return fmt.Errorf("the prod placement does not hold %s yet", next)
				}
				if wp.Name == w.devPlacement && wp.Labels[v1alpha1.LabelMisscheduled] != v1alpha1.LabelMisscheduledValue {
					return fmt.Errorf("dev placement labels %v", wp.Labels)
				}
			}
			return nil
		})
		prodWP := placementKey(work, prodPlacement)
		waitForPlacement(t, prodWP, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
		if prodWP.IsMisscheduled() {
			t.Errorf("the prod placement is labelled misscheduled: %v", prodWP.Labels)
		}
		if got := f.show(t, w.prodFile); got != namespaceManifest(next) {
			t.Errorf("after %s: %s = %q", next, w.prodFile, got)
		}
		waitForPlacement(t, devWP, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonMisscheduled)
		if got := f.blob(t, w.devFile); got != fooBlob {
			t.Errorf("after %s: %s is blob %s (%q), want foo's blob %s", next, w.devFile, got, f.show(t, w.devFile), fooBlob)
		}
		if got, want := f.filesUnder(t, w.dev.Spec.Path), append(canaryPaths(w.dev.Spec.Path), w.devFile); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
			t.Errorf("after %s: files under dev = %v, want %v", next, got, want)
		}
		if !equality.Semantic.DeepEqual(devWP.Spec, devSpec) || devWP.Status.VersionID != w.fooWrite {
			t.Errorf("after %s: the dev placement changed: versionID %s (was %s), spec %+v", next, devWP.Status.VersionID, w.fooWrite, devWP.Spec)
		}
		if got := f.commitsTouching(t, w.devFile); !slices.Equal(got, []string{w.fooWrite}) {
			t.Errorf("after %s: commits touching %s = %v, want only %s", next, w.devFile, got, w.fooWrite)
		}
	}

	// kubectl delete workplacements -l kratix.io/misscheduled=true
	before := f.commits(t)
	if err := env.Client.DeleteAllOf(t.Context(), &v1alpha1.WorkPlacement{}, client.InNamespace(ns),
		client.MatchingLabels{v1alpha1.LabelMisscheduled: v1alpha1.LabelMisscheduledValue}); err != nil {
		t.Fatalf("delete the misscheduled WorkPlacements: %v", err)
	}
	waitFor(t, "the dev placement is gone", func() error {
		err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(devWP), devWP)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("still there, finalizers %v", devWP.Finalizers)
	})
	if got, want := f.filesUnder(t, w.dev.Spec.Path), canaryPaths(w.dev.Spec.Path); !slices.Equal(got, want) {
		t.Errorf("files under dev after the delete = %v, want only the canary files %v", got, want)
	}
	if got := f.commits(t); got != before+1 {
		t.Errorf("%d commits after the delete, want %d (one delete commit)", got, before+1)
	}
	last := f.commitsTouching(t, w.dev.Spec.Path)[0]
	subject, err := f.git(t, "log", "-1", "--format=%s", last)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(subject, "kratix: delete "+w.dev.Name) {
		t.Errorf("the last commit touching dev is %q, want a delete of %s", strings.TrimSpace(subject), w.dev.Name)
	}
	if got := f.touched(t, last); !slices.Equal(got, []string{w.devFile}) {
		t.Errorf("the delete commit touched %v, want only %s", got, w.devFile)
	}
	if got := f.show(t, w.prodFile); got != namespaceManifest("baz") {
		t.Errorf("%s after the delete = %q, want baz", w.prodFile, got)
	}
	if got := placementNames(listPlacements(t, work)); !slices.Equal(got, []string{prodPlacement}) {
		t.Errorf("placements after the delete = %v, want only %s", got, prodPlacement)
	}
	return w
}

// sortedCopy returns a sorted copy.
func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// The seed's "Updates" scenario end to end, checked in Git (see runSeedScenario).
func TestPlacementSeedScenarioInGit(t *testing.T) {
	runSeedScenario(t)
}

// gitCommit is one commit of `git log`, with its trailers.
type gitCommit struct {
	sha, subject string
	trailers     []string
}

// logWithTrailers lists the commits on main that touched path, newest first, with their trailers.
func (f *gitFixture) logWithTrailers(t *testing.T, path string) []gitCommit {
	t.Helper()
	out, err := f.git(t, "log", "--format=%H%x1f%s%x1f%(trailers:only,unfold)%x1e", "main", "--", path)
	if err != nil {
		t.Fatal(err)
	}
	var commits []gitCommit
	for _, rec := range strings.Split(out, "\x1e") {
		if rec = strings.TrimSpace(rec); rec == "" {
			continue
		}
		parts := strings.SplitN(rec, "\x1f", 3)
		if len(parts) != 3 {
			t.Fatalf("unexpected git log record %q", rec)
		}
		var trailers []string
		for _, line := range strings.Split(parts[2], "\n") {
			if line = strings.TrimSpace(line); line != "" {
				trailers = append(trailers, line)
			}
		}
		commits = append(commits, gitCommit{sha: parts[0], subject: parts[1], trailers: trailers})
	}
	return commits
}

// After the seed scenario, `git log -- <dev path>` is exactly dev's history: its canary commit,
// the write of foo and its delete, each with the trailers that say what it did and to which
// Destination; none of prod's commits.
func TestPlacementGitHistoryPerDestination(t *testing.T) {
	w := runSeedScenario(t)
	f := w.f
	wp := w.devPlacement
	dev := f.logWithTrailers(t, w.dev.Spec.Path)
	want := []gitCommit{
		{subject: "kratix: delete " + w.dev.Name + ": namespace (" + seedPipeline + ")", trailers: []string{
			"Kratix-Action: delete", "Kratix-Destination: " + w.dev.Name, "Kratix-Promise: namespace",
			"Kratix-Pipeline: " + seedPipeline, "Kratix-WorkPlacement: " + wp,
		}},
		{sha: w.fooWrite, subject: "kratix: update " + w.dev.Name + ": namespace (" + seedPipeline + ")", trailers: []string{
			"Kratix-Action: update", "Kratix-Destination: " + w.dev.Name, "Kratix-Promise: namespace",
			"Kratix-Pipeline: " + seedPipeline, "Kratix-WorkPlacement: " + wp,
		}},
		{subject: "kratix: update " + w.dev.Name, trailers: []string{
			"Kratix-Action: update", "Kratix-Destination: " + w.dev.Name,
		}},
	}
	if len(dev) != len(want) {
		t.Fatalf("git log -- %s lists %d commits, want %d:\n%+v", w.dev.Spec.Path, len(dev), len(want), dev)
	}
	for i, c := range dev {
		if want[i].sha != "" && c.sha != want[i].sha {
			t.Errorf("commit %d is %s, want the foo write %s", i, c.sha, want[i].sha)
		}
		if c.subject != want[i].subject {
			t.Errorf("commit %d subject %q, want %q", i, c.subject, want[i].subject)
		}
		if !slices.Equal(sortedCopy(c.trailers), sortedCopy(want[i].trailers)) {
			t.Errorf("commit %d (%s) trailers:\n%s\nwant:\n%s", i, c.subject, strings.Join(c.trailers, "\n"), strings.Join(want[i].trailers, "\n"))
		}
		for _, p := range f.touched(t, c.sha) {
			if !strings.HasPrefix(p, w.dev.Spec.Path+"/") {
				t.Errorf("commit %d (%s) touched %s, outside dev", i, c.subject, p)
			}
		}
	}

	// prod's history: its canary commit and the writes of bar and baz, none of them dev's.
	prod := f.logWithTrailers(t, w.prod.Spec.Path)
	if len(prod) != 3 {
		t.Errorf("git log -- %s lists %d commits, want 3 (canary, bar, baz): %+v", w.prod.Spec.Path, len(prod), prod)
	}
	for _, c := range prod {
		if slices.ContainsFunc(dev, func(d gitCommit) bool { return d.sha == c.sha }) {
			t.Errorf("prod's commit %s (%s) is in dev's history", c.sha, c.subject)
		}
		if !slices.Contains(c.trailers, "Kratix-Destination: "+w.prod.Name) || slices.Contains(c.trailers, "Kratix-Destination: "+w.dev.Name) {
			t.Errorf("prod's commit %s (%s) trailers %v", c.sha, c.subject, c.trailers)
		}
	}
}

// A resource request's Work goes to exactly one of two matching Destinations, and its files stay
// there, untouched, when a third matching Destination that rendezvous hashing prefers appears
// and the other Destination's labels change.
func TestPlacementResourceLevelStaysOnItsDestinationInGit(t *testing.T) {
	startManager(t)
	ns := metav1.NamespaceDefault
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	selector := map[string]string{"tier": uniqueName("gold")}
	a := readyDestinationOn(t, store, uniqueName("dest"), selector)
	b := readyDestinationOn(t, store, uniqueName("dest"), selector)
	work := newWork(t, ns, "my-request", rootGroup(t, selector, namespaceManifest("foo")))
	work.Spec.PipelineName = "instance-configure"
	createWork(t, work)

	wps := waitForPlacements(t, work, "one placement", func(wps []v1alpha1.WorkPlacement) error {
		if len(wps) != 1 {
			return fmt.Errorf("placements %v", placementNames(wps))
		}
		return nil
	})
	wp := &wps[0]
	chosen, other := a, b
	if wp.Spec.TargetDestinationName == b.Name {
		chosen, other = b, a
	} else if wp.Spec.TargetDestinationName != a.Name {
		t.Fatalf("placed on %q, not one of the matching Destinations", wp.Spec.TargetDestinationName)
	}
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	file := chosen.Spec.Path + "/resources/" + ns + "/namespace/my-request/instance-configure/" + wp.Spec.ID[:5] + "/manifest.yaml"
	if got := f.show(t, file); got != namespaceManifest("foo") {
		t.Fatalf("%s = %q, want Namespace foo", file, got)
	}
	if got, want := f.filesUnder(t, chosen.Spec.Path), append(canaryPaths(chosen.Spec.Path), file); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("files under the chosen Destination = %v, want %v", got, want)
	}
	if got, want := f.filesUnder(t, other.Spec.Path), canaryPaths(other.Spec.Path); !slices.Equal(got, want) {
		t.Errorf("files under the other Destination = %v, want only the canary files %v", got, want)
	}
	blob, history, version := f.blob(t, file), f.commitsTouching(t, chosen.Spec.Path), wp.Status.VersionID

	// The other Destination's labels change (it still matches); a third matching Destination
	// that rendezvous hashing prefers to the chosen one appears.
	update(t, other, func(d *v1alpha1.Destination) { d.Labels["zone"] = "b" })
	group := work.Spec.WorkloadGroups[0].ID
	best := scheduling.PlacementScore(ns, work.Name, group, chosen.Name)
	name := uniqueName("dest")
	for scheduling.PlacementScore(ns, work.Name, group, name) <= best {
		name = uniqueName("dest")
	}
	// Ready shows that the manager's cache holds it, and the relabelling before it.
	third := readyDestinationOn(t, store, name, selector)

	// A spec change that resolves to the same selector and files makes the Work plan again with
	// all three Destinations in view.
	update(t, work, func(w *v1alpha1.Work) {
		g := &w.Spec.WorkloadGroups[0]
		g.DestinationSelectors = append(g.DestinationSelectors, v1alpha1.WorkloadGroupScheduling{
			MatchLabels: selector, Source: v1alpha1.SelectorSourceResourceWorkflow,
		})
	})
	waitFor(t, "the Work planned its new generation", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(work), work); err != nil {
			return err
		}
		if work.Status.ObservedGeneration != work.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", work.Status.ObservedGeneration, work.Generation)
		}
		return nil
	})
	waitForWorkCondition(t, work, v1alpha1.ConditionScheduleSucceeded, metav1.ConditionTrue, v1alpha1.ReasonScheduled)
	wps = listPlacements(t, work)
	if got, want := placementNames(wps), []string{work.Name + "." + chosen.Name}; !slices.Equal(got, want) {
		t.Fatalf("placements %v, want %v", got, want)
	}
	if wps[0].IsMisscheduled() {
		t.Errorf("the placement is misscheduled: %v", wps[0].Labels)
	}
	waitForPlacement(t, &wps[0], v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if wps[0].Status.VersionID != version {
		t.Errorf("versionID %s, was %s: the placement was written again", wps[0].Status.VersionID, version)
	}
	if got := f.blob(t, file); got != blob {
		t.Errorf("%s changed: blob %s, was %s", file, got, blob)
	}
	if got := f.commitsTouching(t, chosen.Spec.Path); !slices.Equal(got, history) {
		t.Errorf("commits touching the chosen Destination went from %v to %v", history, got)
	}
	for _, d := range []*v1alpha1.Destination{other, third} {
		if got, want := f.filesUnder(t, d.Spec.Path), canaryPaths(d.Spec.Path); !slices.Equal(got, want) {
			t.Errorf("files under %s = %v, want only the canary files %v", d.Name, got, want)
		}
	}
}

// A Work whose root group and directory group select different Destinations writes each group's
// files under its own Destination only, each in its group's directory.
func TestPlacementDirectoryGroupsGoToTheirDestinations(t *testing.T) {
	startManager(t)
	ns := metav1.NamespaceDefault
	f := newGitFixture(t)
	store := f.readyGitStore(t)
	key := uniqueName("role")
	apps := readyDestinationOn(t, store, uniqueName("apps"), map[string]string{key: "apps"})
	data := readyDestinationOn(t, store, uniqueName("data"), map[string]string{key: "data"})
	root := rootGroup(t, map[string]string{key: "apps"}, namespaceManifest("app"))
	db := directoryGroup(t, "db", map[string]string{key: "data"}, "database.yaml", "kind: Database\n")
	work := newWork(t, ns, "my-request", root)
	work.Spec.PipelineName = "instance-configure"
	work.Spec.WorkloadGroups = append(work.Spec.WorkloadGroups, db)
	createWork(t, work)

	rootName := work.Name + "." + apps.Name
	dbName := work.Name + "." + data.Name + "-" + db.ID[:5]
	waitForPlacements(t, work, "one placement per group", func(wps []v1alpha1.WorkPlacement) error {
		if got := placementNames(wps); !slices.Equal(got, sortedCopy([]string{rootName, dbName})) {
			return fmt.Errorf("placements %v", got)
		}
		return nil
	})
	for _, name := range []string{rootName, dbName} {
		waitForPlacement(t, placementKey(work, name), v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	}
	base := "/resources/" + ns + "/namespace/my-request/instance-configure/"
	rootFile := apps.Spec.Path + base + root.ID[:5] + "/manifest.yaml"
	dbFile := data.Spec.Path + base + db.ID[:5] + "/database.yaml"
	if got, want := f.filesUnder(t, apps.Spec.Path), append(canaryPaths(apps.Spec.Path), rootFile); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("files under %s = %v, want %v", apps.Name, got, want)
	}
	if got, want := f.filesUnder(t, data.Spec.Path), append(canaryPaths(data.Spec.Path), dbFile); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("files under %s = %v, want %v", data.Name, got, want)
	}
	if got := f.show(t, rootFile); got != namespaceManifest("app") {
		t.Errorf("%s = %q", rootFile, got)
	}
	if got := f.show(t, dbFile); got != "kind: Database\n" {
		t.Errorf("%s = %q", dbFile, got)
	}
}
