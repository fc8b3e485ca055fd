package localplatform

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// A second platform on the same data directory is refused, naming the first's process; once the
// first lets go, the directory can be taken again.
func TestLockDataDirIsExclusive(t *testing.T) {
	dirs := layout{root: t.TempDir()}
	unlock, err := lockDataDir(dirs)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dirs)
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second lock: %v, want ErrAlreadyRunning", err)
	}
	if pid := strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), "process "+pid) || !strings.Contains(err.Error(), dirs.root) {
		t.Errorf("the refusal does not name the directory and process %s: %v", pid, err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := lockDataDir(dirs)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	if err := again(); err != nil {
		t.Fatal(err)
	}
}
