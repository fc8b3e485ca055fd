package imagetest_test

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"kratix.dev/kratix/pipeline/local/image"
	"kratix.dev/kratix/pipeline/local/image/imagetest"
)

const hello = `package main

import "fmt"

func main() { fmt.Println("hello from the image") }
`

// TestBuildPushPull: a program built by Program, in an image of two layers built by Build (the
// second removes a file of the first and adds a symbolic link), pushed to a registry behind
// basic auth, pulls with the password and not without it, unpacks to the files each layer says,
// and runs.
func TestBuildPushPull(t *testing.T) {
	host := imagetest.Registry(t, imagetest.WithBasicAuth("robot", "pw"))
	bin := imagetest.Program(t, hello)
	if again := imagetest.Program(t, hello); &again[0] != &bin[0] {
		t.Error("the same source was built twice")
	}
	base := imagetest.Build(t, nil, map[string]imagetest.File{
		"bin/hello":     {Content: string(bin), Mode: 0o755},
		"etc/motd":      {Content: "old"},
		"/var/data":     {Mode: fs.ModeDir | 0o700},
		"etc/gone/file": {Content: "x"},
	}, func(c *v1.Config) { c.Entrypoint = []string{"/bin/hello"} })
	img := imagetest.Build(t, base, map[string]imagetest.File{
		"etc/gone":   {Whiteout: true},
		"etc/motd":   {Content: "new"},
		"usr/bin/hi": {Mode: fs.ModeSymlink, Link: "/bin/hello"},
	}, func(c *v1.Config) { c.Env = append(c.Env, "GREETING=hi") })

	ref := host + "/team/hello:v1"
	imagetest.Push(t, ref, img, imagetest.Auth("robot", "pw"))
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	var te *transport.Error
	if _, err := remote.Image(r); !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Errorf("a pull without the password: %v, want 401", err)
	}
	pulled, err := remote.Image(r, imagetest.Auth("robot", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	if layers, err := pulled.Layers(); err != nil || len(layers) != 2 {
		t.Errorf("the image has %d layers (%v), want 2", len(layers), err)
	}
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/bin/hello"}) || !slices.Contains(cf.Config.Env, "GREETING=hi") || cf.OS != "linux" {
		t.Errorf("config = %+v", cf)
	}

	dir := t.TempDir()
	if err := image.Unpack(t.Context(), pulled, dir); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "etc/motd")); err != nil || string(data) != "new" {
		t.Errorf("etc/motd = %q, %v", data, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("etc/gone after its whiteout: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, "var/data")); err != nil || !info.IsDir() || info.Mode().Perm() != 0o700 {
		t.Errorf("var/data: %v, %v", info, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "usr/bin/hi")); err != nil || target != "/bin/hello" {
		t.Errorf("usr/bin/hi -> %q, %v", target, err)
	}
	out, err := exec.Command(filepath.Join(dir, "bin/hello")).Output()
	if err != nil || string(out) != "hello from the image\n" {
		t.Errorf("bin/hello said %q, %v", out, err)
	}
}
