package git

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"kratix.dev/kratix/statestore"
)

// maxDriftPaths is how many changed paths a drift lists before it says that anything may have
// changed.
const maxDriftPaths = 10000

// OnDrift implements statestore.DriftReporter.
func (w *Writer) OnDrift(handler func(statestore.Drift)) { w.onDrift.Store(&handler) }

// suspectDrift drops the snapshot, whose head is no longer the branch's; reset keeps it as the
// base that the next clone is compared with (checkDrift), or keeps the base it already had:
// what differs under the store's root is what someone else changed, and why says how.
func (w *Writer) suspectDrift(why string) {
	w.reset()
	if w.driftBase != nil {
		w.driftWhy = why
	}
}

// checkDrift compares the snapshot just cloned with the base that suspectDrift kept, and when
// they differ under the store's root, logs it, has the next batch gather the engine's writes into
// one restore commit, and tells the handler. Someone else's commits elsewhere in the repository
// are no drift of this store.
func (w *Writer) checkDrift() {
	base, why, unconfirmed := w.driftBase, w.driftWhy, w.unconfirmedRoot
	w.driftBase, w.driftWhy, w.unconfirmedRoot = nil, "", plumbing.ZeroHash
	if base == nil || base.root == w.snap.root || !unconfirmed.IsZero() && w.snap.root == unconfirmed {
		return
	}
	d := statestore.Drift{Why: why}
	paths, complete, err := changedPaths(base.store, w.snap.store, base.root, w.snap.root, maxDriftPaths)
	if err != nil || !complete {
		d.All = true
	} else if d.Paths, d.All = underRoot(paths, w.opts.Root); !d.All && len(d.Paths) == 0 {
		return
	}
	w.driftFound(d)
}

// driftFound logs a drift, has the next batch gather the restore commit and tells the handler.
func (w *Writer) driftFound(d statestore.Drift) {
	w.opts.Logger.Info("the branch was changed by someone else's hand; the engine writes its files again",
		"url", w.remote.url, "branch", w.opts.Branch, "why", d.Why, "everything", d.All, "paths", len(d.Paths))
	w.restoring = true
	if h := w.onDrift.Load(); h != nil {
		(*h)(d)
	}
}

// checkHead asks the remote for the branch's head when the writer has not heard of it for
// HeadCheckInterval. When the head moved, it clones the new head at once and reports what
// changed under the store's root; when the clone fails, it reports that anything may have. A
// writer without a clone since a failure compares the head with the one it last pushed, and when
// it moved, clones and compares the same way (a clone that fails is tried again at the next
// check: the branch may not have changed).
func (w *Writer) checkHead() {
	if w.snap == nil && w.driftBase == nil || time.Since(w.lastRemoteContact) < w.opts.HeadCheckInterval {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.Timeout)
	defer cancel()
	head, err := w.remote.head(ctx)
	if err != nil {
		w.opts.Logger.V(1).Info("cannot check the branch's head", "url", w.remote.url, "error", err.Error())
		return
	}
	w.lastRemoteContact = time.Now()
	switch {
	case w.snap == nil && head == w.driftBase.head:
		return
	case w.snap == nil:
		if err := w.ensureSnapshot(ctx); err != nil {
			w.opts.Logger.V(1).Info("cannot clone the branch to see what changed", "url", w.remote.url, "error", err.Error())
		}
		return
	case head == w.snap.head:
		return
	case head.IsZero():
		w.suspectDrift("the branch was deleted")
	default:
		w.suspectDrift(fmt.Sprintf("the branch moved from %s to %s", w.snap.head, head))
	}
	if err := w.ensureSnapshot(ctx); err != nil {
		why := w.driftWhy
		w.driftBase, w.driftWhy = nil, ""
		w.driftFound(statestore.Drift{Why: why, All: true})
	}
}

// underRoot turns repository paths into paths relative to root, dropping those outside it. A
// change of root itself or of a directory above it may have changed anything: all is true.
func underRoot(paths []string, root string) (rel []string, all bool) {
	if root == "" {
		return paths, false
	}
	for _, p := range paths {
		switch {
		case statestore.IsWithin(p, root):
			return nil, true
		case statestore.IsWithin(root, p):
			rel = append(rel, strings.TrimPrefix(p, root+"/"))
		}
	}
	return rel, false
}

// changedPaths lists where two trees differ: a file added, removed or changed, or a directory
// present on one side only (or a file on the other) is one path. It descends only into
// directories that both sides have and whose hashes differ, so its cost is that of the change.
// complete is false when there are more than limit paths.
func changedPaths(oldStore, newStore storer.EncodedObjectStorer, oldRoot, newRoot plumbing.Hash, limit int) (paths []string, complete bool, err error) {
	var walk func(prefix string, o, n plumbing.Hash) error
	walk = func(prefix string, o, n plumbing.Hash) error {
		oldEntries, err := treeEntries(oldStore, o)
		if err != nil {
			return err
		}
		newEntries, err := treeEntries(newStore, n)
		if err != nil {
			return err
		}
		for name, ne := range newEntries {
			oe, ok := oldEntries[name]
			p := joinPath(prefix, name)
			switch {
			case ok && oe == ne:
			case ok && oe.Mode == filemode.Dir && ne.Mode == filemode.Dir:
				if err := walk(p, oe.Hash, ne.Hash); err != nil {
					return err
				}
			default:
				paths = append(paths, p)
			}
		}
		for name := range oldEntries {
			if _, ok := newEntries[name]; !ok {
				paths = append(paths, joinPath(prefix, name))
			}
		}
		if len(paths) > limit {
			return errTooManyPaths
		}
		return nil
	}
	switch err := walk("", oldRoot, newRoot); {
	case err == nil:
		return paths, true, nil
	case errors.Is(err, errTooManyPaths):
		return nil, false, nil
	default:
		return nil, false, err
	}
}

var errTooManyPaths = errors.New("too many changed paths")

// treeEntries reads a tree's entries by name; the zero hash is the empty tree.
func treeEntries(store storer.EncodedObjectStorer, h plumbing.Hash) (map[string]object.TreeEntry, error) {
	out := map[string]object.TreeEntry{}
	if h.IsZero() {
		return out, nil
	}
	obj, err := store.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	var tr object.Tree
	if err := tr.Decode(obj); err != nil {
		return nil, fmt.Errorf("decode tree %s: %w", h, err)
	}
	for _, e := range tr.Entries {
		out[e.Name] = e
	}
	return out, nil
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}
