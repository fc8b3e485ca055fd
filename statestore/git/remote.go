package git

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/memory"

	"kratix.dev/kratix/statestore"
)

// remote talks to the repository: shallow clones and pushes of hand-built packs.
type remote struct {
	url  string // redacted, for messages
	ep   *transport.Endpoint
	auth transport.AuthMethod
	// tokens, for a GitHub App, buys the installation token that authFor sends instead of auth.
	tokens *appTokens
	branch plumbing.ReferenceName
	// budget bounds what a clone holds (clone_budget.go).
	budget Budget
	// caps are the server's receive-pack capabilities, once seen.
	caps *capability.List
}

// snapshot is a shallow, in-memory copy of the branch's head.
type snapshot struct {
	store *memory.Storage
	// head is the branch's commit, zero when the branch does not exist yet.
	head plumbing.Hash
	// root is the head's tree, zero for a new branch.
	root plumbing.Hash
}

// clone fetches the branch's head commit and its tree (depth 1, no tags, no worktree) into memory.
// An empty repository or a missing branch gives an empty snapshot: the first commit creates the
// branch.
func (r *remote) clone(ctx context.Context) (snap *snapshot, err error) {
	err = r.withAuth(ctx, func(auth transport.AuthMethod) error {
		snap, err = r.cloneWith(ctx, auth)
		return err
	})
	return snap, err
}

func (r *remote) cloneWith(ctx context.Context, auth transport.AuthMethod) (*snapshot, error) {
	checked := &cloneStorage{Storage: memory.NewStorage(), budget: r.budget, url: r.url}
	store := checked.Storage
	repo, err := gogit.CloneContext(ctx, checked, nil, &gogit.CloneOptions{
		URL:             r.ep.String(),
		Auth:            auth,
		ReferenceName:   r.branch,
		SingleBranch:    true,
		Depth:           1,
		Tags:            gogit.NoTags,
		NoCheckout:      true,
		CABundle:        r.ep.CaBundle,
		InsecureSkipTLS: r.ep.InsecureSkipTLS,
	})
	switch {
	case errors.Is(err, transport.ErrEmptyRemoteRepository), isMissingBranch(err):
		return &snapshot{store: memory.NewStorage()}, nil
	case errors.Is(err, errCloneTooLarge):
		return nil, err
	case err != nil:
		return nil, r.classify("clone", err)
	}
	ref, err := repo.Reference(r.branch, true)
	if err != nil {
		return nil, fmt.Errorf("clone %s: read %s: %w", r.url, r.branch, err)
	}
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("clone %s: read head commit: %w", r.url, err)
	}
	return &snapshot{store: store, head: ref.Hash(), root: commit.TreeHash}, nil
}

func isMissingBranch(err error) bool {
	return err != nil && (errors.Is(err, plumbing.ErrReferenceNotFound) || strings.Contains(err.Error(), "couldn't find remote ref"))
}

// errEmptyRepo is what a session answers for a repository without any branch.
var errEmptyRepo = transport.ErrEmptyRemoteRepository

// errStale means the branch moved since the writer's snapshot: someone else pushed.
var errStale = errors.New("the branch moved on the remote")

// errRefused marks a push that the server received and refused: its checks of the objects
// (receive.fsckObjects) or a hook declined it. Some change of the batch may be the cause.
var errRefused = errors.New("the remote refused the push")

// push sends a pack of exactly the new objects and moves the branch from old to new. The server refuses
// the update when the branch is no longer at old, which is what keeps concurrent writers from
// losing each other's commits: that refusal is errStale.
func (r *remote) push(ctx context.Context, pack []byte, old, new plumbing.Hash) error {
	return r.withAuth(ctx, func(auth transport.AuthMethod) error {
		return r.pushWith(ctx, auth, pack, old, new)
	})
}

func (r *remote) pushWith(ctx context.Context, auth transport.AuthMethod, pack []byte, old, new plumbing.Hash) error {
	cli, err := client.NewClient(r.ep)
	if err != nil {
		return r.classify("push", err)
	}
	sess, err := cli.NewReceivePackSession(r.ep, auth)
	if err != nil {
		return r.classify("push", err)
	}
	defer sess.Close() // a close error after the report status changes nothing

	// Over HTTP the advertisement is a request of its own; once the server's capabilities are
	// known it is skipped, and a stale old value is caught by the server's refusal instead.
	// Over SSH the advertisement comes with the session anyway.
	caps := r.caps
	if caps == nil || !r.isHTTP() {
		adv, err := sess.AdvertisedReferencesContext(ctx)
		if err != nil && !errors.Is(err, errEmptyRepo) {
			return r.classify("push", err)
		}
		if adv != nil {
			if current := branchHead(adv, r.branch); current != old {
				return errStale
			}
			caps = adv.Capabilities
			r.caps = caps
		}
	}

	req := packp.NewReferenceUpdateRequest()
	if caps != nil {
		req = packp.NewReferenceUpdateRequestFromCapabilities(caps)
	}
	req.Commands = []*packp.Command{{Name: r.branch, Old: old, New: new}}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	// What the server's hooks print comes on the side band; it says why a push was refused.
	said := &serverMessages{}
	if caps != nil && caps.Supports(capability.Sideband64k) {
		_ = req.Capabilities.Set(capability.Sideband64k) // setting a capability without arguments cannot fail
		req.Progress = said
	}

	report, err := sess.ReceivePack(ctx, req)
	if report != nil {
		// The server's report of what it did: a refusal of the objects or the update, which
		// ReceivePack also returns as its error.
		if refusal := report.Error(); refusal != nil {
			if isStaleRefusal(refusal) {
				return errStale
			}
			if msg := said.String(); msg != "" {
				refusal = fmt.Errorf("%w (the server said: %s)", refusal, msg)
			}
			return statestore.NewError(statestore.ErrTransient, "push to "+r.url, fmt.Errorf("%w: %w", errRefused, refusal))
		}
	}
	if err != nil {
		if isStaleRefusal(err) {
			return errStale
		}
		return r.classify("push", err)
	}
	return nil
}

