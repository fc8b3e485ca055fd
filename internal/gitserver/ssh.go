package gitserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHUser is the only user name the SSH server accepts, as in ssh://git@host/repo.
const SSHUser = "git"

// SSHOptions configures an SSH server. The zero value is valid.
type SSHOptions struct {
	// Dir is the directory of bare repositories. Empty: a directory inside the server's temporary
	// directory, removed with it. A caller's directory is never removed.
	Dir string
	// GitConfig is extra "key=value" configuration for the server's git processes, applied after
	// DefaultServerConfig.
	GitConfig []string
	// Log receives the reasons for refused connections and commands. Nil discards them (NewSSH
	// logs them to the test instead).
	Log io.Writer
}

// SSHStats counts events since the server started (across restarts).
type SSHStats struct {
	// Connections is every TCP connection accepted.
	Connections int64
	// FailedHandshakes is connections that did not complete the SSH handshake: an unknown client
	// key, a client that refused the host key, or a wrong user. The server may notice after the
	// client has returned its error.
	FailedHandshakes int64
	// RefusedKeys is public keys refused, counted before the client learns of the refusal.
	RefusedKeys int64
	// UploadPacks and ReceivePacks are git-upload-pack (fetches) and git-receive-pack (pushes)
	// processes started.
	UploadPacks  int64
	ReceivePacks int64
	// RefusedCommands is exec requests refused: another command, a malformed or escaping path, a
	// repository that does not exist.
	RefusedCommands int64
}

// SSHServer serves bare repositories over SSH by running git-upload-pack and git-receive-pack.
// It accepts one client key, which it generates, for the user "git".
type SSHServer struct {
	*store       // Root, CreateRepo, Git
	life         lifecycle
	exec         string
	hostKey      ssh.PublicKey
	clientKey    ssh.PublicKey
	clientKeyPEM []byte
	config       *ssh.ServerConfig
	errLog       *log.Logger

	connections atomic.Int64
	handshakes  atomic.Int64
	badKeys     atomic.Int64
	uploads     atomic.Int64
	receives    atomic.Int64
	refused     atomic.Int64
}

// sshRun is one listening period, from start (or Restart) to Stop.
type sshRun struct {
	ln     net.Listener
	ctx    context.Context // cancelled by Stop: kills the git processes
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loop, connections, sessions

	connMu   sync.Mutex
	conns    map[net.Conn]struct{}
	stopping bool
}

// NewSSH starts an SSH server and stops it, removing its files, when the test ends. It fails the
// test if the server cannot start.
func NewSSH(t TB, opts SSHOptions) *SSHServer {
	t.Helper()
	return startForTest(t, "SSH", &opts.Log, func() (*SSHServer, error) { return StartSSH(opts) })
}

// StartSSH starts an SSH server on a free port of 127.0.0.1 with fresh ed25519 host and client
// keys. Close it when done.
func StartSSH(opts SSHOptions) (*SSHServer, error) {
	execDir, err := execPath()
	if err != nil {
		return nil, err
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the SSH host key: %w", err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, fmt.Errorf("SSH host key: %w", err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the SSH client key: %w", err)
	}
	clientKey, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		return nil, fmt.Errorf("SSH client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "kratix gitserver test client")
	if err != nil {
		return nil, fmt.Errorf("encode the SSH client key: %w", err)
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	st, err := newStore(opts.Dir, opts.GitConfig)
	if err != nil {
		return nil, err
	}
	s := &SSHServer{
		store:        st,
		exec:         execDir,
		hostKey:      hostSigner.PublicKey(),
		clientKey:    clientKey,
		clientKeyPEM: pem.EncodeToMemory(block),
		errLog:       log.New(logw, "gitserver ssh: ", 0),
	}
	s.life = lifecycle{kind: "SSH", store: st, start: s.serveListener}
	st.gc.logf = s.errLog.Printf
	s.config = &ssh.ServerConfig{PublicKeyCallback: s.checkKey}
	s.config.AddHostKey(hostSigner)
	if err := s.life.serve("127.0.0.1:0"); err != nil {
		return nil, errors.Join(err, st.remove())
	}
	return s, nil
}

// URL is the clone URL of a repository: ssh://git@127.0.0.1:PORT/<repo>.
func (s *SSHServer) URL(repo string) string {
	return "ssh://" + SSHUser + "@" + s.life.addr + "/" + strings.TrimPrefix(repo, "/")
}

// Addr is the server's host:port; it stays the same across Stop and Restart.
func (s *SSHServer) Addr() string { return s.life.addr }

// HostKey is the server's ed25519 host key.
func (s *SSHServer) HostKey() ssh.PublicKey { return s.hostKey }

// KnownHosts is a known_hosts line for the server, "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
func (s *SSHServer) KnownHosts() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.life.addr)}, s.hostKey)
}

