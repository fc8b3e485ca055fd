// Package e2e runs the product as a newcomer does: it builds the kratix binary, starts
// `kratix local` as a subprocess, drives it with kubectl through the examples, and reads the
// results with the git CLI and kustomize, the way a person (and Flux) would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kratix.dev/kratix/internal/localplatform"
	"kratix.dev/kratix/internal/testenv"
)

const (
	// readyTimeout bounds a start, to the ready line: generous for a cold, busy machine.
	readyTimeout = 4 * time.Minute
	// stopTimeout bounds a stop after SIGTERM.
	stopTimeout = 30 * time.Second
	// waitTimeout bounds each wait for the engine.
	waitTimeout = 90 * time.Second
)

// tools are the programs the test runs: the kratix binary it builds, and what `make tools`
// builds into bin/.
type tools struct {
	root      string // the repository
	binDir    string // bin/, holding k8s/<version>/
	kratix    string
	kubectl   string
	kustomize string
}

// buildTools builds the kratix binary into a temporary directory and finds the rest in bin/.
func buildTools(t *testing.T) tools {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tl := tools{root: root, binDir: filepath.Join(root, "bin"), kratix: filepath.Join(t.TempDir(), "kratix")}
	tl.kubectl = filepath.Join(tl.binDir, "kubectl")
	tl.kustomize = filepath.Join(tl.binDir, "kustomize")
	managers, _ := filepath.Glob(filepath.Join(tl.binDir, "k8s", "*", "kube-controller-manager")) // the pattern is valid
	for _, p := range []string{tl.kubectl, tl.kustomize} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make tools`", p)
		}
	}
	if len(managers) == 0 {
		t.Fatalf("no kube-controller-manager under %s: run `make tools`", filepath.Join(tl.binDir, "k8s"))
	}
	build := exec.Command("go", "build", "-o", tl.kratix, "./cmd/kratix")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kratix: %v\n%s", err, out)
	}
	return tl
}

// local is `kratix local` on one data directory, started and stopped by the test; the test's
// cleanup stops it if it still runs, even when the test failed.
type local struct {
	t       *testing.T
	tools   tools
	dataDir string
	home    string
	// user, when set, is who the platform runs as (the test runs as root).
	user *syscall.Credential

	mu     sync.Mutex
	cmd    *exec.Cmd
	output *bytes.Buffer // this run's stdout and stderr
	exited chan struct{}
	err    error // the exit error, once exited is closed
}

func newLocal(t *testing.T, tl tools) *local {
	t.Helper()
	l := &local{t: t, tools: tl, dataDir: filepath.Join(t.TempDir(), "data"), home: t.TempDir()}
	if os.Geteuid() == 0 {
		l.asUnprivilegedUser()
	}
	t.Cleanup(func() {
		if l.running() {
			if _, err := l.stop(); err != nil {
				t.Errorf("stop kratix local: %v", err)
			}
		}
		if t.Failed() {
			l.dumpLogs()
		}
	})
	return l
}

// unprivileged is the user that the platform runs as when the test runs as root: nobody.
const unprivileged = 65534

// asUnprivilegedUser makes the platform run as an unprivileged user, as a person on a laptop runs
// it: its binaries, data directory and home move to a directory that user can reach (the test's
// temporary directories are root's alone).
func (l *local) asUnprivilegedUser() {
	t := l.t
	t.Helper()
	base, err := os.MkdirTemp("", "kratix-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tl := l.tools
	kratix := filepath.Join(base, "kratix")
	copyExecutable(t, tl.kratix, kratix)
	managers, _ := filepath.Glob(filepath.Join(tl.binDir, "k8s", "*", "kube-controller-manager")) // the pattern is valid
	version := filepath.Base(filepath.Dir(managers[0]))
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"} {
		copyExecutable(t, filepath.Join(tl.binDir, "k8s", version, name), filepath.Join(base, "bin", "k8s", version, name))
	}
	l.tools.kratix, l.tools.binDir = kratix, filepath.Join(base, "bin")
	l.dataDir, l.home = filepath.Join(base, "data"), filepath.Join(base, "home")
	for _, dir := range []string{l.dataDir, l.home} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, unprivileged, unprivileged); err != nil {
			t.Fatal(err)
		}
	}
	l.user = &syscall.Credential{Uid: unprivileged, Gid: unprivileged}
}

// copyExecutable copies a program to a new file of mode 0755, creating its directory.
func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

func (l *local) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, l.tools.kratix, append([]string{"local", "--data-dir", l.dataDir, "--bin-dir", l.tools.binDir}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+l.home, "XDG_CACHE_HOME="+filepath.Join(l.home, ".cache"))
	if l.user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: l.user}
	}
	return cmd
}

// start starts the platform and waits for its ready line; it returns how long that took.
func (l *local) start() time.Duration {
	l.t.Helper()
	cmd := l.command(context.Background())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	l.output = &bytes.Buffer{}
	cmd.Stderr = &lockedWriter{mu: &l.mu, w: l.output}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start kratix local: %v", err)
	}
	l.cmd, l.exited = cmd, make(chan struct{})
	ready := make(chan struct{})
	go l.read(stdout, ready)
	select {
	case <-ready:
		return time.Since(begin)
	case <-l.exited:
		l.t.Fatalf("kratix local exited before it was ready: %v\n%s", l.err, l.outputText())
	case <-time.After(readyTimeout):
		l.t.Fatalf("kratix local printed no %q within %s:\n%s", localplatform.ReadyLine, readyTimeout, l.outputText())
	}
	return 0
}

// read copies the platform's stdout into output, closes ready at the ready line, and records
// the exit once the output ends.
func (l *local) read(stdout io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		l.mu.Lock()
		l.output.WriteString(sc.Text() + "\n")
		l.mu.Unlock()
		if sc.Text() == localplatform.ReadyLine {
			close(ready)
		}
	}
	l.err = l.cmd.Wait()
	close(l.exited)
}

func (l *local) running() bool {
	if l.cmd == nil {
		return false
	}
	select {
	case <-l.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the exit; it kills the platform after stopTimeout. It returns
// how long the stop took and the exit error.
func (l *local) stop() (time.Duration, error) {
	begin := time.Now()
	if err := l.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-l.exited:
		return time.Since(begin), l.err
	case <-time.After(stopTimeout):
		_ = l.cmd.Process.Kill() // its children die with it (Pdeathsig)
		<-l.exited
		return time.Since(begin), fmt.Errorf("kratix local did not stop within %s after SIGTERM and was killed", stopTimeout)
	}
}

func (l *local) outputText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.output.String()
}

// dumpLogs prints the end of each log of the data directory.
func (l *local) dumpLogs() {
	l.t.Logf("kratix local output:\n%s", l.outputText())
	logs, _ := filepath.Glob(filepath.Join(l.dataDir, "logs", "*.log")) // the pattern is valid
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		l.t.Logf("--- end of %s:\n%s", path, strings.Join(lines, "\n"))
	}
}

// kubectl runs bin/kubectl against the platform and returns its output, failing the test on an
// error.
func (l *local) kubectl(args ...string) string {
	l.t.Helper()
	out, err := l.kubectlErr(args...)
	if err != nil {
		l.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (l *local) kubectlErr(args ...string) (string, error) {
	full := append([]string{"--kubeconfig", filepath.Join(l.dataDir, "kubeconfig"), "--cache-dir", filepath.Join(l.home, "kube-cache")}, args...)
	cmd := exec.Command(l.tools.kubectl, full...)
	cmd.Env = append(os.Environ(), "HOME="+l.home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// git runs the git CLI on the platform's state repository.
func (l *local) git(args ...string) string {
	l.t.Helper()
	out, err := l.gitErr(args...)
	if err != nil {
		l.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (l *local) gitErr(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", filepath.Join(l.dataDir, "state.git")}, args...)...)
	cmd.Env = l.gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// gitEnv is the environment of the test's git commands: the repository belongs to the
// platform's user, who may not be the test's, so git is told to trust it (a global
// configuration of the test's own: a `-c safe.directory` does not reach git-upload-pack).
func (l *local) gitEnv() []string {
	global := filepath.Join(l.t.TempDir(), "gitconfig")
	if err := os.WriteFile(global, []byte("[safe]\n\tdirectory = *\n"), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return append(os.Environ(), "HOME="+l.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+global)
}

// files lists the files on main.
func (l *local) files() []string {
	l.t.Helper()
	return strings.Fields(l.git("ls-tree", "-r", "--name-only", "main"))
}

// filesUnder lists the files on main below dir/ whose names end with suffix.
func (l *local) filesUnder(dir, suffix string) []string {
	l.t.Helper()
	var out []string
	for _, f := range l.files() {
		if strings.HasPrefix(f, dir+"/") && strings.HasSuffix(f, suffix) {
			out = append(out, f)
		}
	}
	return out
}

// processesOf lists the processes whose command line names the data directory: the platform's
// children (etcd, kube-apiserver, kube-controller-manager) are among them while it runs.
func (l *local) processesOf() []string {
	entries, _ := os.ReadDir("/proc") // no /proc: nothing to find
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(l.dataDir)) {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// checkEtcdRefusesPlainHTTP finds etcd's client URL on its command line and checks that etcd,
// which keeps every Secret, serves HTTPS only: a plain HTTP request, even for its version, gets
// no answer.
func (l *local) checkEtcdRefusesPlainHTTP() {
	t := l.t
	t.Helper()
	etcdURL, err := url.Parse(l.etcdClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if etcdURL.Scheme != "https" {
		t.Errorf("etcd listens on %s, not HTTPS", etcdURL)
	}
	etcdURL.Scheme, etcdURL.Path = "http", "/version"
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, etcdURL.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: transport, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("etcd answers plain HTTP: GET %s: %s", etcdURL, resp.Status)
	}
}

// etcdClientURL is the value of --listen-client-urls on etcd's command line.
func (l *local) etcdClientURL() string {
	l.t.Helper()
	const flag = "--listen-client-urls="
	for _, proc := range l.processesOf() {
		for _, arg := range strings.Fields(proc) {
			if value, ok := strings.CutPrefix(arg, flag); ok {
				return value
			}
		}
	}
	l.t.Fatalf("no process of the platform has %s", flag)
	return ""
}

// eventually calls check until it returns nil, failing the test with its last error after
// waitTimeout.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, what, waitTimeout, 250*time.Millisecond, check)
}

// lockedWriter serialises writes with the stdout reader's.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
