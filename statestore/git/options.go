package git

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-logr/logr"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// Options configure a Writer. URL is required; the rest have safe defaults.
type Options struct {
	// URL of the repository: https://, http://, ssh:// or scp-like user@host:path.
	URL string
	// Branch that receives the commits; default main. Created by the first commit if missing.
	Branch string
	// Root is the store's spec.path: every path of a Change is relative to it.
	Root string
	// Auth holds the credentials; the zero value means anonymous.
	Auth Auth
	// CABundle is PEM certificates to trust for https in addition to the system's.
	CABundle []byte
	// Insecure skips TLS verification over https, and lets basic-auth credentials go over plain
	// http, in clear text (ErrCredentialsOverHTTP otherwise). Only when asked for by name.
	Insecure bool
	// Author of the commits; default name "kratix".
	Author Author
	// MaxBatch is the most changes one commit carries; default 256.
	MaxBatch int
	// Linger is the most a batch waits for more changes while the writer is under load; default
	// 2ms. Isolated writes never wait.
	Linger time.Duration
	// PushAttempts is how often a batch is rebuilt on a newer remote head when someone else pushed
	// first; default 5.
	PushAttempts int
	// CompactBytes is how much the in-memory clone may grow through commits (objects' sizes,
	// uncompressed) before the writer keeps only what its pushed head needs, between batches;
	// default 64 MiB.
	CompactBytes int64
	// HeadCheckInterval is how often the writer asks the remote for its branch's head when it has
	// written nothing for that long, to notice a change made by someone else's hand; default 1
	// minute. A push the remote refuses as stale notices it too.
	HeadCheckInterval time.Duration
	// RestoreQuiet is how long, after a drift, the writer gathers the engine's writes into one
	// restore commit: until no write came for RestoreQuiet, at most RestoreMax; default 1 s and
	// 30 s. So a deleted branch comes back whole in one commit, not one placement at a time
	// while GitOps agents prune what is missing.
	RestoreQuiet, RestoreMax time.Duration
	// CloneBudget bounds what a clone of the branch may hold in memory; every field's default
	// when zero: a pack of 512 MiB, a file of v1alpha1.MaxDecodedContent and 1 MiB more (the
	// largest the engine writes), and 1 GiB of files in all.
	CloneBudget Budget
	// Timeout bounds one network operation (clone, fetch, push); default 2 minutes.
	Timeout time.Duration
	// Logger receives the writer's logs; default discards.
	Logger logr.Logger
	// OnCommit, when set, is called after each pushed commit with the number of changes it
	// carries (the size of the group commit), before their callers hear of it. It runs on the
	// writer's goroutine: it must be quick and must not call the writer.
	OnCommit func(changes int)

	// now is the clock of GitHub App tokens and their JWTs; time.Now when nil. Tests move it on.
	now func() time.Time
}

// Auth holds the credentials of a GitStateStore.
type Auth struct {
	// Username and Password for basicAuth over http(s).
	Username string
	Password string
	// SSHPrivateKey (PEM) and SSHKnownHosts (known_hosts lines) for ssh. The server's host key
	// must be in SSHKnownHosts: an unknown or changed key is refused.
	SSHPrivateKey []byte
	SSHKnownHosts []byte
	// GitHubApp, for authMethod githubApp over https: the writer buys installation tokens
	// with it and sends them as the password of x-access-token. Username, Password and the
	// ssh key must then be empty.
	GitHubApp *GitHubApp
}

// ErrCredentialsOverHTTP is the cause of the ErrInvalidConfig of a writer for an http:// URL
// with basic-auth credentials (from Auth or the URL's user) and without Options.Insecure: over
// plain http anyone on the network path reads them. An http URL without credentials sends
// nothing secret and is accepted.
var ErrCredentialsOverHTTP = errors.New("refusing to send credentials in clear text over http: use https, or set insecure to accept the risk")

// Author is the identity written into commits.
type Author struct {
	Name  string
	Email string
}