// branchHead is the branch's commit in an advertisement, zero when the branch does not exist.
func branchHead(adv *packp.AdvRefs, branch plumbing.ReferenceName) plumbing.Hash {
	refs, err := adv.AllReferences()
	if err != nil {
		return plumbing.ZeroHash
	}
	if ref, ok := refs[branch]; ok {
		return ref.Hash()
	}
	return plumbing.ZeroHash
}

// withAuth runs op with the store's credentials: auth, or for a GitHub App a valid installation
// token, bought when the cached one is missing or about to expire. When the server refuses a
// cached token (revoked, or the App's access changed), op runs once more with a new one: a
// refused clone, advertisement or push changed nothing on the server.
func (r *remote) withAuth(ctx context.Context, op func(transport.AuthMethod) error) error {
	if r.tokens == nil {
		return op(r.auth)
	}
	basic, fresh, err := r.tokens.auth(ctx)
	if err != nil {
		return err
	}
	err = op(basic)
	if fresh || !errors.Is(err, statestore.ErrAuthentication) || isTLSVerificationFailure(err) {
		return err
	}
	// classify dropped the refused token.
	if basic, _, err = r.tokens.auth(ctx); err != nil {
		return err
	}
	return op(basic)
}

func (r *remote) isHTTP() bool { return r.ep.Protocol == "http" || r.ep.Protocol == "https" }

// isStaleRefusal recognises the server's refusal of a ref update whose old value is out of date.
func isStaleRefusal(err error) bool {
	msg := err.Error()
	for _, s := range []string{"failed to update ref", "fetch first", "non-fast-forward", "stale info", "failed to lock"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// classify turns a go-git or network error into a statestore error of the right kind. The
// endpoint holds no credentials for go-git to quote, and statestore.Error removes the userinfo
// of any URL in its text all the same.
func (r *remote) classify(op string, err error) error {
	op = op + " " + r.url
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return statestore.NewError(statestore.ErrTransient, op, err)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod), isSSHAuthFailure(err), isTLSVerificationFailure(err):
		if r.tokens != nil {
			// The server refused the installation token (revoked, or the App lost access):
			// the next operation buys a new one.
			r.tokens.forget()
		}
		return statestore.NewError(statestore.ErrAuthentication, op, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return statestore.NewError(statestore.ErrNotFound, op, err)
	}
	// Network failures, server errors and anything unrecognised: trying again later may work.
	return statestore.NewError(statestore.ErrTransient, op, err)
}

// isTLSVerificationFailure recognises a server certificate that the store does not trust: the
// server could not be authenticated, and retrying will not change that.
func isTLSVerificationFailure(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		strings.Contains(err.Error(), "x509: ")
}

// isSSHAuthFailure recognises the ssh handshake's refusals: of our key, or of the server's host
// key by the known hosts.
func isSSHAuthFailure(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "knownhosts:") ||
		strings.Contains(msg, "key mismatch") || strings.Contains(msg, "host key")
}

// serverMessages keeps the first maxServerMessages bytes that a server sends on the side band
// during a push, for the error that reports its refusal.
type serverMessages struct{ buf []byte }

// maxServerMessages bounds what a server's messages add to an error.
const maxServerMessages = 512

func (m *serverMessages) Write(p []byte) (int, error) {
	if room := maxServerMessages - len(m.buf); room > 0 {
		m.buf = append(m.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// String is the messages on one line, without the progress meters servers also send.
func (m *serverMessages) String() string {
	var lines []string
	for _, line := range strings.FieldsFunc(string(m.buf), func(r rune) bool { return r == '\n' || r == '\r' }) {
		if line = strings.TrimSpace(line); line != "" && !strings.Contains(line, "%") {
			lines = append(lines, strings.ToValidUTF8(line, ""))
		}
	}
	return strings.Join(lines, "; ")
}

// head asks the remote for the branch's commit, zero when the branch does not exist: one
// advertisement of the refs, read access only.
func (r *remote) head(ctx context.Context) (plumbing.Hash, error) {
	adv, err := r.advertisement(ctx, "read the head of", false)
	if err != nil || adv == nil {
		return plumbing.ZeroHash, err
	}
	return branchHead(adv, r.branch), nil
}

// advertisement opens a session, for receive-pack (push) or upload-pack (fetch), and returns the
// refs the server advertises; nil for an empty repository. Nothing else is sent.
func (r *remote) advertisement(ctx context.Context, op string, push bool) (adv *packp.AdvRefs, err error) {
	err = r.withAuth(ctx, func(auth transport.AuthMethod) error {
		adv, err = r.advertisementWith(ctx, auth, op, push)
		return err
	})
	return adv, err
}

func (r *remote) advertisementWith(ctx context.Context, auth transport.AuthMethod, op string, push bool) (*packp.AdvRefs, error) {
	cli, err := client.NewClient(r.ep)
	if err != nil {
		return nil, r.classify(op, err)
	}
	var sess transport.Session
	if push {
		sess, err = cli.NewReceivePackSession(r.ep, auth)
	} else {
		sess, err = cli.NewUploadPackSession(r.ep, auth)
	}
	if err != nil {
		return nil, r.classify(op, err)
	}
	defer sess.Close() // nothing was sent; a close error changes nothing
	adv, err := sess.AdvertisedReferencesContext(ctx)
	switch {
	case errors.Is(err, errEmptyRepo):
		return nil, nil
	case err != nil:
		return nil, r.classify(op, err)
	}
	return adv, nil
}
