package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalCommandLineErrors checks the exit codes and messages of bad `kratix local` command
// lines; none of them starts anything. TestLocalPlatform (test/e2e) runs the real thing.
func TestLocalCommandLineErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"local", "extra"}, 2, "unexpected arguments: extra"},
		{[]string{"local", "--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"local", "--data-dir", data, "--bin-dir", t.TempDir()}, 1, "run `make tools`"},
		{[]string{"local", "--data-dir", data, "--api-port", "70000"}, 1, "API port 70000 is not a port"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}