// withDefaults validates the options and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		return o, invalidConfig("a repository URL is required")
	}
	if o.Branch == "" {
		o.Branch = v1alpha1.DefaultBranch
	}
	if o.Root != "" {
		root, err := statestore.CleanPath(o.Root)
		if err != nil {
			return o, fmt.Errorf("root: %w", err)
		}
		o.Root = root
	}
	if o.Author.Name == "" {
		o.Author.Name = "kratix"
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Linger <= 0 {
		o.Linger = 2 * time.Millisecond
	}
	if o.PushAttempts <= 0 {
		o.PushAttempts = 5
	}
	if o.CompactBytes <= 0 {
		o.CompactBytes = 64 << 20
	}
	if o.CloneBudget.PackBytes <= 0 {
		o.CloneBudget.PackBytes = 512 << 20
	}
	if o.CloneBudget.ObjectBytes <= 0 {
		o.CloneBudget.ObjectBytes = v1alpha1.MaxDecodedContent + 1<<20
	}
	if o.CloneBudget.TotalBytes <= 0 {
		o.CloneBudget.TotalBytes = 1 << 30
	}
	if o.RestoreQuiet <= 0 {
		o.RestoreQuiet = time.Second
	}
	if o.RestoreMax <= 0 {
		o.RestoreMax = 30 * time.Second
	}
	if o.HeadCheckInterval <= 0 {
		o.HeadCheckInterval = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return o, nil
}

// endpoint parses the URL and applies the TLS settings. The endpoint of an http(s) URL holds no
// userinfo: go-git builds the URLs of its requests from the endpoint, and the errors of those
// requests quote them. The URL's user, often a token (https://TOKEN@host/...), is returned apart
// for authMethod to send as basic auth, as go-git would have.
func (o Options) endpoint() (ep *transport.Endpoint, urlUser string, err error) {
	ep, err = transport.NewEndpoint(o.URL)
	if err != nil {
		// The parser's error quotes the URL, or a piece of it: neither is shown.
		return nil, "", invalidConfig(fmt.Sprintf("the repository URL %s does not parse", statestore.RedactURL(o.URL)))
	}
	switch ep.Protocol {
	case "http", "https", "ssh", "file":
	default:
		return nil, "", invalidConfig(fmt.Sprintf("repository URL scheme %q is not supported; use https, http, ssh or file", ep.Protocol))
	}
	// A scp-like URL's user:password@ comes out of the parser as a user with a colon.
	if ep.Password != "" || strings.Contains(ep.User, ":") {
		return nil, "", invalidConfig("the repository URL holds a password; put credentials in the state store's Secret")
	}
	if ep.Protocol == "http" || ep.Protocol == "https" {
		urlUser, ep.User = ep.User, ""
	}
	ep.CaBundle = o.CABundle
	ep.InsecureSkipTLS = o.Insecure
	return ep, urlUser, nil
}

// authMethod builds go-git's credentials for the endpoint: over http(s), the Auth's username and
// password, else the URL's user (urlUser, from endpoint) with no password. For ssh it writes the
// known hosts to a private temporary file (the knownhosts package reads files) and returns its
// path for removal.
func (o Options) authMethod(ep *transport.Endpoint, urlUser string) (transport.AuthMethod, string, error) {
	switch ep.Protocol {
	case "http", "https":
		if len(o.Auth.SSHPrivateKey) > 0 {
			return nil, "", invalidConfig("an ssh key was given for an http(s) URL")
		}
		if o.Auth.GitHubApp != nil {
			if o.Auth.Username != "" || o.Auth.Password != "" || urlUser != "" {
				return nil, "", invalidConfig("authMethod githubApp sends its own installation token: give no username, password or URL user")
			}
			if ep.Protocol == "http" && !o.Insecure {
				return nil, "", statestore.NewError(statestore.ErrInvalidConfig, "git state store", ErrCredentialsOverHTTP)
			}
			// The token is bought before each operation (remote.authFor).
			return nil, "", nil
		}
		basic := &githttp.BasicAuth{Username: o.Auth.Username, Password: o.Auth.Password}
		if basic.Username == "" && basic.Password == "" {
			basic.Username = urlUser
		}
		if basic.Username == "" && basic.Password == "" {
			return nil, "", nil
		}
		if ep.Protocol == "http" && !o.Insecure {
			return nil, "", statestore.NewError(statestore.ErrInvalidConfig, "git state store", ErrCredentialsOverHTTP)
		}
		return basic, "", nil
	case "ssh":
		if o.Auth.GitHubApp != nil {
			return nil, "", invalidConfig("authMethod githubApp authenticates over https: use the repository's https URL")
		}
		return o.sshAuth(ep)
	default:
		return nil, "", nil
	}
}

func (o Options) sshAuth(ep *transport.Endpoint) (transport.AuthMethod, string, error) {
	if len(o.Auth.SSHPrivateKey) == 0 {
		return nil, "", invalidConfig("an ssh URL needs sshPrivateKey in the state store's Secret")
	}
	if len(o.Auth.SSHKnownHosts) == 0 {
		return nil, "", invalidConfig("an ssh URL needs knownHosts in the state store's Secret: the server's host key is always checked")
	}
	signer, err := gossh.ParsePrivateKey(o.Auth.SSHPrivateKey)
	if err != nil {
		// The parser's message never includes key material.
		return nil, "", invalidConfig(fmt.Sprintf("sshPrivateKey does not parse: %v", err))
	}
	f, err := os.CreateTemp("", "kratix-known-hosts-")
	if err != nil {
		return nil, "", fmt.Errorf("write known hosts: %w", err)
	}
	_, werr := f.Write(o.Auth.SSHKnownHosts)
	if err := errors.Join(werr, f.Close()); err != nil {
		return nil, "", errors.Join(fmt.Errorf("write known hosts: %w", err), os.Remove(f.Name()))
	}
	callback, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, "", errors.Join(invalidConfig(fmt.Sprintf("knownHosts does not parse: %v", err)), os.Remove(f.Name()))
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	auth := &gitssh.PublicKeys{User: user, Signer: signer}
	auth.HostKeyCallback = callback
	return auth, f.Name(), nil
}

func invalidConfig(msg string) error {
	return statestore.NewError(statestore.ErrInvalidConfig, "git state store", errors.New(msg))
}
