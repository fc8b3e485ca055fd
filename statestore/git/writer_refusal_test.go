package git

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kratix.dev/kratix/statestore"
)

// policyHook is a pre-receive hook that refuses any push adding a file whose name holds
// "forbidden", as servers' push policies do.
const policyHook = `#!/bin/sh
while read old new ref; do
	if git diff --name-only "$old" "$new" 2>/dev/null | grep -q forbidden; then
		echo "policy: files named forbidden are not accepted" >&2
		exit 1
	fi
done
`

// holdFirstPush has the server hold the next push until release is called, so that the writes
// that arrive meanwhile form the writer's next batch.
func (f *repoFixture) holdFirstPush() (release func()) {
	queued := make(chan struct{})
	var once sync.Once
	f.server.SetIntercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			once.Do(func() { <-queued })
		}
		return false
	})
	return sync.OnceFunc(func() { close(queued) })
}

// TestRefusedChangeFailsAlone: the server refuses a push because of one change in a batch of
// twenty; that change fails, with the server's reason, and the nineteen others land.
func TestRefusedChangeFailsAlone(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, change("dev/seed", "f.yaml", "seed")); err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(f.server.Root(), f.repo, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte(policyHook), 0o755); err != nil {
		t.Fatal(err)
	}

	// The first push waits until every change is queued, so that the rest form one batch.
	release := f.holdFirstPush()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		name := fmt.Sprintf("ok-%02d.yaml", i)
		if i == n/2 {
			name = "forbidden.yaml"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.writer.Apply(ctx, change(fmt.Sprintf("dev/w%02d", i), name, "data"))
		}()
	}
	time.Sleep(200 * time.Millisecond) // the writer queues what arrives while the first push waits
	release()
	wg.Wait()

	files := f.files(t)
	for i, err := range errs {
		if i == n/2 {
			if err == nil || !strings.Contains(err.Error(), "policy: files named forbidden") {
				t.Errorf("the refused change: %v; want the server's reason", err)
			}
			if _, ok := files[fmt.Sprintf("dev/w%02d/forbidden.yaml", i)]; ok {
				t.Error("the refused file is on the branch")
			}
			continue
		}
		if err != nil {
			t.Errorf("change %d failed with the refused one: %v", i, err)
		}
		if _, ok := files[fmt.Sprintf("dev/w%02d/ok-%02d.yaml", i, i)]; !ok {
			t.Errorf("change %d is not on the branch", i)
		}
	}
	if !statestore.Retryable(errs[n/2]) {
		t.Errorf("a refusal may be a passing policy; it should stay retryable: %v", errs[n/2])
	}
	f.fsck(t)
}
