package localplatform

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrAlreadyRunning says that another platform holds the data directory.
var ErrAlreadyRunning = errors.New("already running")

// lockDataDir takes the data directory's lock, an exclusive flock on its kratix.lock, and records this
// process's id in the file for the message another start prints. The kernel releases the lock
// when the process ends, however it ends, so a crash leaves no stale lock behind.
func lockDataDir(l layout) (unlock func() error, err error) {
	path := l.lock()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := readPID(f)
		closeErr := f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.Join(fmt.Errorf("%w on %s (process %s); stop it first, or pass another --data-dir", ErrAlreadyRunning, l.root, pid), closeErr)
		}
		return nil, errors.Join(fmt.Errorf("lock %s: %w", path, err), closeErr)
	}
	if err := writePID(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return func() error {
		// Truncating first means a reader never takes a finished run's pid for a live one.
		return errors.Join(f.Truncate(0), f.Close())
	}, nil
}

func readPID(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0) // a short or failed read leaves the pid unknown
	if pid := strings.TrimSpace(string(buf[:n])); pid != "" {
		return pid
	}
	return "unknown"
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("write the lock file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return fmt.Errorf("write the lock file: %w", err)
	}
	return nil
}
