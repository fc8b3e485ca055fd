package gitserver_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
)

// cli runs the git CLI as a client, isolated from the machine's configuration, with a home and
// working directories inside the test's temporary directory.
type cli struct {
	t   testing.TB
	dir string
	env []string
}

func newCLI(t testing.TB) *cli {
	t.Helper()
	dir := t.TempDir()
	return &cli{t: t, dir: dir, env: gitserver.GitEnv(filepath.Join(dir, "home"))}
}

// path is a fresh path inside the client's directory.
func (c *cli) path(name string) string { return filepath.Join(c.dir, name) }

// run runs git in dir (the client's directory when empty) and returns its combined output.
func (c *cli) run(dir string, args ...string) (string, error) {
	c.t.Helper()
	if dir == "" {
		dir = c.dir
	}
	ctx, cancel := context.WithTimeout(c.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// must runs git and fails the test if it fails.
func (c *cli) must(dir string, args ...string) string {
	c.t.Helper()
	out, err := c.run(dir, args...)
	if err != nil {
		c.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// commitFile writes name with content in the work tree dir and commits it.
func (c *cli) commitFile(dir, name, content, message string) {
	c.t.Helper()
	full := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.must(dir, "add", name)
	c.must(dir, "commit", "--quiet", "-m", message)
}

// withCredentials adds user:password to a URL.
func withCredentials(t testing.TB, raw, user, password string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// readFile returns the content of a file, failing the test if it cannot be read.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitRefused waits until nothing listens on addr any more.
func waitRefused(t testing.TB, addr string) {
	t.Helper()
	testenv.Eventually(t, addr+" refuses connections", 30*time.Second, 10*time.Millisecond, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		_ = c.Close() // only probing
		return fmt.Errorf("%s still accepts connections", addr)
	})
}
