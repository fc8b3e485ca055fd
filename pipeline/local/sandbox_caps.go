package local

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// capabilities are Linux's capability numbers by Kubernetes' names (without CAP_).
var capabilities = map[string]uint{
	"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
	"SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
	"NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
	"SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
	"SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
	"SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
	"SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
	"BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

// defaultCapabilities is what a Kubernetes container gets when its security context asks for
// nothing else (the container runtimes' default set).
var defaultCapabilities = []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW",
	"SETGID", "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}

// capabilitySet is the default set without drop ("ALL" drops every one), plus add; only
// capabilities of the default set can be added: the sandbox grants nothing a default container
// lacks.
func capabilitySet(drop, add []string) (uint64, error) {
	var set, defaults uint64
	for _, name := range defaultCapabilities {
		defaults |= 1 << capabilities[name]
	}
	set = defaults
	bit := func(name string) (uint64, error) {
		n, ok := capabilities[strings.TrimPrefix(strings.ToUpper(name), "CAP_")]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", name)
		}
		return 1 << n, nil
	}
	for _, name := range drop {
		if strings.EqualFold(name, "ALL") {
			set = 0
			continue
		}
		b, err := bit(name)
		if err != nil {
			return 0, err
		}
		set &^= b
	}
	for _, name := range add {
		b, err := bit(name)
		if err != nil {
			return 0, err
		}
		if defaults&b == 0 {
			return 0, fmt.Errorf("capability %s: the local sandbox grants only the capabilities a Kubernetes container has by default", name)
		}
		set |= b
	}
	return set, nil
}

// restrict sets no_new_privs and limits the calling thread, and every process it starts, to
// caps: the bounding set loses the others, the ambient set is cleared, and the thread's own
// sets become caps (inheritable: none). A process of root's that the thread execs gets caps.
func restrict(caps uint64) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	for c := uint(0); c < 64; c++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); errors.Is(err, unix.EINVAL) {
			break // past the kernel's last capability
		}
		if caps&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(caps), Permitted: uint32(caps)},
		{Effective: uint32(caps >> 32), Permitted: uint32(caps >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set the capabilities: %w", err)
	}
	return nil
}
