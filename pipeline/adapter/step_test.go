package adapter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// TestMetadataFilesAreBounded: the engine's steps read a metadata file of at most
// MaxMetadataFile bytes, checked before reading, so a pipeline cannot have the local platform,
// which runs the steps in its own process, read a file of any size (a sparse one costs the
// pipeline nothing).
func TestMetadataFilesAreBounded(t *testing.T) {
	for _, tt := range []struct {
		file string
		read func(dir string) error
	}{
		{StatusFile, func(dir string) error { _, err := ReadStatusFile(dir); return err }},
		{WorkflowControlFile, func(dir string) error { _, err := ReadWorkflowControl(dir); return err }},
		{destinationSelectorsFile, func(dir string) error { _, err := ReadDestinationSelectors(dir); return err }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(8 << 30); err != nil { // 8 GiB, sparse
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			err = tt.read(dir)
			var fileErr *FileError
			if !errors.As(err, &fileErr) || fileErr.Path != tt.file || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
				t.Errorf("an 8 GiB %s: %v, want it refused as too large", tt.file, err)
			}
		})
	}
	t.Run("at the bound", func(t *testing.T) {
		dir := t.TempDir()
		content := "message: " + strings.Repeat("x", MaxMetadataFile-len("message: \n")) + "\n"
		if err := os.WriteFile(filepath.Join(dir, StatusFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if status, err := ReadStatusFile(dir); err != nil || len(status["message"].(string)) != MaxMetadataFile-len("message: \n") {
			t.Errorf("a status.yaml of exactly MaxMetadataFile bytes: %v", err)
		}
	})
}

// TestOutputEntriesAreBounded: an output of more files than a Work can take is refused once
// the walk passes the bound, not read whole.
func TestOutputEntriesAreBounded(t *testing.T) {
	old := maxOutputEntries
	maxOutputEntries = 20
	t.Cleanup(func() { maxOutputEntries = old })
	for _, tt := range []struct {
		files   int
		refused bool
	}{{19, false}, {20, false}, {21, true}} {
		t.Run(fmt.Sprintf("%d files", tt.files), func(t *testing.T) {
			out := t.TempDir()
			files := map[string]string{}
			for i := range tt.files {
				files[fmt.Sprintf("cm-%02d.yaml", i)] = strings.Replace(configMap, "name: ", fmt.Sprintf("name: cm-%02d", i), 1)
			}
			writeTree(t, out, files)
			_, err := BuildWorkSpec(WorkInput{OutputDir: out, WorkflowType: v1alpha1.WorkflowTypePromise, PromiseName: "redis"})
			if refused := err != nil && strings.Contains(err.Error(), "more than 20 files and directories"); refused != tt.refused {
				t.Errorf("%d files: %v, want refused %t", tt.files, err, tt.refused)
			}
		})
	}
}

// TestStepRecoversPanics: a panic in a step fails the step, with the stack in its log, and does
// not end the process that runs it (the local platform runs the steps in its own).
func TestStepRecoversPanics(t *testing.T) {
	var log bytes.Buffer
	// No configuration: the reader panics on it where it copies it.
	err := Step{Name: pipeline.ContainerReader, Log: &log}.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "the reader step failed unexpectedly") {
		t.Fatalf("Run = %v, want the panic as an error", err)
	}
	if !strings.Contains(log.String(), "panic: ") || !strings.Contains(log.String(), "goroutine") {
		t.Errorf("the step's log has no stack:\n%s", log.String())
	}
	if err := (Step{Name: "writer", Config: &rest.Config{}}).Run(t.Context()); err == nil || !strings.Contains(err.Error(), `unknown step "writer"`) {
		t.Errorf("an unknown step: %v", err)
	}
}

// TestReaderCopyIsReadAsAVolumeFile: the status-writer takes the reader's copy of the object
// only as a regular file of bounded size; a link (a hand-made Job's container could mount the
// engine's volume and leave one, to /dev/zero or another user's file of the host) or a huge
// file is passed over, and the object is read from the API server instead.
func TestReaderCopyIsReadAsAVolumeFile(t *testing.T) {
	env := Env{Name: "hello"}
	object := `{"apiVersion":"example.kratix.io/v1","kind":"App","metadata":{"name":"hello","resourceVersion":"1"`
	for _, tt := range []struct {
		name  string
		plant func(t *testing.T, dir string)
		taken bool
	}{
		{"the reader's file", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{EngineObjectFile: object + "}}"})
		}, true},
		{"a link to a file elsewhere", func(t *testing.T, dir string) {
			elsewhere := t.TempDir()
			writeTree(t, elsewhere, map[string]string{"object.json": object + "}}"})
			symlink(t, filepath.Join(elsewhere, "object.json"), filepath.Join(dir, EngineObjectFile))
		}, false},
		{"a file larger than any object", func(t *testing.T, dir string) {
			padding := `,"annotations":{"pad":"` + strings.Repeat("x", maxObjectFile) + `"}}}`
			writeTree(t, dir, map[string]string{EngineObjectFile: object + padding})
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.plant(t, dir)
			if got := readerCopy(dir, env); (got != nil) != tt.taken {
				t.Errorf("readerCopy = %v, want taken %t", got != nil, tt.taken)
			}
		})
	}
}
