package git

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kratix.dev/kratix/statestore"
)

// TestDriftIsNoticedAndWrittenAgain: someone deletes one of the engine's files and pushes. An
// idle writer notices within its head-check interval, tells its handler and drops its clone, so
// that the engine's next write of the same content puts the file back instead of answering
// "unchanged" from a clone the branch no longer matches.
func TestDriftIsNoticedAndWrittenAgain(t *testing.T) {
	f := newRepoFixture(t, Options{HeadCheckInterval: 50 * time.Millisecond})
	drifts := f.watchDrifts()
	ctx := testContext(t)
	c := change("dev/app", "cm.yaml", "kind: ConfigMap")
	if _, err := f.writer.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}

	f.removeExternally(t, "dev/app/cm.yaml")
	if d := waitForDrift(t, drifts); d.All || !slices.Equal(d.Paths, []string{"dev"}) {
		// The only file of dev went, and dev with it.
		t.Errorf("the drift was reported as %+v, want the path dev", d)
	}
	res, err := f.writer.Apply(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed {
		t.Error("writing the deleted file again changed nothing: the writer answered from its old clone")
	}
	if msg := f.git(t, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "kratix: restore dev: p") || !strings.Contains(msg, "Kratix-Action: restore") {
		t.Errorf("the commit that puts the file back does not say it restores it:\n%s", msg)
	}
	if got := f.files(t)["dev/app/cm.yaml"]; got != "kind: ConfigMap" {
		t.Errorf("dev/app/cm.yaml = %q after the write, want it back", got)
	}
	if data, err := f.writer.Read(ctx, "dev/app/cm.yaml"); err != nil || string(data) != "kind: ConfigMap" {
		t.Errorf("Read = %q, %v", data, err)
	}
}

