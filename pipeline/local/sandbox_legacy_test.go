package local

// The host-process sandbox that came before this one (binds of the host's system directories in
// a mount namespace, as root), kept for BenchmarkContainerStart's side-by-side baseline only.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

type legacySpec struct {
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Binds   []Bind   `json:"binds"`
	WorkDir string   `json:"workDir,omitempty"`
	Root    string   `json:"root"`
}

const legacyChildEnv = "KRATIX_LEGACY_SANDBOX_SPEC_FILE"

// legacySystemDirs are bound read-only from the host when they exist; symbolic links among them (as on
// merged-/usr systems) are recreated as links.
var legacySystemDirs = []string{"/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// Command returns the command that runs spec in a sandbox: self (this binary, which must call
// MaybeRunChild first thing in main) is started in a new mount namespace, builds the sandbox's
// root and execs the container's command. Only root can create the namespace.
func legacyCommand(ctx context.Context, self string, spec legacySpec) (*exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the local job runner needs root to give each container a private mount namespace")
	}
	if len(spec.Args) == 0 {
		return nil, errors.New("the container has no command: the local job runner cannot read an image's entrypoint, so a pipeline container needs `command`")
	}
	for _, b := range spec.Binds {
		if !filepath.IsAbs(b.Target) || filepath.Clean(b.Target) == "/" {
			return nil, fmt.Errorf("mount path %q must be an absolute path below /", b.Target)
		}
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	specFile := filepath.Clean(spec.Root) + ".json"
	if err := os.WriteFile(specFile, data, 0o600); err != nil {
		return nil, fmt.Errorf("write the sandbox's spec: %w", err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = []string{legacyChildEnv + "=" + specFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Setpgid: true}
	// The container's command may start children (a shell does): when ctx ends, kill the whole
	// process group, not just its leader.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd, nil
}

// MaybeRunChild builds the sandbox and execs the container's command when this process was
// started by Command; otherwise it returns at once. On failure it exits with status 126, the
// shell's "cannot execute", after saying why on standard error.
func maybeRunLegacyChild() {
	specFile, ok := os.LookupEnv(legacyChildEnv)
	if !ok {
		return
	}
	var spec legacySpec
	data, err := os.ReadFile(specFile)
	if err == nil {
		err = json.Unmarshal(data, &spec)
	}
	if err == nil {
		err = legacyEnter(spec)
	}
	fmt.Fprintf(os.Stderr, "kratix sandbox: %v\n", err)
	os.Exit(126)
}

// enter builds the root, changes into it and execs; it returns only on failure.
func legacyEnter(spec legacySpec) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mount namespace private: %w", err)
	}
	root := spec.Root
	if err := syscall.Mount("tmpfs", root, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("mount the root tmpfs: %w", err)
	}
	for _, dir := range legacySystemDirs {
		if err := legacyBindSystemDir(root, dir); err != nil {
			return err
		}
	}
	for _, dir := range []string{"/dev", "/proc", "/sys"} {
		if err := legacyBind(root, Bind{Source: dir, Target: dir}, syscall.MS_REC); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", filepath.Join(root, "tmp"), "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	for _, b := range spec.Binds {
		if err := legacyBind(root, b, 0); err != nil {
			return err
		}
	}
	if err := syscall.Chroot(root); err != nil {
		return fmt.Errorf("enter the sandbox: %w", err)
	}
	workDir := spec.WorkDir
	if workDir == "" {
		workDir = "/"
	}
	if err := os.Chdir(workDir); err != nil {
		return fmt.Errorf("working directory %s: %w", workDir, err)
	}
	path, err := lookPath(spec.Args[0], spec.Env, "/")
	if err != nil {
		return err
	}
	return syscall.Exec(path, spec.Args, spec.Env)
}

// bindSystemDir makes a host system directory visible, read-only, in the sandbox.
func legacyBindSystemDir(root, dir string) error {
	info, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(dir)
		if err != nil {
			return err
		}
		return os.Symlink(target, filepath.Join(root, dir))
	}
	return legacyBind(root, Bind{Source: dir, Target: dir, ReadOnly: true}, syscall.MS_REC)
}

// bind mounts b.Source at root+b.Target, creating the mount point in the tmpfs.
func legacyBind(root string, b Bind, extra uintptr) error {
	target := filepath.Join(root, b.Target)
	info, err := os.Stat(b.Source)
	if err != nil {
		return fmt.Errorf("volume for %s: %w", b.Target, err)
	}
	if info.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else {
		if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
			err = os.WriteFile(target, nil, 0o644)
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", b.Target, err)
	}
	if err := syscall.Mount(b.Source, target, "", syscall.MS_BIND|extra, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", b.Source, b.Target, err)
	}
	if b.ReadOnly {
		if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|extra, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", b.Target, err)
		}
	}
	return nil
}
