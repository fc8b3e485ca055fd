package gitserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPOptions configures an HTTP server. The zero value is valid: plain HTTP, a fresh repository
// directory, user "git" and a random password.
type HTTPOptions struct {
	// Dir is the directory of bare repositories. Empty: a directory inside the server's temporary
	// directory, removed with it. A caller's directory is never removed.
	Dir string
	// Username and Password are the only credentials accepted. An empty Username means "git", an
	// empty Password a random one (read it back with Password).
	Username string
	Password string
	// Authorize, when set, decides instead of Username and Password which basic-auth
	// credentials are accepted: a test can accept tokens that change (GitHubApp.Authorize).
	Authorize func(user, password string) bool
	// TLS serves HTTPS with a certificate for 127.0.0.1 signed by a freshly generated CA; give
	// clients CAPEM or CAFile.
	TLS bool
	// GitConfig is extra "key=value" configuration for the server's git processes, applied after
	// DefaultServerConfig.
	GitConfig []string
	// Log receives git http-backend's standard error and the server's own error lines. Nil
	// discards them (NewHTTP logs them to the test instead).
	Log io.Writer
}

// HTTPStats counts requests since the server started (across restarts).
type HTTPStats struct {
	// Requests is every request received, authorised or not.
	Requests int64
	// Unauthorized is requests refused with 401. The git CLI makes one on purpose before sending
	// its credentials, so a successful clone or push counts one too.
	Unauthorized int64
	// UploadPacks and ReceivePacks are authorised POSTs to git-upload-pack (fetches) and
	// git-receive-pack (pushes), counted when they arrive.
	UploadPacks  int64
	ReceivePacks int64
}

// Intercept sees every authorised request before git http-backend does. Returning true means it
// wrote the response itself and git is not run: a test can fail requests, or block in it to hold
// a request in flight. Stop waits for it, so it must return eventually.
type Intercept func(w http.ResponseWriter, r *http.Request) (handled bool)

// HTTPServer serves bare repositories over HTTP(S) through git http-backend.
type HTTPServer struct {
	*store   // Root, CreateRepo, Git
	life     lifecycle
	backend  string
	scheme   string
	username string
	password string
	authz    func(user, password string) bool
	tls      *tls.Config
	caPEM    []byte
	caFile   string
	log      io.Writer
	errLog   *log.Logger

	intercept atomic.Pointer[Intercept]
	requests  atomic.Int64
	unauth    atomic.Int64
	uploads   atomic.Int64
	receives  atomic.Int64
	handlers  sync.WaitGroup
}

// NewHTTP starts an HTTP server and stops it, removing its files, when the test ends. It fails
// the test if the server cannot start.
func NewHTTP(t TB, opts HTTPOptions) *HTTPServer {
	t.Helper()
	return startForTest(t, "HTTP", &opts.Log, func() (*HTTPServer, error) { return StartHTTP(opts) })
}

// StartHTTP starts an HTTP server on a free port of 127.0.0.1. Close it when done.
func StartHTTP(opts HTTPOptions) (*HTTPServer, error) {
	exec, err := execPath()
	if err != nil {
		return nil, err
	}
	st, err := newStore(opts.Dir, opts.GitConfig)
	if err != nil {
		return nil, err
	}
	s := &HTTPServer{
		store:    st,
		backend:  filepath.Join(exec, "git-http-backend"),
		scheme:   "http",
		username: opts.Username,
		password: opts.Password,
		authz:    opts.Authorize,
		log:      opts.Log,
	}
	s.life = lifecycle{kind: "HTTP", store: st, start: s.serveListener}
	fail := func(err error) (*HTTPServer, error) {
		return nil, errors.Join(err, st.remove())
	}
	if _, err := os.Stat(s.backend); err != nil {
		return fail(fmt.Errorf("git http-backend: %w", err))
	}
	if s.username == "" {
		s.username = "git"
	}
	if s.password == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		s.password = hex.EncodeToString(b)
	}
	if s.log == nil {
		s.log = io.Discard
	}
	s.errLog = log.New(s.log, "gitserver http: ", 0)
	st.gc.logf = s.errLog.Printf
	if opts.TLS {
		ca, err := newSelfSignedCA()
		if err != nil {
			return fail(err)
		}
		s.scheme = "https"
		s.caPEM = ca.caPEM
		s.tls = &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
		s.caFile = filepath.Join(st.state, "ca.crt")
		if err := os.WriteFile(s.caFile, ca.caPEM, 0o600); err != nil {
			return fail(fmt.Errorf("write ca.crt: %w", err))
		}
	}
	if err := s.life.serve("127.0.0.1:0"); err != nil {
		return fail(err)
	}
	return s, nil
}

// URL is the clone URL of a repository, e.g. http://127.0.0.1:PORT/state.git. It carries no
// credentials.
func (s *HTTPServer) URL(repo string) string {
	return s.scheme + "://" + s.life.addr + "/" + strings.TrimPrefix(repo, "/")
}

// Addr is the server's host:port; it stays the same across Stop and Restart.
func (s *HTTPServer) Addr() string { return s.life.addr }

// Username is the accepted user name.
func (s *HTTPServer) Username() string { return s.username }

// Password is the accepted password.
func (s *HTTPServer) Password() string { return s.password }

// CAPEM is the PEM certificate of the CA that signed the server's certificate (what a client
// wants as ca.crt), or nil without TLS.
func (s *HTTPServer) CAPEM() []byte { return s.caPEM }

