package git

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// compacted returns the snapshot with only what its head needs: the head commit and the trees
// and blobs of its tree, copied (shared, not duplicated) from its store into a new one. What the
// writer's commits left behind, the older versions of every tree they rewrote, stays out. The
// remote has all of it, for the head was pushed: the writer goes on as after a fresh clone,
// without fetching the repository again. Like a clone, it refuses a head whose objects take
// more than maxBytes: the engine's own writes may have grown the branch past the clone budget.
func compacted(snap *snapshot, maxBytes int64) (*snapshot, error) {
	dst := memory.NewStorage()
	var total int64
	keep := func(obj plumbing.EncodedObject) error {
		if total += obj.Size(); total > maxBytes {
			return fmt.Errorf("compact: %w: its files take more than %d bytes", errCloneTooLarge, maxBytes)
		}
		_, err := dst.SetEncodedObject(obj)
		return err
	}
	out := &snapshot{store: dst, head: snap.head, root: snap.root}
	if snap.head.IsZero() {
		return out, nil
	}
	if err := copyObject(snap.store, keep, plumbing.CommitObject, snap.head); err != nil {
		return nil, err
	}
	if err := dst.SetShallow([]plumbing.Hash{snap.head}); err != nil {
		return nil, fmt.Errorf("compact: %w", err)
	}
	// Depth first, with a stack: a tree is copied once however many directories hold it.
	trees := []plumbing.Hash{snap.root}
	for len(trees) > 0 {
		h := trees[len(trees)-1]
		trees = trees[:len(trees)-1]
		if _, ok := dst.Objects[h]; ok {
			continue
		}
		obj, err := snap.store.EncodedObject(plumbing.TreeObject, h)
		if err != nil {
			return nil, fmt.Errorf("compact: read tree %s: %w", h, err)
		}
		var t object.Tree
		if err := t.Decode(obj); err != nil {
			return nil, fmt.Errorf("compact: decode tree %s: %w", h, err)
		}
		if err := keep(obj); err != nil {
			return nil, err
		}
		for _, e := range t.Entries {
			switch {
			case e.Mode == filemode.Dir:
				trees = append(trees, e.Hash)
			case e.Mode == filemode.Submodule:
				// A commit of another repository: not in this one.
			default:
				if _, ok := dst.Objects[e.Hash]; ok {
					continue
				}
				if err := copyObject(snap.store, keep, plumbing.BlobObject, e.Hash); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// copyObject reads the object from src and gives it to keep.
func copyObject(src *memory.Storage, keep func(plumbing.EncodedObject) error, typ plumbing.ObjectType, h plumbing.Hash) error {
	obj, err := src.EncodedObject(typ, h)
	if err != nil {
		return fmt.Errorf("compact: read %s %s: %w", typ, h, err)
	}
	return keep(obj)
}
