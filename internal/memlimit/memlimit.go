// Package memlimit gives the Go runtime a soft memory limit below the container's: the garbage
// collector then works harder as the heap nears the limit instead of letting the heap double
// (GOGC=100) past it and the kernel kill the manager. At 1,000 resource requests the manager's
// live heap was about 110 MiB and its peak RSS 3.4 times that (BenchmarkPromiseUpdate).
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Percent is the part of the container's limit that the heap may use: the rest is for what the
// runtime does not count (stacks' slack, fragmentation, the binary's mappings).
const Percent = 90

// unlimitedV1 is above what cgroup v1 reports for "no limit" (a page-rounded 2^63-1).
const unlimitedV1 = 1 << 60

// Container returns the memory limit of the container the process runs in, read under root
// ("/" in production), and false when it has none: the smallest limit of the process's cgroup
// and of every cgroup above it (a pod's limit may be set on its own cgroup, above the
// container's), as /proc/self/cgroup names them, cgroup v2 or v1.
func Container(root string) (int64, bool, error) {
	var limit int64
	for _, file := range limitFiles(root) {
		data, err := os.ReadFile(filepath.Join(root, file))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, false, fmt.Errorf("%s: not a memory limit: %q", file, v)
		}
		if n < unlimitedV1 && (limit == 0 || n < limit) {
			limit = n
		}
	}
	return limit, limit > 0, nil
}

// limitFiles are the files that may hold a limit for the process, relative to root: those of
// its cgroup and of every cgroup above it, from /proc/self/cgroup; in a cgroup namespace of its
// own (the container runtimes' default), that is the root of the hierarchy alone.
func limitFiles(root string) []string {
	var files []string
	add := func(mount, path, name string) {
		for p := filepath.Clean("/" + path); ; p = filepath.Dir(p) {
			files = append(files, filepath.Join(mount, p, name))
			if p == "/" {
				return
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		data = nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		// hierarchy-ID:controllers:path; v2's is 0::path.
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			add("sys/fs/cgroup", parts[2], "memory.max")
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			add("sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		}
	}
	if len(files) == 0 {
		files = []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"}
	}
	return files
}

// Apply sets the runtime's soft limit to Percent of the container's limit read under root, unless
// GOMEMLIMIT set one (the runtime honours it already). It returns the limit it set, 0 when it
// set none.
func Apply(root string) (int64, error) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	limit, ok, err := Container(root)
	if err != nil || !ok {
		return 0, err
	}
	soft := limit / 100 * Percent
	debug.SetMemoryLimit(soft)
	return soft, nil
}
