package local

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// runInit is the sandbox's init: it builds the root, starts the container's process and waits
// for it, reaping the orphans that the PID namespace hands it. It returns the container's exit
// status, or an error if the container could not start.
func runInit(spec Spec) (int, error) {
	// Capabilities and no_new_privs belong to a thread; the container is started from this one.
	runtime.LockOSThread()
	if err := buildRoot(spec); err != nil {
		return exitSandbox, err
	}
	uid, gid, err := resolveUser(spec.User)
	if err != nil {
		return exitSandbox, err
	}
	workDir := spec.WorkDir
	if workDir == "" {
		workDir = "/"
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return exitSandbox, fmt.Errorf("working directory %s: %w", workDir, err)
	}
	path, err := lookPath(spec.Args[0], spec.Env, workDir)
	if err != nil {
		return exitNotFound, err
	}
	caps, err := capabilitySet(spec.DropCapabilities, spec.AddCapabilities)
	if err != nil {
		return exitSandbox, err
	}
	if err := restrict(caps); err != nil {
		return exitSandbox, err
	}
	attr := &syscall.SysProcAttr{}
	if uid != 0 || gid != 0 {
		// Only the container's root is mapped to a host user. A container that runs as another
		// user gets a user namespace of its own in which that user is the container's root.
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: 0, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: 0, Size: 1}}
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	// Init is the host's kratix binary, holding files of the host: a dumpable init would let
	// the container, the same user, reach them through /proc/1 (exe, fd, mem, ptrace), and
	// chmod the binary on the host through /proc/1/exe. The container's own process is dumpable
	// again after its exec.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return exitSandbox, fmt.Errorf("make init undumpable: %w", err)
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return exitSandbox, err
	}
	proc, err := os.StartProcess(path, spec.Args, &os.ProcAttr{
		Dir: workDir, Env: spec.Env, Files: []*os.File{devNull, os.Stdout, os.Stderr}, Sys: attr,
	})
	if err != nil {
		return exitSandbox, fmt.Errorf("start %s: %w", spec.Args[0], err)
	}
	_ = devNull.Close()
	return reap(proc.Pid), nil
}

// reap waits for the container's process, reaping every other process that ends meanwhile, and
// returns its exit status as a shell reports it. When init returns, the kernel kills the
// processes left in the namespace.
func reap(main int) int {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kratix sandbox: wait: %v\n", err)
			return exitSandbox
		}
		if pid != main {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// buildRoot makes the container's root and moves into it; the host's root is gone from the
// mount namespace afterwards.
func buildRoot(spec Spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mount namespace private: %w", err)
	}
	root := filepath.Join(spec.Dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	var err error
	if spec.HostTools {
		err = hostToolsRoot(root)
	} else {
		err = imageRoot(spec, root)
	}
	if err != nil {
		return err
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = "kratix-pipeline"
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("set the hostname: %w", err)
	}
	// The host's root stays reachable under a name that no image can know in advance (an image's
	// symbolic links resolve inside the new root from here on), until the binds are made.
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	old := "/.kratix-host-" + hex.EncodeToString(nonce[:])
	if err := os.Mkdir(root+old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, root+old); err != nil {
		return fmt.Errorf("enter the container's root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := mountSystem(old); err != nil {
		return err
	}
	for _, b := range spec.Binds {
		if err := bindVolume(old, b); err != nil {
			return fmt.Errorf("volume at %s: %w", b.Target, err)
		}
	}
	if !spec.IsolateNetwork {
		// The host's network, with its resolver and hosts, as a Pod on the host network has.
		for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
			if err := copyFile(old+f, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
	} else if err := loopbackUp(); err != nil {
		return err
	}
	if err := unix.Unmount(old, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host's root: %w", err)
	}
	return os.Remove(old)
}

// imageRoot mounts the image's root filesystem at root under an overlay whose upper layer is
// the container's own; where the kernel refuses an overlay, the container gets a copy.
func imageRoot(spec Spec, root string) error {
	upper, work := filepath.Join(spec.Dir, "upper"), filepath.Join(spec.Dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", spec.RootFS, upper, work)
	err := unix.Mount("overlay", root, "overlay", 0, opts+",userxattr")
	if err != nil {
		err = unix.Mount("overlay", root, "overlay", 0, opts)
	}
	if err == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "kratix sandbox: no overlay (%v): the container runs on a copy of its image\n", err)
	if err := copyTree(spec.RootFS, root); err != nil {
		return fmt.Errorf("copy the image's root filesystem: %w", err)
	}
	// pivot_root needs a mount point.
	return unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, "")
}

// hostTools are the host's program directories that a host-tools root holds, read-only.
var hostTools = []string{"/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32"}

// hostEtc are the host's configuration files and directories that programs need to run: the
// rest of the host's /etc (its keys, /etc/ssl/private among them, its users' passwords) stays
// out.
var hostEtc = []string{"/etc/alternatives", "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/ca-certificates", "/etc/ld.so.cache",
	"/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/nsswitch.conf", "/etc/localtime", "/etc/mime.types",
	"/etc/os-release", "/etc/passwd", "/etc/group"}

// hostToolsRoot makes root a tmpfs holding the host's program directories, read-only, for an
// image that the runner maps to the host's tools.
func hostToolsRoot(root string) error {
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("mount the root tmpfs: %w", err)
	}
	for _, dir := range append(append([]string{}, hostTools...), hostEtc...) {
		info, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(dir)), 0o755); err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0: // merged-/usr systems: /bin -> usr/bin
			target, err := os.Readlink(dir)
			if err != nil {
				return err
			}
			err = os.Symlink(target, filepath.Join(root, dir))
		case info.Mode().IsRegular():
			err = copyFile(dir, filepath.Join(root, dir))
		default:
			err = bind(dir, filepath.Join(root, dir), true)
		}
		if err != nil {
			return err
		}
	}
	return os.Mkdir(filepath.Join(root, "tmp"), 0o1777)
}

