package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"kratix.dev/kratix/internal/testenv"
)

// stopTimeout bounds how long a manager process may take to stop on SIGTERM before it is killed.
const stopTimeout = 45 * time.Second

// managerProcess runs the engine as `kratix manager`, the binary that the Deployment runs, in
// its own process, so that a scenario can kill it with SIGKILL: no deferred function, no
// graceful shutdown, no flush, as when the kernel's OOM killer or a node's failure ends it.
type managerProcess struct {
	binary string
	logs   *testenv.LogBuffer

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	started int
}

// newManagerProcess builds cmd/kratix into the test's temporary directory. Every process it
// starts is stopped when the test ends, and the log of all of them is printed if the test fails.
func newManagerProcess(t *testing.T) *managerProcess {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := &managerProcess{binary: filepath.Join(t.TempDir(), "kratix"), logs: &testenv.LogBuffer{}}
	build := exec.CommandContext(t.Context(), "go", "build", "-o", p.binary, "./cmd/kratix")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kratix: %v\n%s", err, out)
	}
	return p
}

// start starts a manager process against the control plane, with the concurrency of the
// in-process managers of the other scenarios, metrics and probes off.
func (p *managerProcess) start(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		t.Fatal("a manager process is running already")
	}
	cmd := exec.Command(p.binary, "manager",
		"--kubeconfig", env.Kubeconfig(),
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
		"--max-concurrent-reconciles", "default=4,work=4,workplacement=4",
		"--zap-devel",
	)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kratix manager: %v", err)
	}
	p.started++
	fmt.Fprintf(p.logs, "--- manager process %d (pid %d) started ---\n", p.started, cmd.Process.Pid)
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(p.logs, "--- manager process (pid %d) exited: %v ---\n", cmd.Process.Pid, err)
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	if p.started == 1 {
		t.Cleanup(func() {
			if err := p.stop(); err != nil {
				t.Errorf("stop the manager process: %v", err)
			}
			printLog(t, "manager processes' log", p.logs)
		})
	}
}

// kill sends SIGKILL to the running process and waits until it is gone.
func (p *managerProcess) kill(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		t.Fatal("no manager process runs")
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill the manager process: %v", err)
	}
	<-p.exited
	p.cmd = nil
}

// stop stops the running process, if any, as Kubernetes stops a pod: SIGTERM, then SIGKILL
// after stopTimeout.
func (p *managerProcess) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	defer func() { p.cmd = nil }()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.exited
	return fmt.Errorf("it did not stop within %s of SIGTERM and was killed", stopTimeout)
}
