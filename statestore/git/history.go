package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"kratix.dev/kratix/statestore"
)

// History is a read-only copy of a store's branch with its whole history, in memory, for people
// who ask what the engine wrote and when (the kratix CLI). It reaches the repository with the
// same options, credentials and clone budget as the Writer, and never writes.
type History struct {
	url  string // redacted, for messages
	root string
	repo *gogit.Repository
	// head is the branch's commit; nil when the branch does not exist yet.
	head *object.Commit
}

// Commit is one commit of a store's history.
type Commit struct {
	Hash    string
	Author  string
	When    time.Time
	Subject string
	// Origins are the changes the commit's Kratix-* trailers describe (ParseOrigins): none for a
	// commit that someone else made.
	Origins []statestore.Origin
}

// OpenHistory clones the branch of the store that opts name, with its whole history and no
// worktree, into memory. A missing branch or an empty repository is an empty history. Errors are
// the Writer's: statestore errors that name the repository without its credentials.
func OpenHistory(ctx context.Context, opts Options) (*History, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r, knownHosts, err := newRemote(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	h := &History{url: r.url, root: opts.Root}
	err = r.withAuth(ctx, func(auth transport.AuthMethod) error {
		return h.clone(ctx, r, auth)
	})
	return h, errors.Join(err, removeKnownHosts(knownHosts))
}

func (h *History) clone(ctx context.Context, r *remote, auth transport.AuthMethod) error {
	checked := &cloneStorage{Storage: memory.NewStorage(), budget: r.budget, url: r.url}
	repo, err := gogit.CloneContext(ctx, checked, nil, &gogit.CloneOptions{
		URL:             r.ep.String(),
		Auth:            auth,
		ReferenceName:   r.branch,
		SingleBranch:    true,
		Tags:            gogit.NoTags,
		NoCheckout:      true,
		CABundle:        r.ep.CaBundle,
		InsecureSkipTLS: r.ep.InsecureSkipTLS,
	})
	switch {
	case errors.Is(err, transport.ErrEmptyRemoteRepository), isMissingBranch(err):
		return nil
	case errors.Is(err, errCloneTooLarge):
		return err
	case err != nil:
		return r.classify("clone", err)
	}
	ref, err := repo.Reference(r.branch, true)
	if err != nil {
		return fmt.Errorf("clone %s: read %s: %w", r.url, r.branch, err)
	}
	head, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return fmt.Errorf("clone %s: read head commit: %w", r.url, err)
	}
	h.repo, h.head = repo, head
	return nil
}

// URL is the repository's URL without credentials.
func (h *History) URL() string { return h.url }

// Head is the branch's commit, "" when the branch does not exist.
func (h *History) Head() string {
	if h.head == nil {
		return ""
	}
	return h.head.Hash.String()
}

// Rooted is a path relative to the store's root as a path in the repository.
func (h *History) Rooted(p string) string {
	switch {
	case h.root == "":
		return p
	case p == "":
		return h.root
	}
	return h.root + "/" + p
}

// Read returns a file at the branch's head, path relative to the store's root. A missing file
// (or branch) is an error that matches statestore.ErrNotFound.
func (h *History) Read(path string) ([]byte, error) {
	notFound := statestore.NewError(statestore.ErrNotFound, fmt.Sprintf("%s in %s", path, h.url), nil)
	if h.head == nil {
		return nil, notFound
	}
	tree, err := h.head.Tree()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", h.url, err)
	}
	f, err := tree.File(h.Rooted(path))
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", path, h.url, err)
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", path, h.url, err)
	}
	defer rd.Close() // a close error of an in-memory blob changes nothing
	return io.ReadAll(rd)
}

// LogQuery selects commits of a History.
type LogQuery struct {
	// Paths, relative to the store's root, keep the commits that changed any of them (a file, or
	// anything below a directory); none keeps every commit. "" is the store's root.
	Paths []string
	// Match, when set, keeps only the commits it accepts.
	Match func(Commit) bool
	// Limit is the most commits returned; 0 is no limit.
	Limit int
}