// CAFile is a file holding CAPEM, for `git -c http.sslCAInfo=...`, or "" without TLS.
func (s *HTTPServer) CAFile() string { return s.caFile }

// Stats returns the request counters.
func (s *HTTPServer) Stats() HTTPStats {
	return HTTPStats{
		Requests:     s.requests.Load(),
		Unauthorized: s.unauth.Load(),
		UploadPacks:  s.uploads.Load(),
		ReceivePacks: s.receives.Load(),
	}
}

// SetIntercept installs f (nil removes it). It is safe to call while requests are being served.
func (s *HTTPServer) SetIntercept(f Intercept) {
	if f == nil {
		s.intercept.Store(nil)
		return
	}
	s.intercept.Store(&f)
}

// Stop closes the listener and waits for in-flight requests, including their git processes, to
// finish (closing their connections after 30 s). Repositories stay; Restart serves them again.
// Stopping a stopped server does nothing.
func (s *HTTPServer) Stop() error { return s.life.Stop() }

// Restart serves again on the same address after Stop.
func (s *HTTPServer) Restart() error { return s.life.Restart() }

// Close stops the server and removes its temporary directory, with the repositories unless the
// caller gave HTTPOptions.Dir.
func (s *HTTPServer) Close() error { return s.life.Close() }

// serveListener serves ln in the background and returns what stops that: it closes the listener
// and waits for in-flight requests, closing their connections after stopTimeout.
func (s *HTTPServer) serveListener(ln net.Listener) (stop func() error) {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          s.errLog,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errLog.Printf("serve: %v", err)
		}
	}()
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		var err error
		if shutdownErr := srv.Shutdown(ctx); shutdownErr != nil {
			err = errors.Join(fmt.Errorf("wait for in-flight requests: %w", shutdownErr), srv.Close())
		}
		<-done
		s.handlers.Wait()
		return err
	}
}

// ServeHTTP checks Basic auth, then hands the request to git http-backend.
func (s *HTTPServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	s.requests.Add(1)

	user, pass, ok := r.BasicAuth()
	if !ok || !s.authorized(user, pass) {
		s.unauth.Add(1)
		w.Header().Set("WWW-Authenticate", `Basic realm="gitserver", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	if strings.Contains(r.URL.Path, "/../") || strings.HasSuffix(r.URL.Path, "/..") {
		http.NotFound(w, r)
		return
	}
	push := false
	if r.Method == http.MethodPost {
		switch {
		case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
			s.receives.Add(1)
			push = true
		case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.uploads.Add(1)
		}
	}
	if f := s.intercept.Load(); f != nil && (*f)(w, r) {
		return
	}

	req := r.Clone(r.Context())
	// The CGI environment gets every header as HTTP_*: the password has no business there.
	req.Header.Del("Authorization")
	if len(req.TransferEncoding) > 0 {
		// net/http/cgi refuses chunked bodies, and the git CLI sends one for any push larger than
		// http.postBuffer (1 MiB): spool it to a file so that it has a length.
		body, size, err := s.spool(r.Body)
		if err != nil {
			s.errLog.Printf("spool a chunked request body: %v", err)
			http.Error(w, "cannot read the request body", http.StatusBadRequest)
			return
		}
		defer func() {
			_ = body.Close()           // only read from
			_ = os.Remove(body.Name()) // inside the state directory, which Close removes anyway
		}()
		req.Body, req.ContentLength, req.TransferEncoding = body, size, nil
	}

	env := append(append([]string{}, s.store.env...),
		"GIT_PROJECT_ROOT="+s.store.root,
		"GIT_HTTP_EXPORT_ALL=1",
		"REMOTE_USER="+user,
	)
	// Apache's recipe passes the Git-Protocol header on as GIT_PROTOCOL (protocol v2); do the same.
	if p := r.Header.Get("Git-Protocol"); p != "" && validGitProtocol(p) {
		env = append(env, "GIT_PROTOCOL="+p)
	}
	h := &cgi.Handler{
		Path:   s.backend,
		Root:   "/",
		Dir:    s.store.state,
		Env:    env,
		Stderr: s.log,
		Logger: s.errLog,
	}
	h.ServeHTTP(w, req)
	if push {
		repo := strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/git-receive-pack"), "/")
		if dir, err := s.store.existingRepo(repo); err == nil {
			s.store.gc.afterPush(dir)
		}
	}
}

func (s *HTTPServer) authorized(user, pass string) bool {
	if s.authz != nil {
		return s.authz(user, pass)
	}
	// Compare digests so that neither the content nor the length of the secrets leaks through
	// timing.
	wantUser, gotUser := sha256.Sum256([]byte(s.username)), sha256.Sum256([]byte(user))
	wantPass, gotPass := sha256.Sum256([]byte(s.password)), sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(wantUser[:], gotUser[:])&subtle.ConstantTimeCompare(wantPass[:], gotPass[:]) == 1
}

// validGitProtocol accepts values like "version=2" or "version=2:object-format=sha1".
func validGitProtocol(p string) bool {
	if len(p) > 256 {
		return false
	}
	for _, c := range p {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("=:._-", c):
		default:
			return false
		}
	}
	return true
}

// spool copies r into a new file of the state directory and returns it rewound, with its size.
func (s *HTTPServer) spool(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp(s.store.state, "body-")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return nil, 0, errors.Join(err, f.Close(), os.Remove(f.Name()))
	}
	return f, n, nil
}
