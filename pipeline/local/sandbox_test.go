package local

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSandboxRunsAContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace") // CI and the local platform run as root here
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	input, output := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(input, "object.yaml"), []byte("kind: AppConfig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -eu
cat /kratix/input/object.yaml
echo "$GREETING" > /kratix/output/a.yaml
if echo x > /kratix/input/x 2>/dev/null; then echo "input is writable"; exit 9; fi
if echo x > /usr/x 2>/dev/null; then echo "/usr is writable"; exit 9; fi
test ! -e /root/.bashrc || { echo "the host's /root is visible"; exit 9; }
exit 3`
	spec := Spec{
		Args: []string{"sh", "-c", script},
		Env:  []string{"PATH=/usr/bin:/bin", "GREETING=hello"},
		Binds: []Bind{
			{Source: input, Target: "/kratix/input", ReadOnly: true},
			{Source: output, Target: "/kratix/output"},
		},
		Root: t.TempDir(),
	}
	cmd, err := Command(t.Context(), self, spec)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("exit %v, want status 3 from the script:\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "kind: AppConfig") {
		t.Errorf("the container did not read its input:\n%s", out.String())
	}
	if data, err := os.ReadFile(filepath.Join(output, "a.yaml")); err != nil || string(data) != "hello\n" {
		t.Errorf("output a.yaml = %q, %v", data, err)
	}
	if _, err := os.Stat("/kratix"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/kratix exists on the host: %v", err)
	}
	if entries, _ := os.ReadDir(spec.Root); len(entries) != 0 {
		t.Errorf("the sandbox root left %d entries on the host", len(entries))
	}
}

func TestSandboxRefusals(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, spec := range []Spec{
		{Args: nil, Root: t.TempDir()},
		{Args: []string{"true"}, Binds: []Bind{{Source: t.TempDir(), Target: "relative"}}, Root: t.TempDir()},
	} {
		if _, err := Command(t.Context(), "/bin/true", spec); err == nil {
			t.Errorf("Command(%+v) accepted", spec)
		}
	}
	self, _ := os.Executable()
	cmd, err := Command(t.Context(), self, Spec{Args: []string{"no-such-command"}, Env: []string{"PATH=/usr/bin"}, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 126 || !strings.Contains(string(out), `"no-such-command" is not in the sandbox's PATH`) {
		t.Errorf("a missing command: %v\n%s", err, out)
	}
}
