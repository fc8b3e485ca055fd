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
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

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
	addedBytes int64 // bytes of objects added to the snapshot's store since the clone or the last compaction
	lastBatch  int   // size of the previous batch, for collect
	// unpushedObjects: the store holds objects that were never pushed; compact it before the
	// next batch.
	unpushedObjects bool
	// lastRemoteContact is when the writer last learnt the remote's head (clone or push).
	lastRemoteContact time.Time
	// restoring: a drift was reported; the next batch gathers the engine's writes again into one
	// restore commit (gatherRestore). labelRestore: the batch being committed is that one, and its
	// updates are restores in the commit message.
	restoring, labelRestore bool

	// driftBase is a snapshot dropped because the branch moved by someone else's hand, or after
	// a failure (reset), and driftWhy says how; the next clone is compared with it (checkDrift).
	driftBase *snapshot
	driftWhy  string
	// unconfirmedRoot is the root tree of a push that failed without the server's answer (a
	// timeout, a broken connection): it may have landed, and a clone that finds it is no drift.
	unconfirmedRoot plumbing.Hash

	// onDrift is the DriftReporter handler; nil when none is set.
	onDrift atomic.Pointer[func(statestore.Drift)]
}

var _ statestore.DriftReporter = (*Writer)(nil)

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
	r, knownHosts, err := newRemote(opts)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		opts:           opts,
		remote:         r,
		knownHostsFile: knownHosts,
		reqs:           make(chan *request),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// newRemote builds the remote of options with their defaults: its endpoint, credentials and
// GitHub App tokens. For ssh it returns the path of the known hosts file it wrote, for the
// caller to remove when done.
func newRemote(opts Options) (*remote, string, error) {
	ep, urlUser, err := opts.endpoint()
	if err != nil {
		return nil, "", err
	}
	auth, knownHosts, err := opts.authMethod(ep, urlUser)
	if err != nil {
		return nil, "", err
	}
	var tokens *appTokens
	if opts.Auth.GitHubApp != nil {
		if tokens, err = newAppTokens(opts.Auth.GitHubApp, opts.CABundle, opts.Insecure, opts.Logger); err != nil {
			return nil, "", errors.Join(err, removeKnownHosts(knownHosts))
		}
		if opts.now != nil {
			tokens.now = opts.now
		}
	}
	r := &remote{url: statestore.RedactURL(opts.URL), ep: ep, auth: auth, tokens: tokens, branch: plumbing.NewBranchReferenceName(opts.Branch), budget: opts.CloneBudget}
	return r, knownHosts, nil
}

// removeKnownHosts removes the known hosts file that newRemote wrote, if any.
func removeKnownHosts(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove known hosts file: %w", err)
	}
	return nil
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

// Validate clones the branch if the writer has no clone yet, and opens a push session, which the
// server grants only to credentials that may write. Nothing is written, and a writer that already
// holds a clone does not fetch it again: stores are revalidated periodically.
func (w *Writer) Validate(ctx context.Context) error {
	_, err := w.call(ctx, &request{op: opValidate})
	return err
}

// Close stops the writer; queued calls fail with ErrClosed.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
	return removeKnownHosts(w.knownHostsFile)
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

// run is the owner goroutine: it takes a request, collects whatever else is queued into the same
// batch, commits and pushes the batch once, and answers every caller.
func (w *Writer) run() {
	defer close(w.done)
	// An idle writer checks now and then that the branch is still as it left it.
	ticker := time.NewTicker(w.opts.HeadCheckInterval)
	defer ticker.Stop()
	for {
		w.compactIfLarge()
		var first *request
		select {
		case <-w.stop:
			return
		case <-ticker.C:
			w.checkHead()
			continue
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
		if w.restoring {
			w.gatherRestore(add)
		} else {
			w.collect(add, func() int { return len(batch) })
		}
		if len(batch) > 0 {
			w.lastBatch = len(batch)
			// The gathered writes make the restore commit; a drift the commit meets (a stale
			// push) has the next batch gather again.
			w.labelRestore, w.restoring = w.restoring, false
			w.commit(w.live(batch))
			w.labelRestore = false
		}
		for _, r := range others {
			w.serve(r)
		}
	}
}

// collect adds the requests that are queued to the batch. Under load it lingers briefly: the
// callers of the previous batch re-submit just after their answers, and a batch taken at once would
// hold only the first of them, the next only the rest, halving throughput. It waits at most
// Linger, and only while the batch is smaller than the previous one, so an isolated write never
// waits and a falling load costs one Linger per batch.
func (w *Writer) collect(add func(*request), size func() int) {
	var deadline <-chan time.Time
	for size() < w.opts.MaxBatch {
		select {
		case r := <-w.reqs:
			add(r)
			continue
		default:
		}
		if size() >= w.lastBatch {
			return
		}
		if deadline == nil {
			timer := time.NewTimer(w.opts.Linger)
			defer timer.Stop()
			deadline = timer.C
		}
		select {
		case r := <-w.reqs:
			add(r)
		case <-deadline:
			return
		case <-w.stop:
			return
		}
	}
}

// gatherRestore adds the requests that arrive until none came for RestoreQuiet, or RestoreMax
// passed: after a drift, every Destination and placement of the store writes again, and their
// writes make one commit, whatever MaxBatch says.
func (w *Writer) gatherRestore(add func(*request)) {
	deadline := time.NewTimer(w.opts.RestoreMax)
	defer deadline.Stop()
	quiet := time.NewTimer(w.opts.RestoreQuiet)
	defer quiet.Stop()
	for {
		select {
		case r := <-w.reqs:
			add(r)
			quiet.Reset(w.opts.RestoreQuiet)
		case <-quiet.C:
			return
		case <-deadline.C:
			return
		case <-w.stop:
			return
		}
	}
}

// serve answers a Read or Validate.
func (w *Writer) serve(r *request) {
	ctx, cancel := context.WithTimeout(r.ctx, w.opts.Timeout)
	defer cancel()
	switch r.op {
	case opValidate:
		// The clone proves read access the first time; later, the push session alone proves
		// that the repository is there and writable, without fetching it again.
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

// ensureSnapshot clones when the writer has no snapshot: at the start, after a failure, when
// the branch moved by someone else's hand, or when compaction refused the head.
func (w *Writer) ensureSnapshot(ctx context.Context) error {
	if w.snap != nil {
		return nil
	}
	snap, err := w.remote.clone(ctx)
	if err != nil {
		return err
	}
	w.snap, w.tree, w.addedBytes = snap, newTree(snap.store, snap.root), 0
	w.lastRemoteContact = time.Now()
	w.checkDrift()
	return nil
}

// reset drops the snapshot; the next batch clones again. The snapshot's pushed head stays as the
// base that the next clone is compared with (checkDrift), unless one is kept already: what
// someone else changed while the writer had no clone is drift too.
func (w *Writer) reset() {
	if w.driftBase == nil && w.snap != nil {
		w.driftBase, w.driftWhy = w.snap, "the branch changed while the writer had no clone of it"
	}
	w.snap, w.tree, w.unpushedObjects = nil, nil, false
}

// checkPush opens a receive-pack session: servers advertise refs for it only to credentials that
// may push.
func (r *remote) checkPush(ctx context.Context) error {
	_, err := r.advertisement(ctx, "check push access to", true)
	return err
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
