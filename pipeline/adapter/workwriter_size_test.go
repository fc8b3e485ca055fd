package adapter

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestCheckSize: output that would make the Work too large is refused, saying how large it is,
// the budget, and which files are the largest.
func TestCheckSize(t *testing.T) {
	out := t.TempDir()
	// Random bytes do not compress, so their encoded size is about 4/3 of their length.
	writeRandom(t, filepath.Join(out, "big.bin"), 600<<10)
	writeRandom(t, filepath.Join(out, "db", "dump.bin"), 300<<10)
	writeTree(t, out, map[string]string{"small.yaml": configMap})
	spec, err := BuildWorkSpec(WorkInput{OutputDir: out, WorkflowType: v1alpha1.WorkflowTypePromise, PromiseName: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	size := EncodedSize(spec)
	if size < 1200<<10 || size > 1300<<10 {
		t.Fatalf("encoded size %d, want about 4/3 of 900 KiB", size)
	}

	tests := []struct {
		name    string
		budget  int
		refused bool
	}{
		{"over the default budget of 1 MiB", 0, true},
		{"under a larger budget", 2 << 20, false},
		{"exactly at the budget", size, false},
		{"one byte over a budget", size - 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSize(spec, tt.budget)
			if (err != nil) != tt.refused {
				t.Fatalf("CheckSize(%d) = %v, want refused %v", tt.budget, err, tt.refused)
			}
			if err == nil {
				return
			}
			var tooLarge *TooLargeError
			if !errors.As(err, &tooLarge) || tooLarge.Size != size {
				t.Fatalf("error %v, want a *TooLargeError of size %d", err, size)
			}
			msg := err.Error()
			for _, want := range []string{"big.bin", "db/dump.bin", "1.5 MiB", "budget"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message does not mention %q: %s", want, msg)
				}
			}
			if strings.Index(msg, "big.bin") > strings.Index(msg, "db/dump.bin") {
				t.Errorf("the largest file is not named first: %s", msg)
			}
		})
	}
	if err := CheckSize(v1alpha1.WorkSpec{}, 0); err != nil {
		t.Errorf("an empty Work is too large: %v", err)
	}
}

func writeRandom(t *testing.T, path string, n int) {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
