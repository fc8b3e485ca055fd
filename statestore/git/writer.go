// Package git is the Git state-store writer. It keeps one shallow, in-memory clone per store
// (no worktree), edits trees with go-git's object plumbing so that a write costs O(the directories
// it touches), and pushes exactly the new objects through a receive-pack session. One goroutine
// owns the clone: concurrent Apply calls queue up and are committed together (group commit).
// A push that the server refuses because someone else pushed first is rebuilt on the new head;
// the writer never force-pushes.
package git

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport/client"

	"kratix.dev/kratix/statestore"
)

var _ statestore.Writer = (*Writer)(nil)

// Writer writes to one branch of one Git repository. It is safe for concurrent use.
type Writer struct {
	opts           Options
	remote         *remote
	knownHostsFile string

	reqs      chan *request
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// Owned by the run goroutine.
	snap       *snapshot
	tree       *tree // the snapshot's tree, kept between batches
	addedBytes int64 // bytes added to the snapshot's store since the clone
}

type opKind int

const (
	opApply opKind = iota
	opRead
	opValidate
)

type request struct {
	ctx    context.Context
	op     opKind
	change statestore.Change
	path   string
	reply  chan response
}

type response struct {
	result statestore.Result
	data   []byte
	err    error
}

// New validates the options and starts the writer's goroutine. It does not contact the server:
// the first call does, and Validate proves access.
func New(opts Options) (*Writer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ep, err := opts.endpoint()
	if err != nil {
		return nil, err
	}
	auth, knownHosts, err := opts.authMethod(ep)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		opts:           opts,
		remote:         &remote{url: redactURL(opts.URL), ep: ep, auth: auth, branch: plumbing.NewBranchReferenceName(opts.Branch)},
		knownHostsFile: knownHosts,
		reqs:           make(chan *request),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// Apply commits the change, together with whatever else is queued, and returns the commit that
// holds it. If ctx ends first, Apply returns ctx's error; the change may still be committed.
func (w *Writer) Apply(ctx context.Context, change statestore.Change) (statestore.Result, error) {
	c, err := change.Validate()
	if err != nil {
		return statestore.Result{}, err
	}
	c = w.rooted(c)
	resp, err := w.call(ctx, &request{op: opApply, change: c})
	return resp.result, err
}

// Read returns a file as of the writer's last clone or push. Path is relative to the root.
func (w *Writer) Read(ctx context.Context, path string) ([]byte, error) {
	p, err := statestore.CleanPath(path)
	if err != nil {
		return nil, err
	}
	resp, err := w.call(ctx, &request{op: opRead, path: w.rootedPath(p)})
	return resp.data, err
}

// Validate clones the branch afresh and opens a push session, which the server grants only to
// credentials that may write. Nothing is written.
func (w *Writer) Validate(ctx context.Context) error {
	_, err := w.call(ctx, &request{op: opValidate})
	return err
}

// Close stops the writer; queued calls fail with ErrClosed.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
	if w.knownHostsFile != "" {
		if err := os.Remove(w.knownHostsFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove known hosts file: %w", err)
		}
	}
	return nil
}

// call hands a request to the owner goroutine and waits for its answer.
func (w *Writer) call(ctx context.Context, r *request) (response, error) {
	r.ctx, r.reply = ctx, make(chan response, 1)
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return response{}, ctx.Err()
	case <-w.stop:
		return response{}, statestore.NewError(statestore.ErrClosed, "git writer for "+w.remote.url, nil)
	}
	select {
	case resp := <-r.reply:
		return resp, resp.err
	case <-ctx.Done():
		return response{}, ctx.Err()
	}
}

func (w *Writer) rooted(c statestore.Change) statestore.Change {
	if w.opts.Root == "" {
		return c
	}
	if c.Dir != "" {
		c.Dir = w.rootedPath(c.Dir)
	}
	files := make([]statestore.File, len(c.Files))
	for i, f := range c.Files {
		files[i] = statestore.File{Path: w.rootedPath(f.Path), Content: f.Content}
	}
	c.Files = files
	removes := make([]string, len(c.Remove))
	for i, r := range c.Remove {
		removes[i] = w.rootedPath(r)
	}
	c.Remove = removes
	return c
}

func (w *Writer) rootedPath(p string) string {
	if w.opts.Root == "" {
		return p
	}
	return w.opts.Root + "/" + p
}

