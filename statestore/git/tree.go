package git

import (
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"kratix.dev/kratix/statestore"
)

// tree is an editable view of a commit's tree over an object store. Directories are loaded from
// the store only when a change reaches them, and only the directories along changed paths are
// re-encoded, so that a change costs O(the directories it touches), not O(repository).
//
// Every object the tree adds to the store is recorded in added, which is exactly what a push must
// send: the rest was in the store already, so the remote has it.
type tree struct {
	store storer.EncodedObjectStorer
	root  *dir
	added map[plumbing.Hash]struct{}
}

// dir is one directory. Its entries are loaded lazily; hash is valid while the dir is not dirty.
type dir struct {
	hash    plumbing.Hash
	loaded  bool
	dirty   bool
	entries map[string]*entry
}

// entry is a file or a subdirectory of a dir.
type entry struct {
	mode filemode.FileMode
	hash plumbing.Hash // blob hash; for a directory, valid while sub is nil or not dirty
	sub  *dir          // the loaded subdirectory, nil for files and not yet loaded directories
}

// newTree returns the tree whose root is rootHash; the zero hash is an empty tree.
func newTree(store storer.EncodedObjectStorer, rootHash plumbing.Hash) *tree {
	root := &dir{hash: rootHash}
	if rootHash.IsZero() {
		root.loaded, root.entries = true, map[string]*entry{}
	}
	return &tree{store: store, root: root, added: map[plumbing.Hash]struct{}{}}
}

// load reads a directory's entries from the store.
func (t *tree) load(d *dir) error {
	if d.loaded {
		return nil
	}
	obj, err := t.store.EncodedObject(plumbing.TreeObject, d.hash)
	if err != nil {
		return fmt.Errorf("read tree %s: %w", d.hash, err)
	}
	var tr object.Tree
	if err := tr.Decode(obj); err != nil {
		return fmt.Errorf("decode tree %s: %w", d.hash, err)
	}
	d.entries = make(map[string]*entry, len(tr.Entries))
	for _, e := range tr.Entries {
		d.entries[e.Name] = &entry{mode: e.Mode, hash: e.Hash}
	}
	d.loaded = true
	return nil
}

// walk returns the directory at the segments, loaded, creating missing directories (new ones are
// dirty) when create is set; a caller that changes the directory marks the way to it dirty with
// markDirty. It returns nil, nil when the directory does not exist and create is false. A file
// where a directory is to be created is an error matching statestore.ErrConflict: replacing it
// would remove a file that the change does not name, perhaps another placement's.
func (t *tree) walk(segs []string, create bool) (*dir, error) {
	d := t.root
	for i, name := range segs {
		if err := t.load(d); err != nil {
			return nil, err
		}
		e, ok := d.entries[name]
		switch {
		case ok && e.mode != filemode.Dir && create:
			return nil, inTheWay(strings.Join(segs[:i+1], "/"), "a file")
		case !ok || e.mode != filemode.Dir:
			if !create {
				return nil, nil
			}
			e = &entry{mode: filemode.Dir, sub: &dir{loaded: true, entries: map[string]*entry{}, dirty: true}}
			d.entries[name] = e
		}
		if e.sub == nil {
			e.sub = &dir{hash: e.hash}
		}
		d = e.sub
	}
	return d, t.load(d)
}

// markDirty marks the directories along segs dirty, so that the next encode rewrites them.
func (t *tree) markDirty(segs []string) {
	d := t.root
	d.dirty = true
	for _, name := range segs {
		e := d.entries[name]
		if e == nil || e.sub == nil {
			return
		}
		d = e.sub
		d.dirty = true
	}
}

// writeFile sets the content of the file at p. It reports whether the tree changed.
func (t *tree) writeFile(p string, content []byte) (bool, error) {
	segs := strings.Split(p, "/")
	name := segs[len(segs)-1]
	hash := plumbing.ComputeHash(plumbing.BlobObject, content)
	d, err := t.walk(segs[:len(segs)-1], false)
	if err != nil {
		return false, err
	}
	if d != nil {
		if e, ok := d.entries[name]; ok && e.mode == filemode.Dir {
			return false, inTheWay(p, "a directory")
		} else if ok && e.mode == filemode.Regular && e.hash == hash {
			return false, nil
		}
	}
	if d == nil {
		if d, err = t.walk(segs[:len(segs)-1], true); err != nil {
			return false, err
		}
	}
	if err := t.storeBlob(hash, content); err != nil {
		return false, err
	}
	d.entries[name] = &entry{mode: filemode.Regular, hash: hash}
	t.markDirty(segs[:len(segs)-1])
	return true, nil
}

// remove deletes the file or directory at p, and the directories it leaves empty. It reports
// whether the tree changed.
func (t *tree) remove(p string) (bool, error) {
	return t.removeEntry(p, true)
}

// removeFile deletes the file at p, and the directories it leaves empty; a directory at p is
// left alone, for it holds files that the removal does not name. It reports whether the tree
// changed.
func (t *tree) removeFile(p string) (bool, error) {
	return t.removeEntry(p, false)
}

// removeEntry deletes the entry at p, a directory only when dirs is set, and the directories
// it leaves empty.
func (t *tree) removeEntry(p string, dirs bool) (bool, error) {
	segs := strings.Split(p, "/")
	parent, err := t.walk(segs[:len(segs)-1], false)
	if err != nil || parent == nil {
		return false, err
	}
	if e, ok := parent.entries[segs[len(segs)-1]]; !ok || (!dirs && e.mode == filemode.Dir) {
		return false, nil
	}
	t.markDirty(segs[:len(segs)-1])
	delete(parent.entries, segs[len(segs)-1])
	t.pruneEmpty(segs[:len(segs)-1])
	return true, nil
}

