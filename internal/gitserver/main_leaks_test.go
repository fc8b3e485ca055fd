package gitserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMain fails the run if a server left a git process behind: every test stops what it starts,
// and Stop must wait for, or kill, the processes of the requests it ends.
func TestMain(m *testing.M) {
	code := m.Run()
	if children := childProcesses(); len(children) > 0 {
		fmt.Fprintf(os.Stderr, "processes left running by the tests:\n  %s\n", strings.Join(children, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// childProcesses lists this process's children as "pid command", from /proc (Linux only).
func childProcesses() []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat") // a constant, valid pattern
	self := strconv.Itoa(os.Getpid())
	var children []string
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue // the process ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(data[i+1:]))
		if len(fields) > 1 && fields[1] == self {
			children = append(children, filepath.Base(filepath.Dir(stat))+" "+string(data[:i+1]))
		}
	}
	return children
}
