package git

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"kratix.dev/kratix/statestore"
)

// filesOf reads every file of the tree with go-git's own tree walker, independently of the
// editor under test.
func filesOf(t *testing.T, store *memory.Storage, root plumbing.Hash) map[string]string {
	t.Helper()
	out := map[string]string{}
	if root.IsZero() {
		return out
	}
	tr, err := object.GetTree(store, root)
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Files().ForEach(func(f *object.File) error {
		s, err := f.Contents()
		out[f.Name] = s
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fromScratch builds a tree holding exactly files and returns its root hash.
func fromScratch(t *testing.T, files map[string]string) plumbing.Hash {
	t.Helper()
	tr := newTree(memory.NewStorage(), plumbing.ZeroHash)
	for p, c := range files {
		if _, err := tr.writeFile(p, []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := tr.encode()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTreeEdits(t *testing.T) {
	type step struct {
		op      string // write, remove, replace
		path    string
		content string
		files   map[string]string // for replace, relative to path
		changed bool
		// refused: the step fails with statestore.ErrConflict and changes nothing.
		refused bool
	}
	base := map[string]string{
		"dev/dependencies/kratix-canary-namespace.yaml":          "ns",
		"dev/resources/default/app/hello/render/5058f/cm.yaml":   "v1",
		"dev/resources/default/app/hello/render/5058f/sub/x.txt": "x",
		"dev/resources/default/app/other/render/5058f/cm.yaml":   "other",
		"prod/dependencies/p/5058f/static/p-dependencies.yaml":   "deps",
		"README": "top",
	}
	cases := []struct {
		name  string
		steps []step
		want  map[string]string
	}{
		{"rewrite identical content", []step{{op: "write", path: "README", content: "top", changed: false}}, base},
		{"replace a directory with identical content",
			[]step{{op: "replace", path: "dev/resources/default/app/hello/render/5058f", files: map[string]string{"cm.yaml": "v1", "sub/x.txt": "x"}, changed: false}}, base},
		{"replace a directory drops what the new content lacks",
			[]step{{op: "replace", path: "dev/resources/default/app/hello/render/5058f", files: map[string]string{"cm.yaml": "v2"}, changed: true}},
			with(base, map[string]string{"dev/resources/default/app/hello/render/5058f/cm.yaml": "v2", "dev/resources/default/app/hello/render/5058f/sub/x.txt": ""})},
		{"replace a new directory creates its parents",
			[]step{{op: "replace", path: "staging/resources/ns/app/r/render/5058f", files: map[string]string{"a.yaml": "a", "deep/b/c.yaml": "c"}, changed: true}},
			with(base, map[string]string{"staging/resources/ns/app/r/render/5058f/a.yaml": "a", "staging/resources/ns/app/r/render/5058f/deep/b/c.yaml": "c"})},
		{"replace with nothing removes the directory and its empty parents",
			[]step{{op: "replace", path: "prod/dependencies/p/5058f/static", changed: true}},
			with(base, map[string]string{"prod/dependencies/p/5058f/static/p-dependencies.yaml": ""})},
		{"remove a file keeps its non-empty directory",
			[]step{{op: "remove", path: "dev/resources/default/app/hello/render/5058f/sub/x.txt", changed: true}},
			with(base, map[string]string{"dev/resources/default/app/hello/render/5058f/sub/x.txt": ""})},
		{"remove what is not there", []step{{op: "remove", path: "nowhere/x", changed: false}}, base},
		{"write then revert within one tree",
			[]step{{op: "write", path: "README", content: "changed", changed: true}, {op: "write", path: "README", content: "top", changed: true}}, base},
		{"a file where a directory must go is left alone",
			[]step{{op: "write", path: "README/inner.yaml", content: "i", refused: true}}, base},
		{"a directory where a file must go is left alone",
			[]step{{op: "write", path: "dev/dependencies", content: "f", refused: true}}, base},
		{"a file where a replaced directory must go is left alone",
			[]step{{op: "replace", path: "README", files: map[string]string{"a.yaml": "a"}, refused: true}}, base},
		{"a file where a replaced directory's parent must go is left alone",
			[]step{{op: "replace", path: "README/x", files: map[string]string{"a.yaml": "a"}, refused: true}}, base},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := memory.NewStorage()
			seed := newTree(store, plumbing.ZeroHash)
			for p, c := range base {
				if _, err := seed.writeFile(p, []byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			baseRoot, err := seed.encode()
			if err != nil {
				t.Fatal(err)
			}

			tr := newTree(store, baseRoot) // a fresh view, loading lazily from the store
			for i, s := range tc.steps {
				var changed bool
				var err error
				switch s.op {
				case "write":
					changed, err = tr.writeFile(s.path, []byte(s.content))
				case "remove":
					changed, err = tr.remove(s.path)
				case "replace":
					files := map[string][]byte{}
					for p, c := range s.files {
						files[p] = []byte(c)
					}
					changed, err = tr.replaceDir(s.path, files)
				}
				switch {
				case s.refused && !errors.Is(err, statestore.ErrConflict):
					t.Fatalf("step %d (%s %s): error %v, want one that matches ErrConflict", i, s.op, s.path, err)
				case s.refused:
					continue
				case err != nil:
					t.Fatalf("step %d: %v", i, err)
				}
				if changed != s.changed {
					t.Errorf("step %d (%s %s) reported changed=%v, want %v", i, s.op, s.path, changed, s.changed)
				}
			}
			root, err := tr.encode()
			if err != nil {
				t.Fatal(err)
			}
			if got := filesOf(t, store, root); !maps.Equal(got, tc.want) {
				t.Errorf("files after the edits:\n got %v\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tc.want)))
			}
			if want := fromScratch(t, tc.want); root != want {
				t.Errorf("root %s differs from the same content built from scratch (%s): trees are not canonical", root, want)
			}
			if !slices.ContainsFunc(tc.steps, func(s step) bool { return s.changed }) && len(tr.added) != 0 {
				t.Errorf("edits that changed nothing added %d objects to the store", len(tr.added))
			}
		})
	}
}

// with returns base with the overrides applied; an empty value deletes the path.
func with(base, overrides map[string]string) map[string]string {
	out := maps.Clone(base)
	for p, c := range overrides {
		if c == "" {
			delete(out, p)
		} else {
			out[p] = c
		}
	}
	return out
}

// TestTreeAddsOnlyNewObjects checks that a one-file change in a wide repository adds one blob and
// only the trees along its path: what a push must carry.
func TestTreeAddsOnlyNewObjects(t *testing.T) {
	store := memory.NewStorage()
	seed := newTree(store, plumbing.ZeroHash)
	for i := range 2000 {
		if _, err := seed.writeFile(fmt.Sprintf("dest-%d/resources/default/p/req-%d/pipe/5058f/f.yaml", i%4, i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	root, err := seed.encode()
	if err != nil {
		t.Fatal(err)
	}
	tr := newTree(store, root)
	if _, err := tr.writeFile("dest-1/resources/default/p/req-1/pipe/5058f/f.yaml", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.encode(); err != nil {
		t.Fatal(err)
	}
	// 1 blob + 8 trees: root, dest-1, resources, default, p, req-1, pipe, 5058f.
	if len(tr.added) != 9 {
		t.Errorf("a one-file change added %d objects, want 9 (one blob and the trees along its path)", len(tr.added))
	}
}
