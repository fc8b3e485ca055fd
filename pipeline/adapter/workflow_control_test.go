package adapter

import (
	"os"
	"path/filepath"
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
