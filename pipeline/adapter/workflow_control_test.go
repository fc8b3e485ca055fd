package adapter

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// workflow-control.yaml as upstream Kratix reads it: suspend, retryAfter and message; keys it
// does not know are ignored; a retryAfter that is not a duration and a file that is not YAML
// are refused.
func TestReadWorkflowControl(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          WorkflowControl
		retry         time.Duration
		refused       bool
	}{
		{name: "none"},
		{name: "suspend", content: "suspend: true\nmessage: wait\n", want: WorkflowControl{Suspend: true, Message: "wait"}},
		{name: "retry", content: "retryAfter: 30s\n", want: WorkflowControl{RetryAfter: "30s"}, retry: 30 * time.Second},
		{name: "unknown keys", content: "retryAfter: 1m\nmaxAttempts: 5\nsuspend: false\n", want: WorkflowControl{RetryAfter: "1m"}, retry: time.Minute},
		{name: "bad duration", content: "retryAfter: soon\n", refused: true},
		{name: "not YAML", content: "suspend: [\n", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.content != "" {
				if err := os.WriteFile(filepath.Join(dir, WorkflowControlFile), []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadWorkflowControl(dir)
			if tc.refused {
				if err == nil {
					t.Fatalf("%q read as %+v, want it refused", tc.content, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if d, _ := got.RetryDuration(); d != tc.retry || got.Suspends() != (tc.want.Suspend || tc.retry > 0) {
				t.Errorf("retry %s, suspends %v", d, got.Suspends())
			}
		})
	}
}

// The status-writer's mark in status.kratix.workflows: its pipeline's entry says which run wrote
// the status (reportedRun, read by the engine to trust its cached copy), and what
// workflow-control.yaml asked for.
func TestMarkWorkflowControl(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	stamp := now.Format(time.RFC3339)
	workflows := func(action string, entries ...map[string]any) map[string]any {
		list := make([]any, 0, len(entries))
		for _, e := range entries {
			list = append(list, e)
		}
		return map[string]any{"kratix": map[string]any{"workflows": map[string]any{"action": action, "pipelines": list}}}
	}
	for _, tc := range []struct {
		name    string
		status  map[string]any
		control WorkflowControl
		run     int64
		want    map[string]any
	}{
		{name: "no entry, no control, no run: nothing to say", status: map[string]any{}, want: map[string]any{}},
		{name: "no entry: one with the run", status: map[string]any{}, run: 3,
			want: workflows("configure", map[string]any{"name": "p", "reportedRun": int64(3)})},
		{name: "the engine's entry keeps its fields", run: 4,
			status: workflows("configure", map[string]any{"name": "p", "phase": "Running", "run": int64(3), "hash": "h"}),
			want:   workflows("configure", map[string]any{"name": "p", "phase": "Running", "run": int64(3), "hash": "h", "reportedRun": int64(4)})},
		{name: "a retry", control: WorkflowControl{RetryAfter: "1m", Message: "later"}, run: 2, status: map[string]any{},
			want: map[string]any{"kratix": map[string]any{"workflows": map[string]any{"action": "configure", "suspendedGeneration": int64(7), "pipelines": []any{
				map[string]any{"name": "p", "phase": "Suspended", "message": "later", "attempts": int64(1), "nextRetryAt": now.Add(time.Minute).Format(time.RFC3339), "lastTransitionTime": stamp, "reportedRun": int64(2)},
			}}}}},
		{name: "a suspension cleared", run: 5,
			status: workflows("configure", map[string]any{"name": "p", "phase": "Suspended", "message": "wait"}),
			want:   workflows("configure", map[string]any{"name": "p", "phase": "Running", "lastTransitionTime": stamp, "reportedRun": int64(5)})},
		{name: "the delete workflow's list is replaced", run: 1,
			status: workflows("delete", map[string]any{"name": "d", "phase": "Succeeded"}),
			want:   workflows("configure", map[string]any{"name": "p", "reportedRun": int64(1)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := MarkWorkflowControl(tc.status, "configure", "p", tc.control, 7, tc.run, now); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.status, tc.want) {
				t.Errorf("status\n%#v\nwant\n%#v", tc.status, tc.want)
			}
		})
	}
}
