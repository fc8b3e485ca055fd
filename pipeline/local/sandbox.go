// Package local runs pipeline Jobs without a container engine, for the local platform and
// end-to-end tests: each container runs from its image's root filesystem in a sandbox of
// Linux namespaces that an unprivileged user can create.
//
// The sandbox is a re-executed copy of this binary (see MaybeRunChild) started in new user,
// mount, PID, IPC and UTS namespaces (and, on request, network). The container's root is the
// image's unpacked root filesystem under an overlay whose upper layer is the container's own,
// so the cached image is never changed; the Job's volumes are bound at their mount paths; /proc
// is a fresh one for the new PID namespace, /dev holds only null, zero, full, random, urandom,
// tty, shm and pts; nothing else of the host's filesystem is reachable. The user namespace maps
// the container's root to the user who runs the engine, and nothing else: the container has no
// more rights on the host than that user. The capabilities are those a Kubernetes container
// gets by default, with no_new_privs set. The re-executed binary stays as the PID namespace's
// init: when the container's main process exits, it exits, and the kernel kills every process
// left in the namespace; killing it (Job deleted, deadline passed, engine stopping) does the
// same.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Bind is a host directory or file seen at Target inside the sandbox: Source, or SubPath inside
// it. SubPath is resolved in the sandbox, when the container's earlier steps can no longer
// change it, and never out of Source: a symbolic link that a container left in a volume is
// followed only as far as the volume holds it, as a kubelet does.
type Bind struct {
	Source   string `json:"source"`
	SubPath  string `json:"subPath,omitempty"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Spec is one container's process and root.
type Spec struct {
	// Args is the command and its arguments; Args[0] is looked up in the sandbox's PATH.
	Args []string `json:"args"`
	// Env is the process's whole environment.
	Env []string `json:"env"`
	// WorkDir inside the sandbox; "/" when empty. Created when missing, as runtimes do.
	WorkDir string `json:"workDir,omitempty"`
	// User is "uid[:gid]" or "name[:group]" (names from the root's /etc/passwd and /etc/group);
	// empty for root.
	User string `json:"user,omitempty"`
	// Binds are the Job's volumes at their mount paths.
	Binds []Bind `json:"binds"`
	// RootFS is the image's unpacked root filesystem, which the sandbox only reads. Empty with
	// HostTools set: the root is a tmpfs holding the host's program directories, read-only.
	RootFS    string `json:"rootfs,omitempty"`
	HostTools bool   `json:"hostTools,omitempty"`
	// Dir is an empty host directory of the container's own: its writable layer, the overlay's
	// work directory and the spec file live there. The caller removes it (RemoveAll) after.
	Dir string `json:"dir"`
	// Hostname of the UTS namespace; "kratix-pipeline" when empty.
	Hostname string `json:"hostname,omitempty"`
	// IsolateNetwork gives the sandbox a network namespace of its own with only loopback;
	// otherwise it shares the host's network, so that pipelines can fetch what they need.
	IsolateNetwork bool `json:"isolateNetwork,omitempty"`
	// DropCapabilities and AddCapabilities change the default set, by Kubernetes' names
	// (CHOWN, NET_RAW, ALL...); only capabilities of the default set can be added back.
	DropCapabilities []string `json:"dropCapabilities,omitempty"`
	AddCapabilities  []string `json:"addCapabilities,omitempty"`
}

// childEnv names the file that carries the Spec, as JSON, to the re-executed binary that builds
// the sandbox (a file, not the variable itself: one environment string is limited to 128 KiB).
const childEnv = "KRATIX_SANDBOX_SPEC_FILE"

// exitSandbox is the status of a sandbox that could not start its container; exitNotFound
// that of a command that is not in the root, as a shell says.
const (
	exitSandbox  = 126
	exitNotFound = 127
)

// Command returns the command that runs spec in a sandbox: self (this binary, which must call
// MaybeRunChild first thing in main) is started in new namespaces, builds the container's root
// and runs its command. Cancelling ctx kills every process of the sandbox.
func Command(ctx context.Context, self string, spec Spec) (*exec.Cmd, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spec.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("the container's directory: %w", err)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	specFile := filepath.Join(spec.Dir, "spec.json")
	if err := os.WriteFile(specFile, data, 0o600); err != nil {
		return nil, fmt.Errorf("write the sandbox's spec: %w", err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = []string{childEnv + "=" + specFile}
	flags := syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
	if spec.IsolateNetwork {
		flags |= syscall.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: uintptr(flags),
		// The container's root is the engine's user, and no one else is mapped.
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		// The sandbox does not outlive the engine.
		Pdeathsig: syscall.SIGKILL,
	}
	// The sandbox's init is the PID namespace's first process: killing it kills them all.
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

func (s Spec) validate() error {
	if len(s.Args) == 0 {
		return errors.New("the container has no command")
	}
	if s.Dir == "" || !filepath.IsAbs(s.Dir) {
		return fmt.Errorf("the container's directory %q must be an absolute path", s.Dir)
	}
	if (s.RootFS == "") == !s.HostTools {
		return errors.New("a sandbox's root is either an image's root filesystem or the host's tools")
	}
	for _, p := range []string{s.RootFS, s.Dir} {
		// The overlay's options are a comma-separated list, with colons between lower layers.
		if strings.ContainsAny(p, ",:") {
			return fmt.Errorf("the path %q has a comma or colon, which an overlay mount cannot take", p)
		}
	}
	for _, b := range s.Binds {
		if !filepath.IsAbs(b.Target) || filepath.Clean(b.Target) == "/" {
			return fmt.Errorf("mount path %q must be an absolute path below /", b.Target)
		}
		if !filepath.IsAbs(b.Source) {
			return fmt.Errorf("volume source %q must be an absolute path", b.Source)
		}
		if b.SubPath != "" && !filepath.IsLocal(b.SubPath) {
			return fmt.Errorf("volume at %s: subPath %q must be a relative path inside the volume", b.Target, b.SubPath)
		}
	}
	if _, err := capabilitySet(s.DropCapabilities, s.AddCapabilities); err != nil {
		return err
	}
	return nil
}

// MaybeRunChild becomes the sandbox's init when this process was started by Command; otherwise
// it returns at once. It never returns in a sandbox: it exits with the container's status, or
// with 126 (127 for a command not found) after saying on standard error why the container
// could not start.
func MaybeRunChild() {
	specFile, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	var spec Spec
	data, err := os.ReadFile(specFile)
	if err == nil {
		err = json.Unmarshal(data, &spec)
	}
	status := exitSandbox
	if err == nil {
		status, err = runInit(spec)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kratix sandbox: %v\n", err)
	}
	os.Exit(status)
}

// RemoveAll removes a container's directory, including the directories without permissions
// that an overlay's work directory holds.
func RemoveAll(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// Probe starts an empty container in dir (removed after) and says why, if the sandbox cannot
// run here: most often a kernel that refuses unprivileged user namespaces.
func Probe(ctx context.Context, self, dir string) error {
	defer func() { _ = RemoveAll(dir) }() // a probe's directory holds nothing to keep
	cmd, err := Command(ctx, self, Spec{Args: []string{"true"}, Env: []string{"PATH=" + defaultPath}, HostTools: true, Dir: dir})
	if err != nil {
		return err
	}
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil:
		return nil
	case cmd.ProcessState == nil:
		return fmt.Errorf("the kernel refused the sandbox's namespaces (user, mount, PID, IPC, UTS): %w; on Debian and Ubuntu, `sysctl kernel.unprivileged_userns_clone=1` (and on Ubuntu 24.04 `sysctl kernel.apparmor_restrict_unprivileged_userns=0`) allows them", err)
	default:
		return fmt.Errorf("an empty container failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
}
