package adapter

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestBuildWorkSpecRefuses: unsafe or unparsable output fails the pipeline, naming every file at
// fault and why.
func TestBuildWorkSpecRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, out, outside string)
		want  map[string]string // path -> part of the problem
	}{
		{
			name: "a link to a file outside the output",
			setup: func(t *testing.T, out, outside string) {
				symlink(t, filepath.Join(outside, "secret.yaml"), filepath.Join(out, "stolen.yaml"))
			},
			want: map[string]string{"stolen.yaml": "escapes the output directory"},
		},
		{
			name: "a relative link that climbs out",
			setup: func(t *testing.T, out, outside string) {
				mkdir(t, filepath.Join(out, "a"))
				symlink(t, "../../etc/passwd", filepath.Join(out, "a", "passwd"))
			},
			want: map[string]string{"a/passwd": "escapes the output directory"},
		},
		{
			name: "a linked directory",
			setup: func(t *testing.T, out, outside string) {
				symlink(t, outside, filepath.Join(out, "dir"))
			},
			want: map[string]string{"dir": "escapes the output directory"},
		},
		{
			name: "a link inside the output",
			setup: func(t *testing.T, out, outside string) {
				writeTree(t, out, map[string]string{"real.yaml": configMap})
				symlink(t, "real.yaml", filepath.Join(out, "alias.yaml"))
			},
			want: map[string]string{"alias.yaml": "is a symbolic link"},
		},
		{
			name: "a named pipe",
			setup: func(t *testing.T, out, outside string) {
				if err := syscall.Mkfifo(filepath.Join(out, "fifo"), 0o644); err != nil {
					t.Skip("no FIFOs here:", err)
				}
			},
			want: map[string]string{"fifo": "is not a regular file"},
		},
		{
			name: "a path a state store refuses",
			setup: func(t *testing.T, out, outside string) {
				writeTree(t, out, map[string]string{
					".git/config": "[core]\n", "back\\slash.txt": "x",
					// Names that Git servers with receive.fsckObjects refuse.
					"app/.git /config": "x", "GIT~1/config": "x", "sub/.gitmodules": "x",
				})
			},
			want: map[string]string{
				".git": ".git", "back\\slash.txt": "backslash",
				"app/.git ": "Git servers read as .git", "GIT~1": "Git servers read as .git", "sub/.gitmodules": "read as .gitmodules",
			},
		},
		{
			name: "invalid YAML, JSON and a bad document in a stream",
			setup: func(t *testing.T, out, outside string) {
				writeTree(t, out, map[string]string{
					"ok.yaml":          configMap + "---\n" + configMap,
					"broken.yaml":      "a: [1, 2\n",
					"dir/second.yml":   configMap + "---\nkey: : value\n",
					"duplicate.yaml":   "a: 1\na: 2\n",
					"bad.json":         `{"a": 1,}`,
					"two-values.json":  `{"a": 1} {"b": 2}`,
					"UPPER.YAML":       "a: [\n",
					"notes.txt":        "a: [ is fine in a text file",
					"valid/empty.yaml": "",
				})
			},
			want: map[string]string{
				"broken.yaml":     "is not valid YAML: document 1",
				"dir/second.yml":  "is not valid YAML: document 2",
				"duplicate.yaml":  "is not valid YAML",
				"bad.json":        "is not valid JSON",
				"two-values.json": "is not valid JSON",
				"UPPER.YAML":      "is not valid YAML",
			},
		},
		{
			name: "a file larger than a Work holds, which is not read",
			setup: func(t *testing.T, out, outside string) {
				// 100 GiB, sparse: reading it whole would take the memory of any machine.
				sizedFile(t, filepath.Join(out, "huge.yaml"), 100<<30)
			},
			want: map[string]string{"huge.yaml": "is 107374182400 bytes and makes the output larger than 67108864 bytes"},
		},
		{
			name: "files that together are larger than a Work holds",
			setup: func(t *testing.T, out, outside string) {
				sizedFile(t, filepath.Join(out, "a.txt"), 40<<20)
				sizedFile(t, filepath.Join(out, "b.txt"), 40<<20)
			},
			want: map[string]string{"b.txt": "makes the output larger than 67108864 bytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, outside := t.TempDir(), t.TempDir()
			writeTree(t, outside, map[string]string{"secret.yaml": "password: hunter2\n"})
			tt.setup(t, out, outside)
			_, err := BuildWorkSpec(WorkInput{OutputDir: out, WorkflowType: v1alpha1.WorkflowTypeResource, PromiseName: "redis"})
			if err == nil {
				t.Fatal("the output was accepted")
			}
			got := fileErrors(err)
			for path, problem := range tt.want {
				if !strings.Contains(got[path], problem) {
					t.Errorf("problem of %q: %q, want one containing %q (error: %v)", path, got[path], problem, err)
				}
				if !strings.Contains(err.Error(), strconv.Quote(path)) {
					t.Errorf("the error does not name %q: %v", path, err)
				}
			}
			for path := range got {
				if _, expected := tt.want[path]; !expected {
					t.Errorf("%q refused although it is fine: %s", path, got[path])
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("the error shows the content of a file outside the output")
			}
		})
	}
}

// fileErrors collects the *FileErrors in a joined error by path.
func fileErrors(err error) map[string]string {
	out := map[string]string{}
	var walk func(error)
	walk = func(e error) {
		var fe *FileError
		if errors.As(e, &fe) && e == error(fe) {
			out[fe.Path] = fe.Problem
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// sizedFile creates a file of size bytes (zeros, sparse where the file system allows).
func sizedFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
