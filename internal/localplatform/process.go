package localplatform

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is one child of the platform: etcd, kube-apiserver or kube-controller-manager.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	// done is closed when the process has ended; err is then its exit error.
	done chan struct{}
	err  error
}

// startProcess starts path with args, its output appended to logPath.
//
// The child gets its own process group, so that a Ctrl-C in the terminal reaches this process
// alone, which then stops the children in order (the engine before the API server before etcd).
// Should this process die without stopping them, the kernel kills them (Pdeathsig): no orphan
// keeps etcd's data or a port.
func startProcess(name, path string, args []string, logPath string) (*process, error) {
	logFile, err := openLog(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", name, err), logFile.Close())
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close() // the child is gone; a failed close loses nothing it wrote
		close(p.done)
	}()
	return p, nil
}

// exitError is non-nil once the process has ended: why it ended, with the end of its log.
func (p *process) exitError() error {
	select {
	case <-p.done:
	default:
		return nil
	}
	why := "exited"
	if p.err != nil {
		why = p.err.Error()
	}
	return fmt.Errorf("%s stopped unexpectedly (%s); the end of %s:\n%s", p.name, why, p.logPath, logTail(p.logPath, 20))
}

// stop asks the process to end (SIGTERM) and kills it after timeout. A process that ended by
// itself before is not an error here: exitError reports that while the platform runs.
func (p *process) stop(timeout time.Duration) error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	<-p.done
	return fmt.Errorf("%s did not stop within %s and was killed", p.name, timeout)
}

// openLog opens a process's log for this start, keeping the previous start's as <name>.1.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, fmt.Errorf("keep the previous log: %w", err)
		}
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

// logTail is the last n lines of a log, for an error message.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