// TestDeletedBranchComesBackInOneCommit: the branch is deleted; the writer notices and tells
// its handler, and the writes that follow (every placement of the store, in the engine) are
// gathered into the one commit that creates the branch again, which says it restores them.
func TestDeletedBranchComesBackInOneCommit(t *testing.T) {
	f := newRepoFixture(t, Options{HeadCheckInterval: 50 * time.Millisecond, RestoreQuiet: 300 * time.Millisecond})
	drifts := f.watchDrifts()
	ctx := testContext(t)
	changes := []statestore.Change{change("dev/a", "a.yaml", "a"), change("dev/b", "b.yaml", "b"), change("dev/c", "c.yaml", "c")}
	for _, c := range changes {
		if _, err := f.writer.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f.git(t, "update-ref", "-d", "refs/heads/main")
	if d := waitForDrift(t, drifts); d.Why != "the branch was deleted" || !d.Touches("dev/a") {
		t.Errorf("the drift was reported as %+v, want that the branch was deleted, touching dev/a", d)
	}

	var wg sync.WaitGroup
	for _, c := range changes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.writer.Apply(ctx, c); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := f.commits(t); n != 1 {
		t.Errorf("the branch came back in %d commits, want 1", n)
	}
	if got := f.files(t); len(got) != 3 {
		t.Errorf("files %v, want the three", got)
	}
	if msg := f.git(t, "log", "-1", "--format=%s", "main"); !strings.Contains(msg, "restore 3") {
		t.Errorf("commit subject %q, want one that restores 3", msg)
	}
}

// watchDrifts has the fixture's writer send each drift it reports to the channel it returns.
func (f *repoFixture) watchDrifts() <-chan statestore.Drift {
	drifts := make(chan statestore.Drift, 16)
	f.writer.OnDrift(func(d statestore.Drift) { drifts <- d })
	return drifts
}

// applyAll applies the changes, one after the other.
func applyAll(t *testing.T, w *Writer, changes ...statestore.Change) {
	t.Helper()
	for _, c := range changes {
		if _, err := w.Apply(testContext(t), c); err != nil {
			t.Fatal(err)
		}
	}
}

// waitForDrift waits for the writer's drift handler to be called and returns what it was told.
func waitForDrift(t *testing.T, drifts <-chan statestore.Drift) statestore.Drift {
	t.Helper()
	select {
	case d := <-drifts:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not notice that the branch changed")
		return statestore.Drift{}
	}
}

// TestOthersCommitsOutsideTheRootAreNoDrift: someone else commits beside the store's root, and
// changes one file of several inside it. The writer reports no drift for the first, and for the
// second exactly the changed file, relative to the root; a push refused because of their commit
// tells the same.
func TestOthersCommitsOutsideTheRootAreNoDrift(t *testing.T) {
	f := newRepoFixture(t, Options{Root: "clusters", HeadCheckInterval: 50 * time.Millisecond})
	drifts := f.watchDrifts()
	ctx := testContext(t)
	applyAll(t, f.writer, change("dev/a", "a.yaml", "a"), change("dev/b", "b.yaml", "b"))

	f.commitExternally(t, "README.md", "# the platform's state")
	f.commitExternally(t, "clustersX/x.yaml", "not the root")
	// A write of new content meets the new head, by a head check or a refused push, before it
	// returns, and so does any drift report.
	if res, err := f.writer.Apply(ctx, change("dev/c", "c.yaml", "c")); err != nil || !res.Changed {
		t.Fatalf("writing dev/c = %+v, %v", res, err)
	}
	select {
	case d := <-drifts:
		t.Fatalf("commits outside the root were reported as a drift: %+v", d)
	default:
	}

	f.commitExternally(t, "clusters/dev/b/b.yaml", "edited by hand")
	d := waitForDrift(t, drifts)
	if d.All || !slices.Equal(d.Paths, []string{"dev/b/b.yaml"}) || d.Touches("dev/a") {
		t.Errorf("the drift was reported as %+v, want exactly dev/b/b.yaml", d)
	}

	// A push that meets someone else's commit finds it too.
	slow := f.newWriter(t, Options{Root: "clusters"})
	slowDrifts := make(chan statestore.Drift, 16)
	slow.OnDrift(func(d statestore.Drift) { slowDrifts <- d })
	if _, err := slow.Apply(ctx, change("dev/c", "c.yaml", "c")); err != nil {
		t.Fatal(err)
	}
	f.commitExternally(t, "clusters/dev/a/a.yaml", "edited by hand")
	if _, err := slow.Apply(ctx, change("dev/c", "c.yaml", "c2")); err != nil {
		t.Fatal(err)
	}
	if d := waitForDrift(t, slowDrifts); d.All || !slices.Equal(d.Paths, []string{"dev/a/a.yaml"}) || d.Why != "someone else pushed to the branch" {
		t.Errorf("the refused push reported %+v, want someone else's push touching dev/a/a.yaml", d)
	}
}

// TestChangesWhileTheWriterHadNoCloneAreDrift: a push fails (the server answers 500) and the
// writer drops its clone; someone then deletes one of the engine's files. The idle writer, with
// no clone to check, compares the branch with what it last pushed and reports the file, as it
// would have with its clone: the engine writes it again now, not at a placement's resync hours
// later.
func TestChangesWhileTheWriterHadNoCloneAreDrift(t *testing.T) {
	f := newRepoFixture(t, Options{HeadCheckInterval: 50 * time.Millisecond})
	drifts := f.watchDrifts()
	ctx := testContext(t)
	applyAll(t, f.writer, change("dev/a", "a.yaml", "a"), change("dev/b", "b.yaml", "b"))
	f.server.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			return false
		}
		http.Error(w, "unavailable", http.StatusInternalServerError)
		return true
	})
	if _, err := f.writer.Apply(ctx, change("dev/c", "c.yaml", "c")); err == nil {
		t.Fatal("the push went through the failing server")
	}
	f.server.SetIntercept(nil)

	f.removeExternally(t, "dev/a/a.yaml")
	if d := waitForDrift(t, drifts); d.All || !d.Touches("dev/a") || d.Touches("dev/b") {
		t.Errorf("the drift was reported as %+v, want dev/a alone", d)
	}
}

// TestAPushWhoseAnswerWasLostIsNoDrift: the writer gives up on a push that the server went on
// to take (its answer came after the writer's timeout). The branch then holds the writer's own
// commit, which is no one else's change: no drift is reported, and writing the same file again
// changes nothing.
func TestAPushWhoseAnswerWasLostIsNoDrift(t *testing.T) {
	f := newRepoFixture(t, Options{HeadCheckInterval: 50 * time.Millisecond, Timeout: 3 * time.Second})
	drifts := f.watchDrifts()
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, change("dev/a", "a.yaml", "a")); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	f.server.SetIntercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			once.Do(func() { time.Sleep(5 * time.Second) }) // past the writer's timeout
		}
		return false
	})
	b := change("dev/b", "b.yaml", "b")
	if _, err := f.writer.Apply(ctx, b); err == nil {
		t.Fatal("the writer waited past its timeout for the push's answer")
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.files(t)["dev/b/b.yaml"] != "b" {
		if time.Now().After(deadline) {
			t.Fatal("the server did not take the push it held")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case d := <-drifts:
		t.Fatalf("the writer's own push was reported as a drift: %+v", d)
	case <-time.After(time.Second): // twenty head checks
	}
	res, err := f.writer.Apply(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed {
		t.Error("writing dev/b again changed the branch: the writer did not take its own push as landed")
	}
}
