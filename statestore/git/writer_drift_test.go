package git

import (
	"testing"
	"time"
)

// TestDriftIsNoticedAndWrittenAgain: someone deletes one of the engine's files and pushes. An
// idle writer notices within its head-check interval, tells its handler and drops its clone, so
// that the engine's next write of the same content puts the file back instead of answering
// "unchanged" from a clone the branch no longer matches.
func TestDriftIsNoticedAndWrittenAgain(t *testing.T) {
	f := newRepoFixture(t, Options{HeadCheckInterval: 50 * time.Millisecond})
	drifts := make(chan struct{}, 16)
	f.writer.OnDrift(func() { drifts <- struct{}{} })
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
	if got := f.files(t)["dev/app/cm.yaml"]; got != "kind: ConfigMap" {
		t.Errorf("dev/app/cm.yaml = %q after the write, want it back", got)
	}
	if data, err := f.writer.Read(ctx, "dev/app/cm.yaml"); err != nil || string(data) != "kind: ConfigMap" {
		t.Errorf("Read = %q, %v", data, err)
	}
}

// TestDeletedBranchIsNoticed: the branch is deleted; the writer notices and tells its handler.
func TestDeletedBranchIsNoticed(t *testing.T) {
	f := newRepoFixture(t, Options{HeadCheckInterval: 50 * time.Millisecond})
	drifts := make(chan struct{}, 16)
	f.writer.OnDrift(func() { drifts <- struct{}{} })
	if _, err := f.writer.Apply(testContext(t), change("dev/app", "cm.yaml", "x")); err != nil {
		t.Fatal(err)
	}
	f.git(t, "update-ref", "-d", "refs/heads/main")
	waitForDrift(t, drifts)
}

// waitForDrift waits for the writer's drift handler to be called.
func waitForDrift(t *testing.T, drifts <-chan struct{}) {
	t.Helper()
	select {
	case <-drifts:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not notice that the branch changed")
	}
}
