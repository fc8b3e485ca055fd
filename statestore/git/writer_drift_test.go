package git

import (
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
	drifts := make(chan string, 16)
	f.writer.OnDrift(func(why string) { drifts <- why })
	ctx := testContext(t)
	c := change("dev/app", "cm.yaml", "kind: ConfigMap")
	if _, err := f.writer.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}

	f.removeExternally(t, "dev/app/cm.yaml")
	waitForDrift(t, drifts)
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
	drifts := make(chan string, 16)
	f.writer.OnDrift(func(why string) { drifts <- why })
	ctx := testContext(t)
	changes := []statestore.Change{change("dev/a", "a.yaml", "a"), change("dev/b", "b.yaml", "b"), change("dev/c", "c.yaml", "c")}
	for _, c := range changes {
		if _, err := f.writer.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f.git(t, "update-ref", "-d", "refs/heads/main")
	if why := waitForDrift(t, drifts); why != "the branch was deleted" {
		t.Errorf("the drift was reported as %q, want that the branch was deleted", why)
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

// waitForDrift waits for the writer's drift handler to be called and returns what it was told.
func waitForDrift(t *testing.T, drifts <-chan string) string {
	t.Helper()
	select {
	case why := <-drifts:
		return why
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not notice that the branch changed")
		return ""
	}
}
