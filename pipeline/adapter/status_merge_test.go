package adapter

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/api/v1alpha1"
)

var now = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)

const (
	earlierText = "2026-01-01T00:00:00Z"
	nowText     = "2026-02-03T04:05:06Z"
)

// parse reads a status.yaml or fails the test.
func parse(t *testing.T, text string) map[string]any {
	t.Helper()
	m, err := ParseStatusFile([]byte(text))
	if err != nil {
		t.Fatalf("ParseStatusFile: %v", err)
	}
	return m
}

// TestMergeStatus: status.yaml's keys replace, its conditions merge by type, and the end of a
// configure workflow is recorded.
func TestMergeStatus(t *testing.T) {
	current := func() map[string]any {
		return map[string]any{
			"message":  "old",
			"endpoint": map[string]any{"host": "old.example.com", "port": int64(1)},
			"keep":     "me",
			"conditions": []any{
				map[string]any{"type": "Ready", "status": "False", "reason": "Waiting", "lastTransitionTime": earlierText},
				map[string]any{"type": "ConfigureWorkflowCompleted", "status": "False", "reason": "PipelinesInProgress", "lastTransitionTime": earlierText},
			},
		}
	}
	tests := []struct {
		name      string
		current   map[string]any
		file      string
		completed bool
		workflow  string
		want      map[string]any
	}{
		{
			name:    "top-level keys replace, others stay",
			current: current(),
			file:    "message: rendered by version 2\nendpoint:\n  host: new.example.com\nreplicas: 3\n",
			want: map[string]any{
				"message": "rendered by version 2", "endpoint": map[string]any{"host": "new.example.com"}, "keep": "me", "replicas": int64(3),
				"conditions": current()["conditions"],
			},
		},
		{
			name:    "conditions merge by type",
			current: current(),
			file: `conditions:
  - type: Ready
    status: "False"
    reason: StillWaiting
  - type: DatabaseReady
    status: "True"
    reason: Provisioned
`,
			want: map[string]any{
				"message": "old", "endpoint": current()["endpoint"], "keep": "me",
				"conditions": []any{
					// Same status: the transition time stays.
					map[string]any{"type": "Ready", "status": "False", "reason": "StillWaiting", "lastTransitionTime": earlierText},
					map[string]any{"type": "ConfigureWorkflowCompleted", "status": "False", "reason": "PipelinesInProgress", "lastTransitionTime": earlierText},
					map[string]any{"type": "DatabaseReady", "status": "True", "reason": "Provisioned", "lastTransitionTime": nowText},
				},
			},
		},
		{
			name:    "a condition that changes status gets a new transition time",
			current: current(),
			file:    "conditions:\n  - type: Ready\n    status: \"True\"\n    reason: Up\n",
			want: map[string]any{
				"message": "old", "endpoint": current()["endpoint"], "keep": "me",
				"conditions": []any{
					map[string]any{"type": "Ready", "status": "True", "reason": "Up", "lastTransitionTime": nowText},
					map[string]any{"type": "ConfigureWorkflowCompleted", "status": "False", "reason": "PipelinesInProgress", "lastTransitionTime": earlierText},
				},
			},
		},
		{
			name:      "after the last configure pipeline of a resource: completed, default message",
			current:   current(),
			completed: true,
			workflow:  v1alpha1.WorkflowTypeResource,
			want: map[string]any{
				"message": "Resource requested", "endpoint": current()["endpoint"], "keep": "me",
				"conditions": []any{
					current()["conditions"].([]any)[0],
					map[string]any{"type": "ConfigureWorkflowCompleted", "status": "True", "reason": "PipelinesExecutedSuccessfully", "message": "All configure pipelines completed", "lastTransitionTime": nowText},
				},
			},
		},
		{
			name:      "after the last configure pipeline of a Promise, with no status yet",
			completed: true,
			workflow:  v1alpha1.WorkflowTypePromise,
			want: map[string]any{
				"message": "Promise configured",
				"conditions": []any{
					map[string]any{"type": "ConfigureWorkflowCompleted", "status": "True", "reason": "PipelinesExecutedSuccessfully", "message": "All configure pipelines completed", "lastTransitionTime": nowText},
				},
			},
		},
		{
			name:      "status.yaml's message wins over the default",
			completed: true,
			workflow:  v1alpha1.WorkflowTypeResource,
			file:      "message: rendered by version 1\n",
			want: map[string]any{
				"message": "rendered by version 1",
				"conditions": []any{
					map[string]any{"type": "ConfigureWorkflowCompleted", "status": "True", "reason": "PipelinesExecutedSuccessfully", "message": "All configure pipelines completed", "lastTransitionTime": nowText},
				},
			},
		},
		{
			name:    "before the last pipeline, nothing is marked complete",
			current: map[string]any{"message": "old"},
			file:    "message: step one\n",
			want:    map[string]any{"message": "step one"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var file map[string]any
			if tt.file != "" {
				file = parse(t, tt.file)
			}
			before, err := copyMap(tt.current)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MergeStatus(StatusInput{Current: tt.current, File: file, WorkflowType: tt.workflow, ConfigureCompleted: tt.completed, Now: now})
			if err != nil {
				t.Fatalf("MergeStatus: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("status\n%#v\nwant\n%#v", got, tt.want)
			}
			if tt.current != nil && !reflect.DeepEqual(tt.current, before) {
				t.Errorf("MergeStatus changed the current status it was given")
			}
		})
	}
}

// TestMergeStatusRefuses: the reserved key and malformed conditions fail the pipeline.
func TestMergeStatusRefuses(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"reserved key", "kratix:\n  anything: true\nmessage: hi\n", `"kratix"`},
		{"conditions not a list", "conditions: {type: Ready}\n", "conditions must be a list"},
		{"condition without a type", "conditions:\n  - status: \"True\"\n", "conditions[0] needs a type"},
		{"condition not a mapping", "conditions:\n  - Ready\n", "conditions[0] must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MergeStatus(StatusInput{File: parse(t, tt.file), Now: now})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %s", err, tt.want)
			}
		})
	}
}

// TestParseStatusFile: a mapping, empty is empty, anything else is refused.
func TestParseStatusFile(t *testing.T) {
	if m := parse(t, ""); len(m) != 0 {
		t.Errorf("empty file gave %v", m)
	}
	if m := parse(t, "# only a comment\n"); len(m) != 0 {
		t.Errorf("a comment gave %v", m)
	}
	if m := parse(t, "count: 3\nratio: 1.5\n"); m["count"] != int64(3) || m["ratio"] != 1.5 {
		t.Errorf("numbers read as %#v and %#v, want int64 3 and float64 1.5", m["count"], m["ratio"])
	}
	for _, bad := range []string{"- a\n- b\n", "just text\n", "a: [1\n", "a: 1\na: 2\n"} {
		if _, err := ParseStatusFile([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestReadStatusFile: read from the metadata directory; none is nothing to merge.
func TestReadStatusFile(t *testing.T) {
	meta := t.TempDir()
	if m, err := ReadStatusFile(meta); err != nil || m != nil {
		t.Errorf("no file: %v, %v", m, err)
	}
	if err := os.WriteFile(filepath.Join(meta, StatusFile), []byte("message: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := ReadStatusFile(meta); err != nil || m["message"] != "hello" {
		t.Errorf("got %v, %v", m, err)
	}
	if err := os.WriteFile(filepath.Join(meta, StatusFile), []byte("- not a map\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatusFile(meta); err == nil || !strings.Contains(err.Error(), StatusFile) {
		t.Errorf("error %v, want one naming %s", err, StatusFile)
	}
}