// devices are bound from the host's /dev into the sandbox's own.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// mountSystem gives the new root its /proc, /dev and /tmp; old is where the host's root is.
func mountSystem(old string) error {
	const noexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := os.MkdirAll("/proc", 0o555); err != nil {
		return err
	}
	if err := unix.Mount("proc", "/proc", "proc", noexec, ""); err != nil {
		return fmt.Errorf("mount /proc for the PID namespace: %w", err)
	}
	if err := os.MkdirAll("/dev", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range devices {
		// Read-only: the nodes stay usable (a device is read and written whatever its mount),
		// but their modes and owners, the host's, cannot be changed.
		if err := bind(old+"/dev/"+d, "/dev/"+d, true); err != nil {
			return fmt.Errorf("/dev/%s: %w", d, err)
		}
	}
	for link, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if err := os.Symlink(target, "/dev/"+link); err != nil {
			return err
		}
	}
	if err := os.Mkdir("/dev/shm", 0o1777); err != nil {
		return err
	}
	if err := unix.Mount("shm", "/dev/shm", "tmpfs", noexec, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	if err := os.Mkdir("/dev/pts", 0o755); err != nil {
		return err
	}
	// Terminals are a convenience; a kernel that refuses a private devpts leaves the directory empty.
	_ = unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
	if err := os.MkdirAll("/tmp", 0o1777); err != nil {
		return err
	}
	return nil
}

// bindVolume binds b's source, under old (the host's root), at its target; a subPath is opened
// beneath the volume, whose symbolic links (a container may have left some) cannot lead out of
// it, and bound from that open file.
func bindVolume(old string, b Bind) error {
	source := old + b.Source
	if b.SubPath == "" {
		return bind(source, b.Target, b.ReadOnly)
	}
	volume, err := os.OpenRoot(source)
	if err != nil {
		return err
	}
	defer volume.Close()
	f, err := volume.Open(b.SubPath)
	if err != nil {
		return fmt.Errorf("subPath %q: %w", b.SubPath, err)
	}
	defer f.Close()
	return bind(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), b.Target, b.ReadOnly)
}

// bind mounts source at target, creating the mount point; target's parents resolve inside the
// current root.
func bind(source, target string, readOnly bool) error {
	info, err := os.Stat(source)
	if err != nil {
		return err
	}
	if info.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", target, err)
	}
	if err := unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", target, err)
	}
	if !readOnly {
		return nil
	}
	// A remount must keep the flags that the source's mount holds locked in a user namespace.
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for st2ms, ms := range map[int64]uintptr{unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
		unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME,
		unix.ST_RELATIME: unix.MS_RELATIME} {
		if st.Flags&st2ms != 0 {
			flags |= ms
		}
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", target, err)
	}
	return nil
}

// loopbackUp brings up the loopback interface of an isolated network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	req, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, req); err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	req.SetUint16(req.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, req); err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	return nil
}

// resolveUser turns "uid[:gid]" or "name[:group]" into numbers, reading names from the root's
// /etc/passwd and /etc/group as a runtime does. A user without a group takes its passwd group.
func resolveUser(user string) (int, int, error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	uid, primary, err := lookupID("/etc/passwd", u, true)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q: %w", user, err)
	}
	if !hasGroup {
		return uid, primary, nil
	}
	gid, _, err := lookupID("/etc/group", g, false)
	if err != nil {
		return 0, 0, fmt.Errorf("group of user %q: %w", user, err)
	}
	return uid, gid, nil
}

// lookupID finds a name or number in a passwd or group file; for passwd it also returns the
// user's group. A number the file does not list is taken as it is (with group 0 for a user),
// as runtimes do.
func lookupID(file, name string, passwd bool) (id, group int, err error) {
	number, numErr := strconv.Atoi(name)
	if numErr == nil && number < 0 {
		return 0, 0, errors.New("a negative id")
	}
	data, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) < 3 || (fields[0] != name && fields[2] != name) {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil {
			continue
		}
		group = id
		if passwd && len(fields) >= 4 {
			if group, err = strconv.Atoi(fields[3]); err != nil {
				group = 0
			}
		}
		return id, group, nil
	}
	switch {
	case numErr == nil && passwd:
		return number, 0, nil
	case numErr == nil:
		return number, number, nil
	}
	return 0, 0, fmt.Errorf("%s has no entry %q", file, name)
}

// copyFile copies a regular file, following symbolic links on both sides inside the current root.
func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return copyContent(from, to, os.O_TRUNC, 0o644)
}

// copyContent copies the file at from into the file at to, created with mode (flag adds to
// O_CREATE|O_WRONLY).
func copyContent(from, to string, flag int, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|flag, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies the image's root filesystem (directories, files, symbolic links) to dir.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyContent(path, target, os.O_EXCL, info.Mode().Perm())
		}
		return nil // devices and sockets are not in images the cache unpacks
	})
}

// lookPath finds the command in the sandbox's PATH (from its environment), as a container
// runtime does; a relative path is taken from the working directory.
func lookPath(name string, env []string, workDir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(workDir, p)
		}
		if info, err := os.Stat(p); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return "", fmt.Errorf("command %q is not an executable file in the container's image", name)
		}
		return p, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q is not in the container's PATH (%s)", name, path)
}
