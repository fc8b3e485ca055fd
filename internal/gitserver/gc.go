package gitserver

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// maintenance runs `git gc --auto` after pushes, in the background as a real Git host does, but
// as a child the server tracks: Stop waits for it, so no git process outlives the server and
// nothing writes to a repository that Close is removing. Receive-pack's own gc is off
// (receive.autogc=false in DefaultServerConfig): it runs before the push's response completes
// and would stall the pushing client for the whole repack.
type maintenance struct {
	env  []string
	dir  string
	logf func(format string, args ...any)

	mu      sync.Mutex
	running map[string]bool // repository directories with a gc in progress: whether to run again
	wg      sync.WaitGroup
	ctx     context.Context // cancelled when wait gives up on a gc
	cancel  context.CancelFunc
}

func newMaintenance(env []string, dir string) *maintenance {
	m := &maintenance{env: env, dir: dir, running: map[string]bool{}, logf: func(string, ...any) {}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// afterPush starts `git gc --auto` for the repository, or, when one is running already, asks it
// to run once more when done (that push may have crossed the threshold after it looked). gc
// --auto returns quickly when there is nothing to do (no more than gc.autoPackLimit packs and
// gc.auto loose objects); gc.auto=0 in the server's configuration turns it off.
func (m *maintenance) afterPush(repoDir string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.running[repoDir]; ok {
		m.running[repoDir] = true
		return
	}
	m.running[repoDir] = false
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for m.gcOnce(repoDir) {
		}
	}()
}

// gcOnce runs one gc and says whether another push asked for one meanwhile.
func (m *maintenance) gcOnce(repoDir string) (again bool) {
	m.mu.Lock()
	ctx := m.ctx
	m.mu.Unlock()
	cmd := exec.CommandContext(ctx, "git", "--git-dir", repoDir, "gc", "--auto", "--quiet")
	cmd.Env = m.env
	cmd.Dir = m.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		m.logf("git gc --auto in %s: %v: %s", repoDir, err, strings.TrimSpace(out.String()))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[repoDir] && ctx.Err() == nil {
		m.running[repoDir] = false
		return true
	}
	delete(m.running, repoDir)
	return false
}

// wait waits for running gcs, killing them after timeout. Callers make sure no push is in
// flight, so that no new gc starts meanwhile.
func (m *maintenance) wait(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(timeout):
	}
	m.mu.Lock()
	m.cancel()
	m.mu.Unlock()
	<-done
	m.mu.Lock()
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.Unlock()
}