// Log returns the commits that the query selects, newest first (by committer time). A commit
// changed a path when the path differs from its first parent's (or, for the first commit, exists).
func (h *History) Log(ctx context.Context, q LogQuery) ([]Commit, error) {
	var out []Commit
	err := h.walk(ctx, func(c *object.Commit, parent *object.Tree) (bool, error) {
		if len(q.Paths) > 0 {
			changed, err := h.changedAny(c, parent, q.Paths)
			if err != nil || !changed {
				return true, err
			}
		}
		commit := commitOf(c)
		if q.Match != nil && !q.Match(commit) {
			return true, nil
		}
		out = append(out, commit)
		return q.Limit <= 0 || len(out) < q.Limit, nil
	})
	return out, err
}

// LastChanges returns, for each path relative to the store's root, the newest commit that
// changed it; a path that no commit touched (one that was never written) is absent.
func (h *History) LastChanges(ctx context.Context, paths []string) (map[string]Commit, error) {
	out := make(map[string]Commit, len(paths))
	err := h.walk(ctx, func(c *object.Commit, parent *object.Tree) (bool, error) {
		for _, p := range paths {
			if _, done := out[p]; done {
				continue
			}
			changed, err := h.changedAny(c, parent, []string{p})
			if err != nil {
				return false, err
			}
			if changed {
				out[p] = commitOf(c)
			}
		}
		return len(out) < len(paths), nil
	})
	return out, err
}

// walk calls visit with every commit reachable from the head, newest first, and its first
// parent's tree (nil for a root commit), until visit returns false or an error.
func (h *History) walk(ctx context.Context, visit func(c *object.Commit, parent *object.Tree) (bool, error)) error {
	if h.head == nil {
		return nil
	}
	iter, err := h.repo.Log(&gogit.LogOptions{From: h.head.Hash, Order: gogit.LogOrderCommitterTime})
	if err != nil {
		return fmt.Errorf("read the history of %s: %w", h.url, err)
	}
	defer iter.Close()
	errStop := errors.New("stop")
	err = iter.ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var parent *object.Tree
		if c.NumParents() > 0 {
			p, err := c.Parent(0)
			if err != nil {
				return fmt.Errorf("read the parent of %s: %w", c.Hash, err)
			}
			if parent, err = p.Tree(); err != nil {
				return fmt.Errorf("read the tree of %s: %w", p.Hash, err)
			}
		}
		more, err := visit(c, parent)
		if err == nil && !more {
			return errStop
		}
		return err
	})
	if errors.Is(err, errStop) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the history of %s: %w", h.url, err)
	}
	return nil
}

// changedAny reports whether any of the paths differs between the commit's tree and parent.
func (h *History) changedAny(c *object.Commit, parent *object.Tree, paths []string) (bool, error) {
	tree, err := c.Tree()
	if err != nil {
		return false, fmt.Errorf("read the tree of %s: %w", c.Hash, err)
	}
	for _, p := range paths {
		if entryHash(tree, h.Rooted(p)) != entryHash(parent, h.Rooted(p)) {
			return true, nil
		}
	}
	return false, nil
}

// entryHash is the hash of the file or directory at p in tree ("" is the tree itself); zero when
// there is nothing there or no tree.
func entryHash(tree *object.Tree, p string) plumbing.Hash {
	if tree == nil {
		return plumbing.ZeroHash
	}
	if p == "" {
		return tree.Hash
	}
	e, err := tree.FindEntry(p)
	if err != nil {
		return plumbing.ZeroHash
	}
	return e.Hash
}

func commitOf(c *object.Commit) Commit {
	subject, _, _ := strings.Cut(c.Message, "\n")
	return Commit{
		Hash:    c.Hash.String(),
		Author:  c.Author.Name,
		When:    c.Committer.When,
		Subject: subject,
		Origins: ParseOrigins(c.Message),
	}
}