// run is the owner goroutine: it takes a request, drains whatever else is queued into the same
// batch, commits and pushes the batch once, and answers every caller.
func (w *Writer) run() {
	defer close(w.done)
	for {
		var first *request
		select {
		case <-w.stop:
			return
		case first = <-w.reqs:
		}
		var batch, others []*request
		add := func(r *request) {
			if r.op == opApply {
				batch = append(batch, r)
			} else {
				others = append(others, r)
			}
		}
		add(first)
	drain:
		for len(batch) < w.opts.MaxBatch {
			select {
			case r := <-w.reqs:
				add(r)
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			w.commitBatch(batch)
		}
		for _, r := range others {
			w.serve(r)
		}
	}
}

// serve answers a Read or Validate.
func (w *Writer) serve(r *request) {
	ctx, cancel := context.WithTimeout(r.ctx, w.opts.Timeout)
	defer cancel()
	switch r.op {
	case opValidate:
		w.reset()
		if err := w.ensureSnapshot(ctx); err != nil {
			r.reply <- response{err: err}
			return
		}
		r.reply <- response{err: w.remote.checkPush(ctx)}
	case opRead:
		if err := w.ensureSnapshot(ctx); err != nil {
			r.reply <- response{err: err}
			return
		}
		data, found, err := w.tree.readFile(r.path)
		if err == nil && !found {
			err = statestore.NewError(statestore.ErrNotFound, fmt.Sprintf("read %s from %s", r.path, w.remote.url), nil)
		}
		r.reply <- response{data: data, err: err}
	}
}

// ensureSnapshot clones when the writer has no snapshot, or dropped it to compact or after a
// failure.
func (w *Writer) ensureSnapshot(ctx context.Context) error {
	if w.snap != nil {
		return nil
	}
	snap, err := w.remote.clone(ctx)
	if err != nil {
		return err
	}
	w.snap, w.tree, w.addedBytes = snap, newTree(snap.store, snap.root), 0
	return nil
}

// reset drops the snapshot; the next batch clones again.
func (w *Writer) reset() { w.snap, w.tree = nil, nil }

// commitBatch applies the batch's changes on the branch's head, commits them once and pushes.
// When the push is refused because the branch moved, it clones the new head and replays the
// batch, up to PushAttempts times.
func (w *Writer) commitBatch(batch []*request) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.reply <- response{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.Timeout)
	defer cancel()

	for attempt := 1; ; attempt++ {
		results, err := w.commitAndPush(ctx, live)
		if err == nil {
			for i, r := range live {
				r.reply <- response{result: results[i]}
			}
			w.compactIfLarge()
			return
		}
		if errors.Is(err, errStale) && attempt < w.opts.PushAttempts {
			w.opts.Logger.V(1).Info("branch moved during push; replaying the batch on the new head", "url", w.remote.url, "attempt", attempt, "changes", len(live))
			if err := sleepCtx(ctx, backoff(attempt)); err == nil {
				continue
			}
		}
		if errors.Is(err, errStale) {
			err = statestore.NewError(statestore.ErrConflict, "push to "+w.remote.url,
				fmt.Errorf("the branch kept moving through %d attempts", attempt))
		}
		for _, r := range live {
			r.reply <- response{err: err}
		}
		return
	}
}

// commitAndPush makes one attempt: apply every change to the snapshot's tree, commit, push.
// Any failure drops the snapshot, since objects that were not pushed must not be mistaken later
// for objects the remote has.
func (w *Writer) commitAndPush(ctx context.Context, batch []*request) (results []statestore.Result, err error) {
	if err := w.ensureSnapshot(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.reset()
		}
	}()
	t := w.tree
	changed := make([]bool, len(batch))
	var origins []statestore.Origin
	for i, r := range batch {
		if changed[i], err = applyChange(t, r.change); err != nil {
			return nil, err
		}
		if changed[i] {
			origins = append(origins, r.change.Origin)
		}
	}
	results = make([]statestore.Result, len(batch))
	if len(origins) == 0 {
		for i := range results {
			results[i] = statestore.Result{Version: w.snap.head.String()}
		}
		return results, nil
	}
	root, err := t.encode()
	if err != nil {
		return nil, fmt.Errorf("encode trees: %w", err)
	}
	if root == w.snap.root {
		// The batch's changes cancelled out. Nothing to commit; the new objects were never pushed.
		head := w.snap.head.String()
		w.reset()
		for i := range results {
			results[i] = statestore.Result{Version: head}
		}
		return results, nil
	}
	commit, err := w.storeCommit(root, commitMessage(origins))
	if err != nil {
		return nil, err
	}
	objects := make([]plumbing.Hash, 0, len(t.added))
	for h := range t.added {
		objects = append(objects, h)
	}
	if err := w.remote.push(ctx, w.snap.store, objects, w.snap.head, commit); err != nil {
		return nil, err
	}
	for h := range t.added {
		if size, err := w.snap.store.EncodedObjectSize(h); err == nil {
			w.addedBytes += size
		}
	}
	t.added = map[plumbing.Hash]struct{}{}
	w.snap.head, w.snap.root = commit, root
	for i := range results {
		results[i] = statestore.Result{Version: commit.String(), Changed: changed[i]}
	}
	return results, nil
}

// storeCommit writes the commit object on top of the snapshot's head.
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

// compactIfLarge drops the snapshot once the objects added since the clone pass the budget: every
// commit leaves the old versions of the trees it rewrote behind in memory. The next batch starts
// from a fresh shallow clone; queued calls simply wait for it.
func (w *Writer) compactIfLarge() {
	if w.addedBytes > w.opts.CompactBytes {
		w.opts.Logger.V(1).Info("compacting the in-memory clone", "url", w.remote.url, "addedBytes", w.addedBytes)
		w.reset()
	}
}

// applyChange applies one change to the tree and reports whether it changed anything.
func applyChange(t *tree, c statestore.Change) (bool, error) {
	changed := false
	for _, p := range c.Remove {
		ch, err := t.remove(p)
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

// checkPush opens a receive-pack session: servers advertise refs for it only to credentials that
// may push.
func (r *remote) checkPush(ctx context.Context) error {
	cli, err := client.NewClient(r.ep)
	if err != nil {
		return r.classify("check push access to", err)
	}
	sess, err := cli.NewReceivePackSession(r.ep, r.auth)
	if err != nil {
		return r.classify("check push access to", err)
	}
	defer sess.Close() // nothing was sent; a close error changes nothing
	if _, err := sess.AdvertisedReferencesContext(ctx); err != nil && !errors.Is(err, errEmptyRepo) {
		return r.classify("check push access to", err)
	}
	return nil
}

// backoff is the wait before replay attempt n: 10ms, 20ms, 40ms, ... with jitter, so that two
// writers racing for the same branch fall out of step.
func backoff(attempt int) time.Duration {
	base := 10 * time.Millisecond << min(attempt-1, 6)
	return base/2 + rand.N(base)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
