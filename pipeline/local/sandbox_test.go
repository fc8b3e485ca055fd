package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runSandbox runs spec (on the host's tools unless it names a root filesystem) and returns its
// output and exit status; it fails the test if the sandbox outlives its container by more than
// a few seconds.
func runSandbox(t *testing.T, spec Spec) (string, int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if spec.RootFS == "" {
		spec.HostTools = true
	}
	if spec.Dir == "" {
		spec.Dir = filepath.Join(t.TempDir(), "container")
	}
	if spec.Env == nil {
		spec.Env = []string{"PATH=" + defaultPath}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd, err := Command(ctx, self, spec)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the sandbox ran past its container's end:\n%s", out)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatalf("run the sandbox: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if err := RemoveAll(spec.Dir); err != nil {
			t.Errorf("remove the container's directory: %v", err)
		}
	})
	return string(out), 0
}

func TestSandboxRunsAContainerWithItsVolumes(t *testing.T) {
	input, output := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(input, "object.yaml"), []byte("kind: AppConfig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -eu
cat /kratix/input/object.yaml
echo "$GREETING" > /kratix/output/a.yaml
if echo x > /kratix/input/x 2>/dev/null; then echo "input is writable"; exit 9; fi
if echo x > /usr/x 2>/dev/null; then echo "/usr is writable"; exit 9; fi
test ! -e /root || { echo "the host's /root is visible"; exit 9; }
test "$(pwd)" = /kratix-workdir || { echo "working directory $(pwd)"; exit 9; }
test "$(hostname)" = job-1 || { echo "hostname $(hostname)"; exit 9; }
exit 3`
	out, status := runSandbox(t, Spec{
		Args:     []string{"sh", "-c", script},
		Env:      []string{"PATH=/usr/bin:/bin", "GREETING=hello"},
		WorkDir:  "/kratix-workdir",
		Hostname: "job-1",
		Binds: []Bind{
			{Source: input, Target: "/kratix/input", ReadOnly: true},
			{Source: output, Target: "/kratix/output"},
		},
	})
	if status != 3 {
		t.Fatalf("exit %d, want 3 from the script:\n%s", status, out)
	}
	if !strings.Contains(out, "kind: AppConfig") {
		t.Errorf("the container did not read its input:\n%s", out)
	}
	if data, err := os.ReadFile(filepath.Join(output, "a.yaml")); err != nil || string(data) != "hello\n" {
		t.Errorf("output a.yaml = %q, %v", data, err)
	}
	for _, p := range []string{"/kratix", "/kratix-workdir"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists on the host: %v", p, err)
		}
	}
}

func TestSandboxRefusals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	for _, spec := range []Spec{
		{Args: nil, HostTools: true, Dir: dir},
		{Args: []string{"true"}, HostTools: true, Binds: []Bind{{Source: t.TempDir(), Target: "relative"}}, Dir: dir},
		{Args: []string{"true"}, Dir: dir},                                       // no root
		{Args: []string{"true"}, HostTools: true, RootFS: t.TempDir(), Dir: dir}, // two roots
		{Args: []string{"true"}, HostTools: true, Dir: "relative"},
		{Args: []string{"true"}, HostTools: true, Dir: dir, AddCapabilities: []string{"SYS_ADMIN"}},
	} {
		if _, err := Command(t.Context(), "/bin/true", spec); err == nil {
			t.Errorf("Command(%+v) accepted", spec)
		}
	}
	out, status := runSandbox(t, Spec{Args: []string{"no-such-command"}, Env: []string{"PATH=/usr/bin"}})
	if status != exitNotFound || !strings.Contains(out, `"no-such-command" is not in the container's PATH`) {
		t.Errorf("a missing command: status %d\n%s", status, out)
	}
}

