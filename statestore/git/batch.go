package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"kratix.dev/kratix/statestore"
)

// job is one batch of changes on its way to the remote: a commit built on the snapshot's head and
// the pack that carries it.
//
// Batches are pushed one at a time. Building the next commit while the last one is being pushed
// was measured and rejected: with callers that wait for their answer before writing again (every
// WorkPlacement reconcile does), it splits them into two groups that alternate, halving each
// commit, and a test server's fixed cost per push (~30 ms of process starts and connectivity check
// at 10,000 files) outweighs the ~10-20 ms of building that it hides.
type job struct {
	batch   []*request
	changed []bool
	parent  plumbing.Hash // the head it was built on
	commit  plumbing.Hash // zero when the batch changed nothing
	root    plumbing.Hash
	pack    []byte
}

// live drops the requests whose callers gave up, answering them.
func (w *Writer) live(batch []*request) []*request {
	out := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.reply <- response{err: err}
			continue
		}
		out = append(out, r)
	}
	return out
}

// answer replies to a job's callers with the commit that holds their changes.
func (w *Writer) answer(j *job) {
	version := j.commit
	if version.IsZero() {
		version = j.parent
	}
	for i, r := range j.batch {
		r.reply <- response{result: statestore.Result{Version: version.String(), Changed: j.changed[i]}}
	}
}

// observeCommit tells Options.OnCommit how many changes a pushed commit carries.
func (w *Writer) observeCommit(j *job) {
	if w.opts.OnCommit == nil {
		return
	}
	changes := 0
	for _, changed := range j.changed {
		if changed {
			changes++
		}
	}
	w.opts.OnCommit(changes)
}

func (w *Writer) replyAll(batch []*request, err error) {
	for _, r := range batch {
		r.reply <- response{err: err}
	}
}

// commit builds and pushes a batch, replaying it on a fresh clone when the remote moved (someone
// else pushed), up to PushAttempts times, and answers every caller. Any failure drops the
// snapshot, since objects that were not pushed must not be taken later for objects the remote has.
//
// A change fails alone, never its batch siblings: one that cannot be applied to the tree is
// answered with its error and the batch is built again without it; a push that the server
// refuses is split in halves, each pushed on its own, until the refused changes stand alone.
func (w *Writer) commit(batch []*request) {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.Timeout)
	defer cancel()
	batch = w.live(batch)
	for attempt := 1; len(batch) > 0; attempt++ {
		j, err := w.build(ctx, batch)
		var bad *changeError
		if errors.As(err, &bad) {
			bad.req.reply <- response{err: bad.err}
			batch = slices.DeleteFunc(batch, func(r *request) bool { return r == bad.req })
			w.reset()
			continue
		}
		if err == nil && j.commit.IsZero() {
			w.answer(j)
			return
		}
		if err == nil {
			err = w.remote.push(ctx, j.pack, j.parent, j.commit)
			if errors.Is(err, errStale) {
				// Someone else pushed: what they changed may be the engine's files. The
				// next clone tells (checkDrift).
				w.suspectDrift("someone else pushed to the branch")
			}
			if err != nil && !errors.Is(err, errStale) && !errors.Is(err, errRefused) {
				w.unconfirmedRoot = j.root
			}
			if err == nil {
				w.lastRemoteContact = time.Now()
				w.snap.head, w.snap.root = j.commit, j.root
				w.observeCommit(j)
				w.answer(j)
				return
			}
		}
		w.reset()
		if errors.Is(err, errRefused) && len(batch) > 1 {
			w.opts.Logger.V(1).Info("the remote refused the push; pushing the batch in halves to find the refused changes", "url", w.remote.url, "changes", len(batch))
			half := len(batch) / 2
			w.commit(batch[:half])
			w.commit(batch[half:])
			return
		}
		if errors.Is(err, errStale) && attempt < w.opts.PushAttempts {
			w.opts.Logger.V(1).Info("branch moved during push; replaying the batch on the new head", "url", w.remote.url, "attempt", attempt, "changes", len(batch))
			if sleepCtx(ctx, backoff(attempt)) == nil {
				continue
			}
		}
		if errors.Is(err, errStale) {
			err = statestore.NewError(statestore.ErrConflict, "push to "+w.remote.url,
				fmt.Errorf("the branch kept moving through %d attempts", attempt))
		}
		w.replyAll(batch, err)
		return
	}
}