// pruneEmpty removes the empty directories at the end of segs, deepest first: Git has no empty
// directories, and GitOps tools should not see stale ones.
func (t *tree) pruneEmpty(segs []string) {
	for i := len(segs); i > 0; i-- {
		parent, err := t.walk(segs[:i-1], false)
		if err != nil || parent == nil {
			return
		}
		e := parent.entries[segs[i-1]]
		if e == nil || e.sub == nil || len(e.sub.entries) > 0 {
			return
		}
		delete(parent.entries, segs[i-1])
	}
}

// replaceDir makes the directory at p hold exactly files (paths relative to p). It builds the new
// directory on its own and compares its hash with the old one, so that rewriting identical content
// writes nothing. It reports whether the tree changed.
func (t *tree) replaceDir(p string, files map[string][]byte) (bool, error) {
	if len(files) == 0 {
		return t.remove(p)
	}
	fresh := &dir{loaded: true, dirty: true, entries: map[string]*entry{}}
	scratch := &tree{store: t.store, root: fresh, added: map[plumbing.Hash]struct{}{}}
	blobs := make(map[plumbing.Hash][]byte, len(files))
	for rel, content := range files {
		segs := strings.Split(rel, "/")
		d, err := scratch.walk(segs[:len(segs)-1], true)
		if err != nil {
			return false, err
		}
		h := plumbing.ComputeHash(plumbing.BlobObject, content)
		d.entries[segs[len(segs)-1]] = &entry{mode: filemode.Regular, hash: h}
		blobs[h] = content
	}
	newHash, err := hashDir(fresh)
	if err != nil {
		return false, err
	}

	segs := strings.Split(p, "/")
	parent, err := t.walk(segs[:len(segs)-1], false)
	if err != nil {
		return false, err
	}
	if parent != nil {
		if e, ok := parent.entries[segs[len(segs)-1]]; ok && e.mode != filemode.Dir {
			return false, inTheWay(p, "a file")
		} else if ok && !dirDirty(e) && e.hash == newHash {
			return false, nil
		}
	}
	if parent == nil {
		if parent, err = t.walk(segs[:len(segs)-1], true); err != nil {
			return false, err
		}
	}
	for h, content := range blobs {
		if err := t.storeBlob(h, content); err != nil {
			return false, err
		}
	}
	parent.entries[segs[len(segs)-1]] = &entry{mode: filemode.Dir, sub: fresh}
	t.markDirty(segs)
	return true, nil
}

func dirDirty(e *entry) bool { return e.sub != nil && e.sub.dirty }

// inTheWay is the error of a change that would replace what (a file, a directory) at p, which it
// does not name for removal. It is a conflict, which retrying may resolve: the other placement
// whose file or directory it is may be on its way out.
func inTheWay(p, what string) error {
	return statestore.NewError(statestore.ErrConflict, fmt.Sprintf("write %q", p),
		fmt.Errorf("%s of that name is in the store; the change would replace it and what it holds, which it does not own", what))
}

// readFile returns the content of the file at p, or found false.
func (t *tree) readFile(p string) ([]byte, bool, error) {
	segs := strings.Split(p, "/")
	d, err := t.walk(segs[:len(segs)-1], false)
	if err != nil || d == nil {
		return nil, false, err
	}
	e, ok := d.entries[segs[len(segs)-1]]
	if !ok || e.mode == filemode.Dir {
		return nil, false, nil
	}
	obj, err := t.store.EncodedObject(plumbing.BlobObject, e.hash)
	if err != nil {
		return nil, false, fmt.Errorf("read blob %s of %s: %w", e.hash, p, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	return data, err == nil, err
}

// storeBlob adds a blob to the store unless it is there already.
func (t *tree) storeBlob(h plumbing.Hash, content []byte) error {
	if t.store.HasEncodedObject(h) == nil {
		return nil
	}
	obj := t.store.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if _, err := t.store.SetEncodedObject(obj); err != nil {
		return fmt.Errorf("store blob: %w", err)
	}
	t.added[h] = struct{}{}
	return nil
}

// encode writes every dirty directory to the store, deepest first, and returns the root's hash.
func (t *tree) encode() (plumbing.Hash, error) {
	return t.encodeDir(t.root)
}

func (t *tree) encodeDir(d *dir) (plumbing.Hash, error) {
	if !d.dirty {
		return d.hash, nil
	}
	for _, e := range d.entries {
		if e.sub != nil && e.sub.dirty {
			h, err := t.encodeDir(e.sub)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			e.hash = h
		}
	}
	obj := encodeTree(d)
	h := obj.Hash()
	if t.store.HasEncodedObject(h) != nil {
		if _, err := t.store.SetEncodedObject(obj); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("store tree: %w", err)
		}
		t.added[h] = struct{}{}
	}
	d.hash, d.dirty = h, false
	return h, nil
}

// hashDir computes the hash that a freshly built directory would have, without storing anything
// (its subdirectories are hashed too).
func hashDir(d *dir) (plumbing.Hash, error) {
	for _, e := range d.entries {
		if e.sub != nil && e.sub.dirty {
			h, err := hashDir(e.sub)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			e.hash = h
		}
	}
	obj := encodeTree(d)
	// The directory stays dirty: encode stores it, and its subdirectories, when it is kept.
	return obj.Hash(), nil
}
