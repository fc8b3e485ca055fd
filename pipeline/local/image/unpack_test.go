package image

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one tar entry of a test layer.
type entry struct {
	name     string
	typ      byte
	content  string
	linkname string
	mode     int64
}

func file(name, content string) entry { return entry{name: name, typ: tar.TypeReg, content: content} }
func dir(name string) entry           { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }

// layer builds an uncompressed layer of the entries.
func layer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: mode, Linkname: e.linkname, Size: int64(len(e.content))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.content)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tree lists the files under dir with their content ("dir/" for directories, "-> target" for
// symbolic links).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[rel] = "-> " + target
			return err
		case d.IsDir():
			out[rel+"/"] = ""
		default:
			data, err := os.ReadFile(p)
			out[rel] = string(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUnpackAppliesLayersAndWhiteouts: layers apply lowest first; a whiteout removes a file or
// directory of the layers below, an opaque whiteout empties a directory, an entry replaces a file
// with a directory or a directory with a file, a hard link shares its target's content, and
// device files are skipped.
func TestUnpackAppliesLayersAndWhiteouts(t *testing.T) {
	img := imageOf(t,
		layer(t, dir("a"), file("a/x", "x"), file("a/y", "y"), dir("b"), file("b/z", "z"), dir("gone"), file("gone/f", "f"),
			file("was-file", "1"), dir("was-dir"), file("was-dir/in", "in"), file("./keep", "keep"),
			entry{name: "dev-null", typ: tar.TypeChar}),
		layer(t, file("a/.wh.x", ""), file("b/.wh..wh..opq", ""), file("b/new", "new"), file(".wh.gone", ""),
			dir("was-file"), file("was-file/now", "now"), file("was-dir", "now a file"),
			entry{name: "link", typ: tar.TypeLink, linkname: "keep"}, entry{name: "sym", typ: tar.TypeSymlink, linkname: "/a/y"}),
	)
	dir := t.TempDir()
	if err := Unpack(t.Context(), img, dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a/": "", "a/y": "y", "b/": "", "b/new": "new", "keep": "keep", "link": "keep", "sym": "-> /a/y",
		"was-file/": "", "was-file/now": "now", "was-dir": "now a file",
	}
	if got := tree(t, dir); !maps.Equal(got, want) {
		t.Errorf("unpacked:\n got %v\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}

// TestUnpackWritesNothingOutsideItsDirectory: a layer is its author's to write. Entries that
// climb out with "..", through a symbolic link among their parents, or by a hard link to a file
// outside, fail the unpack and leave the host's files alone; an absolute name lands inside.
func TestUnpackWritesNothingOutsideItsDirectory(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		entries []entry
		refused bool
	}{
		{"a name that climbs out", []entry{file("../escaped", "x")}, true},
		{"a name that climbs out from inside", []entry{dir("a"), file("a/../../escaped", "x")}, true},
		{"a symbolic link to a directory outside, then a file through it", []entry{{name: "out", typ: tar.TypeSymlink, linkname: outside}, file("out/escaped", "x")}, true},
		{"a relative link that climbs out, then a file through it", []entry{{name: "up", typ: tar.TypeSymlink, linkname: "../../../../../../" + outside}, file("up/escaped", "x")}, true},
		{"a hard link to a file outside", []entry{{name: "stolen", typ: tar.TypeLink, linkname: "../" + filepath.Base(outside) + "/secret"}}, true},
		{"a hard link by absolute name to a host file", []entry{{name: "stolen", typ: tar.TypeLink, linkname: secret}}, true},
		{"an absolute name lands inside", []entry{file("/etc/absolute", "inside")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Unpack(t.Context(), imageOf(t, layer(t, tc.entries...)), dir)
			if tc.refused && err == nil {
				t.Errorf("unpacked without an error: %v", tree(t, dir))
			}
			if !tc.refused && err != nil {
				t.Errorf("refused: %v", err)
			}
			if got := tree(t, outside); !maps.Equal(got, map[string]string{"secret": "host"}) {
				t.Errorf("the directory outside now holds %v", got)
			}
			for p, content := range tree(t, dir) {
				if strings.Contains(content, "host") {
					t.Errorf("%s holds the host file's content", p)
				}
			}
		})
	}
}