// build applies the batch's changes to the snapshot's tree and, if they change it, makes the commit
// and encodes the pack of every object the remote lacks. The tree is left at the new commit: push
// it, or reset.
func (w *Writer) build(ctx context.Context, batch []*request) (*job, error) {
	if err := w.ensureSnapshot(ctx); err != nil {
		return nil, err
	}
	j := &job{batch: batch, changed: make([]bool, len(batch)), parent: w.snap.head}
	var origins []statestore.Origin
	for i, r := range batch {
		changed, err := applyChange(w.tree, r.change)
		if err != nil {
			return nil, &changeError{req: r, err: err}
		}
		j.changed[i] = changed
		if changed {
			o := r.change.Origin
			if w.labelRestore && (o.Action == "" || o.Action == statestore.ActionUpdate) {
				o.Action = statestore.ActionRestore
			}
			origins = append(origins, o)
		}
	}
	if len(origins) == 0 {
		return j, nil
	}
	root, err := w.tree.encode()
	if err != nil {
		return nil, fmt.Errorf("encode trees: %w", err)
	}
	if root == w.snap.root {
		// The changes cancelled out. Nothing to commit, but the store now holds objects that were
		// never pushed and must not be taken for objects the remote has: compact it.
		for i := range j.changed {
			j.changed[i] = false
		}
		w.unpushedObjects = true
		return j, nil
	}
	commit, err := w.storeCommit(root, commitMessage(origins))
	if err != nil {
		return nil, err
	}
	objects := make([]plumbing.Hash, 0, len(w.tree.added))
	for h := range w.tree.added {
		objects = append(objects, h)
	}
	var pack bytes.Buffer
	if err := writePack(&pack, w.snap.store, objects); err != nil {
		return nil, fmt.Errorf("encode pack: %w", err)
	}
	for _, h := range objects {
		if size, err := w.snap.store.EncodedObjectSize(h); err == nil {
			w.addedBytes += size
		}
	}
	w.tree.added = map[plumbing.Hash]struct{}{}
	j.commit, j.root, j.pack = commit, root, pack.Bytes()
	return j, nil
}

// changeError is a change of the batch that cannot be applied to the tree, for example a file
// where the tree has a directory: its caller gets err, and the others go on without it.
type changeError struct {
	req *request
	err error
}

func (e *changeError) Error() string { return e.err.Error() }

// storeCommit writes a commit object on top of the snapshot's head.
func (w *Writer) storeCommit(root plumbing.Hash, message string) (plumbing.Hash, error) {
	sig := object.Signature{Name: w.opts.Author.Name, Email: w.opts.Author.Email, When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: root}
	if !w.snap.head.IsZero() {
		c.ParentHashes = []plumbing.Hash{w.snap.head}
	}
	obj := w.snap.store.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	h, err := w.snap.store.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store commit: %w", err)
	}
	w.tree.added[h] = struct{}{}
	return h, nil
}

// compactIfLarge keeps only what the pushed head needs (compacted) once the objects added since
// the clone or the last compaction pass the budget (every commit leaves the old versions of the
// trees it rewrote in memory), or when a batch left objects that were never pushed and must not
// be taken later for objects the remote has (unpushedObjects). No fetch: the remote has it all.
// Queued calls simply wait.
func (w *Writer) compactIfLarge() {
	if w.snap == nil || !w.unpushedObjects && w.addedBytes <= w.opts.CompactBytes {
		return
	}
	snap, err := compacted(w.snap, w.remote.budget.TotalBytes)
	if err != nil {
		// A fresh clone refuses a branch too large, with the error that says what to do.
		w.opts.Logger.Info("cannot compact the in-memory clone; starting again from a fresh clone", "url", w.remote.url, "error", err.Error())
		w.reset()
		return
	}
	w.opts.Logger.V(1).Info("compacted the in-memory clone", "url", w.remote.url, "addedBytes", w.addedBytes,
		"objectsBefore", len(w.snap.store.Objects), "objectsAfter", len(snap.store.Objects))
	w.snap, w.tree, w.addedBytes, w.unpushedObjects = snap, newTree(snap.store, snap.root), 0, false
}

// applyChange applies one change to the tree and reports whether it changed anything.
func applyChange(t *tree, c statestore.Change) (bool, error) {
	changed := false
	for _, p := range c.Remove {
		ch, err := t.removeFile(p)
		if err != nil {
			return false, err
		}
		changed = changed || ch
	}
	if c.Dir != "" {
		files := make(map[string][]byte, len(c.Files))
		for _, f := range c.Files {
			files[strings.TrimPrefix(f.Path, c.Dir+"/")] = f.Content
		}
		ch, err := t.replaceDir(c.Dir, files)
		return changed || ch, err
	}
	for _, f := range c.Files {
		ch, err := t.writeFile(f.Path, f.Content)
		if err != nil {
			return false, err
		}
		changed = changed || ch
	}
	return changed, nil
}