// ClientKeyPEM is the private key the server accepts, PEM-encoded in OpenSSH format without a
// passphrase (what go-git's ssh.NewPublicKeys and `ssh -i` read).
func (s *SSHServer) ClientKeyPEM() []byte { return s.clientKeyPEM }

// ClientPublicKey is the public half of ClientKeyPEM.
func (s *SSHServer) ClientPublicKey() ssh.PublicKey { return s.clientKey }

// Stats returns the counters.
func (s *SSHServer) Stats() SSHStats {
	return SSHStats{
		Connections:      s.connections.Load(),
		FailedHandshakes: s.handshakes.Load(),
		RefusedKeys:      s.badKeys.Load(),
		UploadPacks:      s.uploads.Load(),
		ReceivePacks:     s.receives.Load(),
		RefusedCommands:  s.refused.Load(),
	}
}

// Stop closes the listener and every connection, kills the git processes still running, and
// waits for them. Repositories stay; Restart serves them again. Stopping a stopped server does
// nothing.
func (s *SSHServer) Stop() error { return s.life.Stop() }

// Restart serves again on the same address after Stop.
func (s *SSHServer) Restart() error { return s.life.Restart() }

// Close stops the server and removes its temporary directory, with the repositories unless the
// caller gave SSHOptions.Dir.
func (s *SSHServer) Close() error { return s.life.Close() }

// serveListener accepts connections on ln in the background and returns what stops that: it
// closes the listener and every connection, kills the git processes and waits for them.
func (s *SSHServer) serveListener(ln net.Listener) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &sshRun{ln: ln, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.errLog.Printf("accept: %v", err)
				}
				return
			}
			s.connections.Add(1)
			if !r.track(c) {
				continue
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer r.untrack(c)
				s.serveConn(r, c)
			}()
		}
	}()
	return r.stop
}

// stop closes the listener and every connection, kills the git processes still running, and
// waits for them.
func (r *sshRun) stop() error {
	err := r.ln.Close()
	r.connMu.Lock()
	r.stopping = true
	for c := range r.conns {
		_ = c.Close() // the connection is being abandoned; its handler reports nothing
	}
	r.connMu.Unlock()
	r.cancel()
	r.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close the SSH listener: %w", err)
	}
	return nil
}

// track registers c so that Stop can close it; it closes c instead if Stop has begun.
func (r *sshRun) track(c net.Conn) bool {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if r.stopping {
		_ = c.Close() // refused: the server is stopping
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *sshRun) untrack(c net.Conn) {
	r.connMu.Lock()
	delete(r.conns, c)
	r.connMu.Unlock()
	_ = c.Close() // may already be closed by the SSH layer or by Stop
}

// checkKey accepts the generated client key for SSHUser and nothing else.
func (s *SSHServer) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	ok := subtle.ConstantTimeCompare(key.Marshal(), s.clientKey.Marshal()) == 1
	if !ok || meta.User() != SSHUser {
		s.badKeys.Add(1)
		return nil, errors.New("public key not authorized")
	}
	return &ssh.Permissions{}, nil
}

func (s *SSHServer) serveConn(r *sshRun, c net.Conn) {
	// Bound the handshake: a client that stalls must not hold Stop for long.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // a TCP connection always accepts deadlines
	sconn, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		s.handshakes.Add(1)
		s.errLog.Printf("handshake with %s: %v", c.RemoteAddr(), err)
		return
	}
	_ = c.SetDeadline(time.Time{}) // as above
	defer sconn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels") // the client may be gone
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			s.errLog.Printf("accept a channel: %v", err)
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			s.serveSession(r.ctx, ch, chReqs)
		}()
	}
}

// serveSession handles the requests of one session channel: "env" for GIT_PROTOCOL, then one
// "exec" of git-upload-pack or git-receive-pack. Everything else is refused.
func (s *SSHServer) serveSession(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			ok := ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" && validGitProtocol(kv.Value)
			if ok {
				env = append(env, "GIT_PROTOCOL="+kv.Value)
			}
			reply(req, ok)
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				s.refused.Add(1)
				reply(req, false)
				continue
			}
			service, path, err := s.resolveCommand(payload.Command)
			if err != nil {
				s.refused.Add(1)
				s.errLog.Printf("refuse exec: %v", err)
				reply(req, false)
				continue
			}
			reply(req, true)
			// Refuse whatever else comes, so that an unread request cannot stall the connection.
			go func() {
				for req := range reqs {
					reply(req, false)
				}
			}()
			s.runGit(ctx, ch, service, path, env)
			return
		default:
			reply(req, false)
		}
	}
}

