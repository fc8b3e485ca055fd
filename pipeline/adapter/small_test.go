package adapter

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// These tests hold the engine's steps to what they may cost the process that runs them: the
// local platform runs them in its own process (adapter.Step) when their inputs are small
// (SmallInputs), where a pipeline's output that makes a step allocate gigabytes or spin for an
// hour would cost the platform, not a step's process.

// allocated is how many bytes f allocates (runtime.MemStats.TotalAlloc), and how long it takes.
func allocated(f func()) (uint64, time.Duration) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, took
}

func buildPromiseWork(out string) error {
	_, err := BuildWorkSpec(WorkInput{OutputDir: out, WorkflowType: v1alpha1.WorkflowTypePromise, PromiseName: "redis"})
	return err
}

// deepDir makes under out a chain of depth directories of 250-byte names and returns its path
// relative to out, slash-separated, with a trailing slash.
func deepDir(t *testing.T, root *os.Root, depth int) string {
	t.Helper()
	rel := ""
	for range depth {
		rel += strings.Repeat("d", 250)
		if err := root.Mkdir(rel, 0o755); err != nil {
			t.Fatal(err)
		}
		rel += "/"
	}
	return rel
}

// TestOutputPathBytesAreCounted: readOutput counts the bytes of the files it reads against
// MaxDecodedContent but not their paths, which it keeps, each whole: under a chain of long
// directory names (no PATH_MAX applies to a tree built level by level) 50,000 empty files hold
// gigabytes of paths (at a depth of 2,000 names of 255 bytes, 24 GB) before the Work's size is
// checked. Here about 8,500 empty files under an 8 KiB path: 64 MiB of paths, more than a
// Work's content may decode to, are taken.
func TestOutputPathBytesAreCounted(t *testing.T) {
	out := t.TempDir()
	root := openRoot(t, out)
	dir := deepDir(t, root, 32)
	n := v1alpha1.MaxDecodedContent/len(dir) + 100
	deep, err := root.OpenRoot(dir) // one lookup of the chain, not one per file
	if err != nil {
		t.Fatal(err)
	}
	defer deep.Close()
	for i := range n {
		touch(t, deep, fmt.Sprintf("f%05d.txt", i))
	}
	if err := buildPromiseWork(out); err == nil {
		t.Errorf("%d empty files under a path of %d bytes (%d MiB of paths) were taken whole", n, len(dir), n*len(dir)>>20)
	}
}

// TestOutputRefusalMessageIsBounded: the work-writer names 20 of the files it refuses, each
// with its path and problem shortened to a few hundred bytes, and says how many more: the error
// is the step's log and the Job's failure message. Naming every file whole, 2,000 files under
// an 8 KiB path made 16 MB, which the API server refused as the Job's status.
func TestOutputRefusalMessageIsBounded(t *testing.T) {
	out := t.TempDir()
	root := openRoot(t, out)
	dir := deepDir(t, root, 32)
	deep, err := root.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer deep.Close()
	for i := range 2000 {
		touch(t, deep, fmt.Sprintf(`bad\%05d`, i)) // a backslash: a state store refuses the path
	}
	err = buildPromiseWork(out)
	if err == nil {
		t.Fatal("the output was taken")
	}
	if !strings.Contains(err.Error(), "and 1980 more files") {
		t.Errorf("the refusal does not say how many more files it refuses: %.300s", err)
	}
	const most = 16 << 10
	if len(err.Error()) > most {
		t.Errorf("the refusal of 2,000 files is %d bytes, want at most %d", len(err.Error()), most)
	}
}

// TestSmallInputs: what a pipeline leaves for a step is small when it is within every bound;
// each of the outputs that cost a step (walking, reading or parsing them) much memory or time
// is found not small, at a bounded cost of its own: no file is read, no directory read whole.
func TestSmallInputs(t *testing.T) {
	var aliases strings.Builder
	aliases.WriteString("a: &a [" + strings.Repeat("x,", 99) + "x]\n")
	aliases.WriteString("b: [" + strings.Repeat("*a,", 3000) + "*a]\n---\n")
	for _, tt := range []struct {
		name  string
		step  string
		plant func(t *testing.T, out, metadata string)
		small bool
	}{
		{"a few manifests", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {
			writeTree(t, out, map[string]string{"a/cm.yaml": configMap, "b/cm.yaml": configMap})
			writeTree(t, metadata, map[string]string{StatusFile: "message: hi\n"})
		}, true},
		{"nothing at all", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {}, true},
		{"the reader reads nothing of the pipeline", pipeline.ContainerReader, func(t *testing.T, out, metadata string) {
			writeTree(t, out, map[string]string{"big.yaml": strings.Repeat("- 0\n", 1<<20)})
		}, true},
		// A YAML list costs about 100 times its bytes to check (manifests.Problem): 4 MiB, 400 MiB.
		{"a 4 MiB list", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {
			writeTree(t, out, map[string]string{"out.yaml": strings.Repeat("- 0\n", 1<<20)})
		}, false},
		// Each document has an alias budget of its own: 460 KB of them, 1.2 GB and 4 s.
		{"50 alias-expanding documents", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {
			writeTree(t, out, map[string]string{"out.yaml": strings.Repeat(aliases.String(), 50)})
		}, false},
		{"a sparse file of 8 GiB", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {
			f, err := os.Create(filepath.Join(out, "sparse.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(8 << 30); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}, false},
		{"a large status.yaml, for the status-writer", pipeline.ContainerStatusWriter, func(t *testing.T, out, metadata string) {
			writeTree(t, metadata, map[string]string{StatusFile: strings.Repeat("- 0\n", 100<<10)})
		}, false},
		// Walking a chain of directories through an os.Root costs the square of its depth: at
		// 1,000, 2 s and 33 MB; at 50,000, hours.
		{"a chain of 100 directories", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {
			root := openRoot(t, out)
			p := "d"
			for range 100 {
				if err := root.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
				p += "/d"
			}
		}, false},
		{"5,000 empty files in one directory", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {
			root := openRoot(t, out)
			for i := range 5_000 {
				touch(t, root, fmt.Sprintf("%s-%06d", strings.Repeat("n", 100), i))
			}
		}, false},
		{"long paths", pipeline.ContainerWorkWriter, func(t *testing.T, out, metadata string) {
			root := openRoot(t, out)
			dir := deepDir(t, root, 30)
			for i := range 100 {
				touch(t, root, dir+fmt.Sprintf("f%03d.yaml", i))
			}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, metadata := t.TempDir(), t.TempDir()
			tt.plant(t, out, metadata)
			step := Step{Name: tt.step, OutputDir: out, MetadataDir: metadata}
			var small bool
			// About 1 KiB per entry looked at, whatever the directory holds beyond the bounds (a
			// directory of 5,000 read whole: 5 MiB).
			const most = 2 << 20
			alloc, took := allocated(func() { small = step.SmallInputs() })
			if small != tt.small {
				t.Errorf("SmallInputs = %t, want %t", small, tt.small)
			}
			if alloc > most {
				t.Errorf("SmallInputs allocated %d KiB in %s, want at most %d KiB", alloc>>10, took.Round(time.Millisecond), most>>10)
			}
		})
	}
}

// openRoot opens dir as an os.Root until the test ends.
func openRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Close() })
	return root
}

// touch creates an empty file name in root.
func touch(t *testing.T, root *os.Root, name string) {
	t.Helper()
	f, err := root.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
}
