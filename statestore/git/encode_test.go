package git

import (
	"bytes"
	"io"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestEncodeTreeMatchesGoGit checks the fast tree encoder against go-git's, on names whose order
// depends on Git's rule that a directory sorts as if its name ended in "/".
func TestEncodeTreeMatchesGoGit(t *testing.T) {
	d := &dir{loaded: true, entries: map[string]*entry{}}
	names := map[string]filemode.FileMode{
		"a": filemode.Dir, "a.yaml": filemode.Regular, "a-b": filemode.Regular, "a0": filemode.Dir,
		"ab": filemode.Regular, "b": filemode.Regular, "b.d": filemode.Dir, "Z": filemode.Regular,
		"a_": filemode.Dir, "ü": filemode.Regular,
	}
	for name, mode := range names {
		d.entries[name] = &entry{mode: mode, hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(name))}
	}
	var tr object.Tree
	for name, e := range d.entries {
		tr.Entries = append(tr.Entries, object.TreeEntry{Name: name, Mode: e.mode, Hash: e.hash})
	}
	sortTree(&tr)
	want := &plumbing.MemoryObject{}
	if err := tr.Encode(want); err != nil {
		t.Fatal(err)
	}
	if got := encodeTree(d); got.Hash() != want.Hash() {
		gotData, _ := io.ReadAll(mustReader(t, got))
		wantData, _ := io.ReadAll(mustReader(t, want))
		t.Fatalf("encoded tree differs from go-git's:\n got %q\nwant %q", gotData, wantData)
	}
}

func sortTree(tr *object.Tree) {
	entries := object.TreeEntrySorter(tr.Entries)
	for i := 1; i < len(entries); i++ {
		for j := i; j > 0 && entries.Less(j, j-1); j-- {
			entries.Swap(j, j-1)
		}
	}
}

func mustReader(t *testing.T, o *plumbing.MemoryObject) io.Reader {
	r, err := o.Reader()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWritePackReadsBack parses the pack with go-git's own parser into a fresh store and compares
// every object.
func TestWritePackReadsBack(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // sizes that need several header bytes
	src, hashes := newObjects(t, map[string][]byte{"a/b/c.yaml": []byte("c"), "a/big.bin": big, "empty": nil})
	// Twice: the second pack is written with the compressor the first one left in the pool.
	for round := range 2 {
		var pack bytes.Buffer
		if err := writePack(&pack, src, hashes); err != nil {
			t.Fatal(err)
		}
		dst := memory.NewStorage()
		if err := packfile.UpdateObjectStorage(dst, &pack); err != nil {
			t.Fatalf("pack %d: go-git refuses it: %v", round, err)
		}
		for _, h := range hashes {
			want, _ := src.EncodedObject(plumbing.AnyObject, h)
			got, err := dst.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				t.Fatalf("pack %d: object %s is not in it: %v", round, h, err)
			}
			if got.Type() != want.Type() || got.Size() != want.Size() {
				t.Errorf("pack %d: object %s: %s/%d, want %s/%d", round, h, got.Type(), got.Size(), want.Type(), want.Size())
			}
		}
	}
}

// BenchmarkWritePack is the pack of a typical push: one request's file, its directory's trees
// and a commit's worth of small objects.
func BenchmarkWritePack(b *testing.B) {
	src, hashes := newObjects(b, map[string][]byte{"dev/resources/default/promise/req/pipeline/5058f/file.yaml": []byte("apiVersion: v1\nkind: ConfigMap\n")})
	var pack bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		pack.Reset()
		if err := writePack(&pack, src, hashes); err != nil {
			b.Fatal(err)
		}
	}
}

// newObjects writes the files into a new tree over a new store, encodes it, and returns the
// store with the objects the tree added: what a push of those files would send.
func newObjects(tb testing.TB, files map[string][]byte) (*memory.Storage, []plumbing.Hash) {
	tb.Helper()
	src := memory.NewStorage()
	tr := newTree(src, plumbing.ZeroHash)
	for p, c := range files {
		if _, err := tr.writeFile(p, c); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := tr.encode(); err != nil {
		tb.Fatal(err)
	}
	hashes := make([]plumbing.Hash, 0, len(tr.added))
	for h := range tr.added {
		hashes = append(hashes, h)
	}
	return src, hashes
}