func reply(req *ssh.Request, ok bool) {
	if req.WantReply {
		_ = req.Reply(ok, nil) // fails only when the client has gone, which ends the session anyway
	}
}

// resolveCommand validates an exec command line and returns the service and the repository's
// directory.
func (s *SSHServer) resolveCommand(line string) (service, dir string, err error) {
	service, repo, err := parseGitCommand(line)
	if err != nil {
		return "", "", err
	}
	dir, err = s.store.existingRepo(repo)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", service, err)
	}
	return service, dir, nil
}

// parseGitCommand splits "git-upload-pack '/org/repo.git'" into the service and the repository
// name relative to the root ("org/repo.git"). The path must be one argument quoted the way git's
// sq_quote does it ('it'\”s'); the leading slash of an ssh:// URL's path is dropped.
func parseGitCommand(line string) (service, repo string, err error) {
	name, arg, ok := strings.Cut(line, " ")
	if !ok {
		return "", "", fmt.Errorf("command %q: want git-upload-pack or git-receive-pack with a quoted path", truncate(line))
	}
	switch name {
	case "git-upload-pack", "git-receive-pack":
	default:
		return "", "", fmt.Errorf("command %q is not allowed", truncate(name))
	}
	path, err := dequote(arg)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", name, err)
	}
	rel := strings.TrimPrefix(path, "/")
	if _, err := cleanRepoName(rel); err != nil {
		return "", "", fmt.Errorf("%s: %w", name, err)
	}
	return name, rel, nil
}

// dequote undoes git's sq_quote for exactly one argument: 'text' segments, joined by \' or \!.
func dequote(s string) (string, error) {
	if len(s) < 2 || s[0] != '\'' {
		return "", fmt.Errorf("path %q: not single-quoted", truncate(s))
	}
	var b strings.Builder
	i := 1
	for {
		end := strings.IndexByte(s[i:], '\'')
		if end < 0 {
			return "", fmt.Errorf("path %q: unterminated quote", truncate(s))
		}
		b.WriteString(s[i : i+end])
		i += end + 1
		if i == len(s) {
			return b.String(), nil
		}
		// Between segments only an escaped quote or bang is allowed: '\'' or '\!'.
		if len(s) < i+3 || s[i] != '\\' || (s[i+1] != '\'' && s[i+1] != '!') || s[i+2] != '\'' {
			return "", fmt.Errorf("path %q: not a single quoted argument", truncate(s))
		}
		b.WriteByte(s[i+1])
		i += 3
	}
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// runGit runs the service with the channel as its standard streams and sends its exit status.
func (s *SSHServer) runGit(ctx context.Context, ch ssh.Channel, service, dir string, extraEnv []string) {
	switch service {
	case "git-receive-pack":
		s.receives.Add(1)
	case "git-upload-pack":
		s.uploads.Add(1)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.exec, service), dir)
	cmd.Env = append(append([]string{}, s.store.env...), extraEnv...)
	cmd.Dir = s.store.state
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	cmd.WaitDelay = 10 * time.Second // after a kill, do not wait for a stuck client to drain output
	// Not the channel itself as Stdin: Wait would then wait for the client to close its side.
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		s.errLog.Printf("start %s: %v", service, err)
		sendExitStatus(ch, 128)
		return
	}
	go func() {
		_, _ = io.Copy(stdin, ch) // ends when the channel closes or the process exits
		_ = stdin.Close()         // lets the process see end of input
	}()
	status := 0
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && exitErr.ExitCode() >= 0 {
			status = exitErr.ExitCode()
		} else {
			status = 128
		}
		if ctx.Err() == nil {
			s.errLog.Printf("%s %s: %v", service, filepath.Base(dir), err)
		}
	}
	_ = ch.CloseWrite() // as OpenSSH: EOF, exit-status, close; the client may be gone already
	sendExitStatus(ch, uint32(status))
	if service == "git-receive-pack" && ctx.Err() == nil {
		s.store.gc.afterPush(dir)
	}
}

func sendExitStatus(ch ssh.Channel, status uint32) {
	payload := ssh.Marshal(struct{ Status uint32 }{status})
	_, _ = ch.SendRequest("exit-status", false, payload) // the client may be gone already
}
