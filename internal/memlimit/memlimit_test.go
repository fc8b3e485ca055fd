package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestContainer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		files     map[string]string
		want      int64
		limited   bool
		wantError bool
	}{
		{"cgroup v2 with a limit", map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"}, 1 << 30, true, false},
		{"cgroup v2 without", map[string]string{"sys/fs/cgroup/memory.max": "max\n"}, 0, false, false},
		{"cgroup v1 with a limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n"}, 512 << 20, true, false},
		{"cgroup v1 without", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, false, false},
		{"no cgroup files", nil, 0, false, false},
		{"garbage", map[string]string{"sys/fs/cgroup/memory.max": "lots\n"}, 0, false, true},
		{"cgroup v2, the host's namespace: the pod's limit, above the container's cgroup", map[string]string{
			"proc/self/cgroup": "0::/kubepods.slice/pod1.slice/cri-abc.scope\n",
			"sys/fs/cgroup/kubepods.slice/pod1.slice/cri-abc.scope/memory.max": "max\n",
			"sys/fs/cgroup/kubepods.slice/pod1.slice/memory.max":               "805306368\n",
			"sys/fs/cgroup/kubepods.slice/memory.max":                          "17179869184\n",
		}, 768 << 20, true, false},
		{"cgroup v2, the smallest limit on the way up", map[string]string{
			"proc/self/cgroup":             "0::/a/b\n",
			"sys/fs/cgroup/a/b/memory.max": "1073741824\n",
			"sys/fs/cgroup/a/memory.max":   "536870912\n",
		}, 512 << 20, true, false},
		{"cgroup v1, the host's namespace", map[string]string{
			"proc/self/cgroup": "12:cpu,cpuacct:/kubepods/pod1/abc\n7:memory:/kubepods/pod1/abc\n",
			"sys/fs/cgroup/memory/kubepods/pod1/abc/memory.limit_in_bytes": "9223372036854771712\n",
			"sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes":     "268435456\n",
		}, 256 << 20, true, false},
		{"a namespace of its own: the hierarchy's root", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "1073741824\n",
		}, 1 << 30, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFiles(t, tc.files)
			got, limited, err := Container(root)
			if (err != nil) != tc.wantError || got != tc.want || limited != tc.limited {
				t.Errorf("Container = %d, %v, %v; want %d, %v, error %v", got, limited, err, tc.want, tc.limited, tc.wantError)
			}
		})
	}
}

// TestApply: a container limit of 1 GiB gives the runtime a soft limit of 90% of it; GOMEMLIMIT,
// when set, is left to the runtime.
func TestApply(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	root := writeFiles(t, map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"})
	t.Setenv("GOMEMLIMIT", "")
	got, err := Apply(root)
	if want := int64(1<<30) / 100 * 90; err != nil || got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("Apply = %d, %v, runtime limit %d; want %d", got, err, debug.SetMemoryLimit(-1), want)
	}
	debug.SetMemoryLimit(before)
	t.Setenv("GOMEMLIMIT", "500MiB")
	if got, err := Apply(root); err != nil || got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("with GOMEMLIMIT set, Apply = %d, %v and the runtime limit is %d", got, err, debug.SetMemoryLimit(-1))
	}
}

// writeFiles makes a root holding the files, by their paths under it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
