package fluxe2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"kratix.dev/kratix/internal/flux"
	"kratix.dev/kratix/internal/localplatform"
	"kratix.dev/kratix/internal/testenv"
)

// tools are the programs the tests run: the kratix binary they build, and what `make tools`
// builds into bin/ (kubectl and Flux's controllers).
type tools struct {
	root    string
	binDir  string
	kratix  string
	kubectl string
	flux    flux.Binaries
}

// findTools builds the kratix binary into a temporary directory and finds the rest in bin/; a
// missing tool fails the test, naming `make tools`.
func findTools(t *testing.T) tools {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tl := tools{root: root, binDir: filepath.Join(root, "bin"), kratix: filepath.Join(t.TempDir(), "kratix")}
	if tl.flux, err = flux.FindBinaries(tl.binDir); err != nil {
		t.Fatal(err)
	}
	tl.kubectl = filepath.Join(tl.binDir, "kubectl")
	if _, err := os.Stat(tl.kubectl); err != nil {
		t.Fatalf("%s is missing: run `make tools`", tl.kubectl)
	}
	build := exec.Command("go", "build", "-o", tl.kratix, "./cmd/kratix")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kratix: %v\n%s", err, out)
	}
	return tl
}

// platform is `kratix local`, started by the test and stopped by its cleanup.
type platform struct {
	t       *testing.T
	tools   tools
	args    []string
	dataDir string
	home    string
	begin   time.Time
	ready   chan struct{}

	mu     sync.Mutex
	cmd    *exec.Cmd
	output bytes.Buffer
	exited chan struct{}
	err    error
}

// startPlatform starts `kratix local` with args on a fresh data directory and waits until it is
// ready.
func startPlatform(t *testing.T, tl tools, args ...string) *platform {
	t.Helper()
	p := launchPlatform(t, tl, args...)
	p.waitReady()
	return p
}

// launchPlatform starts `kratix local` with args on a fresh data directory; waitReady waits for
// its ready line. The test's cleanup stops it.
func launchPlatform(t *testing.T, tl tools, args ...string) *platform {
	t.Helper()
	p := &platform{t: t, tools: tl, args: args, dataDir: filepath.Join(t.TempDir(), "data"), home: t.TempDir(), exited: make(chan struct{}), ready: make(chan struct{})}
	p.cmd = exec.Command(tl.kratix, append([]string{"local", "--data-dir", p.dataDir, "--bin-dir", tl.binDir}, args...)...)
	p.cmd.Env = append(os.Environ(), "HOME="+p.home, "XDG_CACHE_HOME="+filepath.Join(p.home, ".cache"))
	// Should the test binary die (a go test timeout), the platform dies with it, and its
	// children with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.output}
	p.begin = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start kratix local: %v", err)
	}
	t.Cleanup(p.stop)
	go p.read(stdout)
	return p
}

// waitReady waits for the platform's ready line.
func (p *platform) waitReady() {
	p.t.Helper()
	select {
	case <-p.ready:
		p.t.Logf("kratix local %s: ready after %s", strings.Join(p.args, " "), time.Since(p.begin).Round(100*time.Millisecond))
	case <-p.exited:
		p.t.Fatalf("kratix local exited before it was ready: %v\n%s", p.err, p.outputText())
	case <-time.After(4 * time.Minute):
		p.t.Fatalf("kratix local printed no %q within 4m:\n%s", localplatform.ReadyLine, p.outputText())
	}
}

func (p *platform) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		p.mu.Lock()
		p.output.WriteString(sc.Text() + "\n")
		p.mu.Unlock()
		if sc.Text() == localplatform.ReadyLine {
			close(p.ready)
		}
	}
	p.err = p.cmd.Wait()
	close(p.exited)
}

// stop sends SIGTERM and waits; it kills the platform after 30 s. On a failed test it logs the
// end of the platform's logs.
func (p *platform) stop() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // it may have ended meanwhile: the wait tells
		select {
		case <-p.exited:
			if p.err != nil {
				p.t.Errorf("kratix local: %v", p.err)
			}
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill() // its children die with it (Pdeathsig)
			<-p.exited
			p.t.Errorf("kratix local did not stop within 30s of SIGTERM")
		}
	}
	if p.t.Failed() {
		p.t.Logf("kratix local output:\n%s", p.outputText())
		logs, _ := filepath.Glob(filepath.Join(p.dataDir, "logs", "*.log")) // the pattern is valid
		for _, log := range logs {
			p.t.Logf("--- end of %s:\n%s", log, flux.LogTail(log, 60))
		}
	}
}

func (p *platform) outputText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

func (p *platform) kubeconfig() string { return filepath.Join(p.dataDir, "kubeconfig") }

// kubectl runs kubectl against the platform; stdin, when not empty, is its standard input.
func (p *platform) kubectl(stdin string, args ...string) string {
	p.t.Helper()
	out, err := p.kubectlErr(stdin, args...)
	if err != nil {
		p.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (p *platform) kubectlErr(stdin string, args ...string) (string, error) {
	return runKubectl(p.tools.kubectl, p.kubeconfig(), p.home, stdin, args...)
}

func runKubectl(kubectl, kubeconfig, home, stdin string, args ...string) (string, error) {
	full := append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(home, "kube-cache")}, args...)
	cmd := exec.Command(kubectl, full...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

// eventually calls check until it returns nil, failing the test with its last error after
// timeout; before each try it fails the test at once if fatal returns an error.
func eventually(t *testing.T, what string, timeout time.Duration, fatal func() error, check func() error) {
	t.Helper()
	begin := time.Now()
	testenv.Eventually(t, what, timeout, 500*time.Millisecond, func() error {
		if fatal != nil {
			if err := fatal(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		return check()
	})
	t.Logf("%s: after %s", what, time.Since(begin).Round(100*time.Millisecond))
}

// withTimeout is a context that ends after d or with the test.
func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMain(m *testing.M) {
	// testenv's clients log through controller-runtime's logger; the tests have nothing to say
	// through it.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
