package git

import (
	"fmt"
	"sync"
	"testing"
)

// commitSizes records what Options.OnCommit hears.
type commitSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (c *commitSizes) observe(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sizes = append(c.sizes, n)
}

func (c *commitSizes) get() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.sizes...)
}

// TestOnCommitSeesEveryCommitAndItsSize: OnCommit hears of each pushed commit, before its callers
// do, with the number of changes it carries; a write that changes nothing commits nothing and is
// not heard of; concurrent writes grouped into one commit are counted together, and the sizes
// add up to the writes that changed the store.
func TestOnCommitSeesEveryCommitAndItsSize(t *testing.T) {
	var seen commitSizes
	f := newRepoFixture(t, Options{OnCommit: seen.observe})
	ctx := testContext(t)

	if _, err := f.writer.Apply(ctx, change("dev/a", "a.yaml", "1")); err != nil {
		t.Fatal(err)
	}
	if got := seen.get(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("after one write OnCommit heard %v, want [1]", got)
	}
	if _, err := f.writer.Apply(ctx, change("dev/a", "a.yaml", "1")); err != nil {
		t.Fatal(err)
	}
	if got := seen.get(); len(got) != 1 {
		t.Fatalf("a write that changed nothing was heard of: %v", got)
	}

	const writers = 32
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := f.writer.Apply(ctx, change(fmt.Sprintf("dev/b%d", i), "b.yaml", "1")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := seen.get()[1:]
	total := 0
	for _, n := range got {
		if n < 1 {
			t.Errorf("a commit of %d changes was heard of", n)
		}
		total += n
	}
	if total != writers {
		t.Errorf("commit sizes %v add up to %d, want %d", got, total, writers)
	}
	if commits := f.commits(t); commits != 1+len(got) {
		t.Errorf("%d commits on main, OnCommit heard of %d", commits, 1+len(got))
	}
	t.Logf("%d concurrent writes in commits of %v changes", writers, got)
}
