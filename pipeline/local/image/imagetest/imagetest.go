// Package imagetest serves, builds and pushes OCI images for tests of the local job runner: a
// registry on loopback (optionally behind basic auth), static Go programs to put in images, and
// images built one layer at a time from a map of files. Nothing here reaches a public registry.
package imagetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// RegistryOption configures Registry.
type RegistryOption func(*registryOptions)

type registryOptions struct {
	user, password string
	auth           bool
}

// WithBasicAuth makes the registry answer only requests with this user and password (401 with a
// Basic challenge otherwise).
func WithBasicAuth(user, password string) RegistryOption {
	return func(o *registryOptions) { o.user, o.password, o.auth = user, password, true }
}

// Registry starts an in-memory registry (go-containerregistry's pkg/registry) on 127.0.0.1,
// stopped when the test ends, and returns its host:port. go-containerregistry speaks plain
// http to loopback hosts, so references to it need no options.
func Registry(t testing.TB, opts ...RegistryOption) string {
	t.Helper()
	var o registryOptions
	for _, opt := range opts {
		opt(&o)
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0))) // a nil logger panics
	handler := reg
	if o.auth {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != o.user || p != o.password {
				w.Header().Set("WWW-Authenticate", `Basic realm="imagetest"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			reg.ServeHTTP(w, r)
		})
	}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	return strings.TrimPrefix(server.URL, "http://")
}

// program is one source's build, shared by the tests of a binary.
type program struct {
	once sync.Once
	bin  []byte
	out  []byte
	err  error
}

var programs sync.Map // sha256 of the source → *program

// Program compiles a Go program of one file, package main with no dependencies outside the
// standard library, into a static binary for this machine (CGO_ENABLED=0, with the go on PATH,
// in a temporary module) and returns it. A source is built once per test binary.
func Program(t testing.TB, goSource string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(goSource))
	p, _ := programs.LoadOrStore(hex.EncodeToString(sum[:]), &program{})
	prog := p.(*program)
	prog.once.Do(func() { prog.bin, prog.out, prog.err = build(goSource) })
	if prog.err != nil {
		t.Fatalf("build the test program: %v\n%s", prog.err, prog.out)
	}
	return prog.bin
}

func build(goSource string) (bin, out []byte, err error) {
	dir, err := os.MkdirTemp("", "imagetest-program-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{"go.mod": "module imagetest.program\n\ngo 1.21\n", "main.go": goSource}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, nil, err
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "program", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, out, err
	}
	bin, err = os.ReadFile(filepath.Join(dir, "program"))
	return bin, nil, err
}

// File is one entry of a layer Build adds.
type File struct {
	// Content is a regular file's content.
	Content string
	// Mode holds the permission bits (0 means 0644, or 0755 for a directory) and the type:
	// fs.ModeDir for a directory, fs.ModeSymlink for a symbolic link to Link, none for a file.
	Mode fs.FileMode
	// Link is a symbolic link's target.
	Link string
	// Whiteout removes the path of the layers below instead (an OCI ".wh." entry).
	Whiteout bool
}

// Build returns base (the empty image when nil) with one more layer holding files, by path in
// the image ("bin/hello" or "/bin/hello"), and its config changed by cfg when not nil. Parent
// directories a layer lacks are added with mode 0755. An image built on the empty image says
// it is for linux on this machine's architecture.
func Build(t testing.TB, base v1.Image, files map[string]File, cfg func(*v1.Config)) v1.Image {
	t.Helper()
	if base == nil {
		base = empty.Image
	}
	data, err := layerTar(files)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if cf.OS == "" {
		cf.OS, cf.Architecture = "linux", runtime.GOARCH
	}
	if cfg != nil {
		cfg(&cf.Config)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// layerTar writes the files as a tar stream, in the order of their names, parents first.
func layerTar(files map[string]File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	written := map[string]bool{}
	names := make([]string, 0, len(files))
	clean := map[string]File{}
	for p, f := range files {
		p = strings.TrimPrefix(path.Clean("/"+p), "/")
		clean[p] = f
		names = append(names, p)
	}
	slices.Sort(names)
	var dirs func(string) error
	dirs = func(dir string) error {
		if dir == "." || dir == "" || written[dir] {
			return nil
		}
		if err := dirs(path.Dir(dir)); err != nil {
			return err
		}
		written[dir] = true
		if f, ok := clean[dir]; ok && f.Mode.IsDir() {
			return nil // written with its own mode
		}
		return tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for _, p := range names {
		f := clean[p]
		if err := dirs(path.Dir(p)); err != nil {
			return nil, err
		}
		perm := int64(f.Mode.Perm())
		h := &tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: perm, Size: int64(len(f.Content))}
		switch {
		case f.Whiteout:
			h = &tar.Header{Name: path.Join(path.Dir(p), ".wh."+path.Base(p)), Typeflag: tar.TypeReg, Mode: 0o644}
		case f.Mode.IsDir():
			h = &tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: perm}
			if perm == 0 {
				h.Mode = 0o755
			}
			written[p] = true
		case f.Mode&fs.ModeSymlink != 0:
			h = &tar.Header{Name: p, Typeflag: tar.TypeSymlink, Linkname: f.Link, Mode: 0o777}
		case perm == 0:
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			if _, err := tw.Write([]byte(f.Content)); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Auth is the remote option of a registry's basic auth, for Push and pulls.
func Auth(user, password string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: user, Password: password})
}

// Push writes the image to the registry as ref (a loopback registry speaks plain http); opts
// reach the registry (Auth for one WithBasicAuth guards).
func Push(t testing.TB, ref string, img v1.Image, opts ...remote.Option) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, append(opts[:len(opts):len(opts)], remote.WithContext(t.Context()))...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}