// TestSandboxEscapes tries, as a pipeline would, to reach past its sandbox. Each case failed in
// the sandbox of host binds that came before: it shared the host's PID namespace and /proc,
// ran with every capability and let processes outlive their container.
func TestSandboxEscapes(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(secret, []byte("the-host-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostMarker := filepath.Join(t.TempDir(), "written-by-the-sandbox")
	input := t.TempDir()
	if err := os.WriteFile(filepath.Join(input, "object.yaml"), []byte("kind: X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []Bind{{Source: input, Target: "/kratix/input", ReadOnly: true}}
	for _, tc := range []struct {
		name   string
		script string
		// check, when set, looks at the host after the run.
		check func(t *testing.T, out string)
	}{{
		name:   "read the host through /proc/*/root",
		script: `for p in /proc/[0-9]*; do cat $p/root` + secret + ` 2>/dev/null; cat $p/root/proc/1/root` + secret + ` 2>/dev/null; done; exit 0`,
		check: func(t *testing.T, out string) {
			if strings.Contains(out, "the-host-secret") {
				t.Errorf("the sandbox read a host file through /proc:\n%s", out)
			}
		},
	}, {
		name:   "see the host's processes",
		script: fmt.Sprintf(`n=$(ls -d /proc/[0-9]* | wc -l); echo "processes: $n"; test "$n" -le 6 && test ! -e /proc/%d/root/etc`, os.Getpid()),
	}, {
		name:   "remount a read-only volume writable",
		script: `mount -o remount,bind,rw /kratix/input 2>/dev/null && echo x > /kratix/input/x && exit 9; exit 0`,
		check:  noFile(filepath.Join(input, "x")),
	}, {
		name:   "remount a volume writable from a nested user namespace",
		script: `unshare -Urm sh -c 'mount -o remount,bind,rw /kratix/input && echo x > /kratix/input/x' 2>/dev/null && exit 9; exit 0`,
		check:  noFile(filepath.Join(input, "x")),
	}, {
		name:   "remount the host's /usr writable",
		script: `mount -o remount,bind,rw /usr 2>/dev/null; echo x > /usr/kratix-escape 2>/dev/null && exit 9; exit 0`,
		check:  noFile("/usr/kratix-escape"),
	}, {
		name:   "write to the host outside the volumes",
		script: `for d in / /tmp /etc ` + filepath.Dir(hostMarker) + `; do mkdir -p $d 2>/dev/null; echo x > $d/written-by-the-sandbox 2>/dev/null; done; exit 0`,
		check: func(t *testing.T, out string) {
			for _, p := range []string{hostMarker, "/written-by-the-sandbox", "/tmp/written-by-the-sandbox", "/etc/written-by-the-sandbox"} {
				noFile(p)(t, out)
			}
		},
	}, {
		name:   "use the host's devices and /sys",
		script: `ls /dev; test ! -e /dev/kmsg && test ! -e /dev/mem && test ! -e /dev/sda && test ! -e /dev/vda && ! ls /sys/kernel >/dev/null 2>&1`,
	}, {
		name:   "hold more than a default container's capabilities",
		script: `grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status; grep -q '^CapEff:.*00000000a80425fb$' /proc/self/status && grep -q '^CapBnd:.*00000000a80425fb$' /proc/self/status && grep -q '^NoNewPrivs:.*1$' /proc/self/status`,
	}, {
		// The sandbox's init is the host's kratix binary: a container that reached it through
		// /proc/1/exe could chmod it (setuid, or writable by everyone) on the host; through
		// /proc/1/fd, the files init holds. Each chmod keeps the mode it reads.
		name: "change the host's kratix binary and init's files through /proc/1",
		script: `for f in /proc/1/exe /proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/3; do
  m=$(stat -L -c %a $f 2>/dev/null) && chmod $m $f 2>/dev/null && { echo "changed $f"; exit 9; }
done
head -c 4 /proc/1/exe >/dev/null 2>&1 && { echo "read init's binary"; exit 9; }
exit 0`,
	}, {
		// The device nodes are the host's: an engine run by root would let its containers' root
		// change them for the whole machine. The chmod keeps the mode it reads.
		name: "change the host's device nodes",
		script: `for d in null zero full random urandom tty; do
  m=$(stat -c %a /dev/$d) && chmod $m /dev/$d 2>/dev/null && { echo "changed /dev/$d"; exit 9; }
done
echo x > /dev/null && head -c 1 /dev/zero >/dev/null`,
	}, {
		name:   "read the host's TLS keys",
		script: `test -d /etc/ssl/certs && test ! -e /etc/ssl/private`,
	}, {
		name:   "be more than the engine's user on the host",
		script: fmt.Sprintf(`cat /proc/self/uid_map; test "$(awk '{print $1, $2, $3}' /proc/self/uid_map)" = "0 %d 1"`, os.Geteuid()),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, status := runSandbox(t, Spec{Args: []string{"sh", "-c", tc.script}, Binds: mounts})
			if status != 0 {
				t.Errorf("status %d:\n%s", status, out)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

func noFile(path string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			os.Remove(path)
			t.Errorf("the sandbox wrote %s on the host (%v):\n%s", path, err, out)
		}
	}
}

// TestSandboxLeavesNoProcessBehind: whatever a container starts ends with it, and a process it
// leaves does not keep it running.
func TestSandboxLeavesNoProcessBehind(t *testing.T) {
	for _, script := range []string{
		`setsid sleep 3171 & exit 0`,
		`sleep 3172 & sleep 3173 </dev/null >/dev/null 2>&1 & exit 0`,
		`(trap '' TERM HUP; exec sleep 3174) & exit 0`,
	} {
		start := time.Now()
		out, status := runSandbox(t, Spec{Args: []string{"sh", "-c", script}})
		if status != 0 {
			t.Errorf("%s: status %d\n%s", script, status, out)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: the sandbox took %s to end after its main process", script, took)
		}
		time.Sleep(100 * time.Millisecond) // the kernel kills the namespace's processes as init exits
		if left := processesNamed(t, "sleep", "317"); len(left) > 0 {
			t.Errorf("%s: processes left on the host: %v", script, left)
		}
	}
}

// TestSandboxNetworks: a container shares the host's network unless it is isolated, and then it
// has loopback only.
func TestSandboxNetworks(t *testing.T) {
	interfaces := `grep -c ':' /proc/net/dev | { read n; echo "interfaces: $((n))"; }; cat /proc/net/dev`
	out, status := runSandbox(t, Spec{Args: []string{"sh", "-c", interfaces}})
	host, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("interfaces: %d\n", strings.Count(string(host), ":")); status != 0 || !strings.Contains(out, want) {
		t.Errorf("the host's network: status %d, want %q:\n%s", status, want, out)
	}
	out, status = runSandbox(t, Spec{Args: []string{"sh", "-c", interfaces}, IsolateNetwork: true})
	if status != 0 || !strings.Contains(out, "interfaces: 1\n") || !strings.Contains(out, " lo:") {
		t.Errorf("an isolated network: status %d\n%s", status, out)
	}
	out, status = runSandbox(t, Spec{Args: []string{"sh", "-c", `grep -q '^00000000' /proc/net/route && echo "a default route" || echo "no route"`}, IsolateNetwork: true})
	if status != 0 || !strings.Contains(out, "no route") {
		t.Errorf("an isolated network has a route out: status %d\n%s", status, out)
	}
}

// TestSandboxKilledWithItsContext: cancelling the command's context ends every process of it.
func TestSandboxKilledWithItsContext(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	cmd, err := Command(ctx, self, Spec{Args: []string{"sh", "-c", "setsid sleep 3181 & sleep 3182"}, Env: []string{"PATH=" + defaultPath},
		HostTools: true, Dir: filepath.Join(t.TempDir(), "c")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = cmd.Run()
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("run: %v after %s, want killed at 2 s", err, time.Since(start))
	}
	time.Sleep(100 * time.Millisecond)
	if left := processesNamed(t, "sleep", "318"); len(left) > 0 {
		t.Errorf("processes left on the host: %v", left)
	}
}

// processesNamed lists the host's processes running command with an argument that starts with
// prefix.
func processesNamed(t *testing.T, command, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if len(args) >= 2 && filepath.Base(args[0]) == command && strings.HasPrefix(args[1], prefix) {
			found = append(found, e.Name()+":"+strings.Join(args, " "))
		}
	}
	return found
}

// TestSandboxSubPaths: a subPath binds a directory or a file of its volume, through symbolic
// links that stay inside the volume, and not one that leads out of it.
func TestSandboxSubPaths(t *testing.T) {
	volume, outside := t.TempDir(), t.TempDir()
	for _, d := range []string{"real", "in"} {
		if err := os.Mkdir(filepath.Join(volume, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(volume, "real", "file"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	climb, err := filepath.Rel(volume, outside)
	if err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"in/link": "../real", "out": climb, "abs": outside} {
		if err := os.Symlink(target, filepath.Join(volume, link)); err != nil {
			t.Fatal(err)
		}
	}
	out, status := runSandbox(t, Spec{Args: []string{"sh", "-c", `cat /d/file /f && echo x > /d/new`}, Binds: []Bind{
		{Source: volume, SubPath: "in/link", Target: "/d"},
		{Source: volume, SubPath: "real/file", Target: "/f", ReadOnly: true},
	}})
	if status != 0 || out != "insideinside" {
		t.Errorf("status %d:\n%s", status, out)
	}
	if _, err := os.Stat(filepath.Join(volume, "real", "new")); err != nil {
		t.Errorf("the subPath's directory is not the volume's: %v", err)
	}
	for _, subPath := range []string{"out", "abs", "out/x"} {
		out, status := runSandbox(t, Spec{Args: []string{"sh", "-c", `echo x > /d/escaped`}, Binds: []Bind{{Source: volume, SubPath: subPath, Target: "/d"}}})
		if status != exitSandbox || !strings.Contains(out, "subPath") {
			t.Errorf("subPath %s: status %d:\n%s", subPath, status, out)
		}
		noFile(filepath.Join(outside, "escaped"))(t, out)
	}
}

// TestCopyTree: where the kernel refuses an overlay, a container runs on a copy of its image:
// directories, files with their modes and symbolic links, as they are.
func TestCopyTree(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(filepath.Join(from, "usr", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(from, "usr", "bin", "tool"), []byte("#!/bin/sh\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(from, "bin")); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(from, to); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(to, "bin", "tool"))
	if err != nil || info.Mode().Perm() != 0o750 {
		t.Fatalf("bin/tool through the copied link: %v, %v", info, err)
	}
	if link, err := os.Readlink(filepath.Join(to, "bin")); err != nil || link != "usr/bin" {
		t.Errorf("bin links to %q, %v", link, err)
	}
	if data, err := os.ReadFile(filepath.Join(to, "usr", "bin", "tool")); err != nil || string(data) != "#!/bin/sh\n" {
		t.Errorf("usr/bin/tool = %q, %v", data, err)
	}
}
