package gitserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// DefaultServerConfig returns the Git configuration every server-side git process gets (through
// GIT_CONFIG_COUNT, so it applies to repositories the caller created too, and wins over their own
// config files). Options.GitConfig entries come after it and so override it.
//
//   - http.receivepack=true: pushes are allowed over HTTP. The server also sets REMOTE_USER after
//     checking the password, which http-backend requires when this key is unset.
//   - receive.autogc=false and gc.autoDetach=false: after each push the server itself runs
//     `git gc --auto` in the background, one at a time per repository, and Stop waits for it.
//     gc --auto repacks once a repository holds more than gc.autoPackLimit (50) packs or gc.auto
//     (6,700) loose objects. Git's own way runs it inside receive-pack: in the foreground it
//     stalls the push that triggers it for the whole repack; detached, it leaves a process that
//     outlives the request and races Close removing the directory. Pass "gc.auto=0" to let
//     packs accumulate instead.
//   - core.fsync=none: durability is pointless in a temporary directory.
//
// receive.unpackLimit keeps its default (100): a push of fewer objects is stored as loose
// objects, a larger one as a pack. Measured with BenchmarkHTTPReceivePack (10,000 files, 150
// pushes of 64 changed files, ~450 objects each, git CLI client, 2 vCPUs), push latency median /
// max: this configuration 143 / 198 ms, ending with at most 51 packs; gc inside receive-pack
// 150 / 1,046 ms (a repack every 50 pushes); no gc 160 / 347 ms with one more pack per push;
// fsync of packs (git's default) 159 / 426 ms; every push unpacked to loose objects 290 /
// 1,670 ms.
func DefaultServerConfig() []string {
	return []string{
		"http.receivepack=true",
		"receive.autogc=false",
		"gc.autoDetach=false",
		"core.fsync=none",
	}
}

// execPath is `git --exec-path`, where git-http-backend, git-upload-pack and git-receive-pack live.
var execPath = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", fmt.Errorf("find git's exec path (`git --exec-path`): %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("find git's exec path: `git --exec-path` printed nothing")
	}
	return dir, nil
})

// ExecPath is the directory of git's helper programs, as `git --exec-path` reports it.
func ExecPath() (string, error) { return execPath() }

// GitEnv is an environment for git processes that ignores the machine's Git configuration:
// os.Environ without any GIT_* or proxy variable (GIT_SSL_CAINFO, for one, would override
// http.sslCAInfo), plus HOME and XDG_CONFIG_HOME under home, no system or global config file, no
// terminal prompts, and a fixed author and committer so that `git commit` works. Use it for the
// git CLI in tests, with a home inside a temporary directory.
func GitEnv(home string) []string {
	env := make([]string, 0, len(os.Environ())+12)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch upper := strings.ToUpper(name); {
		case strings.HasPrefix(upper, "GIT_"),
			upper == "HOME", upper == "XDG_CONFIG_HOME",
			upper == "HTTP_PROXY", upper == "HTTPS_PROXY", upper == "ALL_PROXY", upper == "NO_PROXY",
			upper == "SSH_AUTH_SOCK":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=gitserver test",
		"GIT_AUTHOR_EMAIL=gitserver@example.invalid",
		"GIT_COMMITTER_NAME=gitserver test",
		"GIT_COMMITTER_EMAIL=gitserver@example.invalid",
	)
}

// configEnv turns "key=value" entries into GIT_CONFIG_COUNT/KEY/VALUE variables.
func configEnv(entries []string) ([]string, error) {
	env := []string{"GIT_CONFIG_COUNT=" + strconv.Itoa(len(entries))}
	for i, entry := range entries {
		key, value, ok := strings.Cut(entry, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("git config entry %q: want key=value", entry)
		}
		n := strconv.Itoa(i)
		env = append(env, "GIT_CONFIG_KEY_"+n+"="+key, "GIT_CONFIG_VALUE_"+n+"="+value)
	}
	return env, nil
}

// store is what both servers share: the directory of bare repositories, a private temporary
// directory (HOME of the git processes, certificates) and the environment of server-side git.
type store struct {
	root  string   // bare repositories live here
	state string   // private temporary directory, removed by remove; holds root unless the caller gave one
	env   []string // for every server-side git process
	gc    *maintenance
}

func newStore(dir string, extraConfig []string) (*store, error) {
	if _, err := execPath(); err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "kratix-gitserver-")
	if err != nil {
		return nil, fmt.Errorf("create the server's temporary directory: %w", err)
	}
	s := &store{state: state}
	fail := func(err error) (*store, error) {
		return nil, errors.Join(err, s.remove())
	}
	home := filepath.Join(state, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return fail(fmt.Errorf("create the git processes' home: %w", err))
	}
	if dir == "" {
		s.root = filepath.Join(state, "repos")
		if err := os.Mkdir(s.root, 0o700); err != nil {
			return fail(fmt.Errorf("create the repository root: %w", err))
		}
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fail(fmt.Errorf("repository root %s: %w", dir, err))
		}
		if fi, err := os.Stat(abs); err != nil {
			return fail(fmt.Errorf("repository root: %w", err))
		} else if !fi.IsDir() {
			return fail(fmt.Errorf("repository root %s is not a directory", abs))
		}
		s.root = abs
	}
	cfg, err := configEnv(append(DefaultServerConfig(), extraConfig...))
	if err != nil {
		return fail(err)
	}
	s.env = append(GitEnv(home), cfg...)
	s.gc = newMaintenance(s.env, state)
	return s, nil
}

// Root is the directory of the served bare repositories.
func (s *store) Root() string { return s.root }

// remove deletes the private directory, and the repository root when the server created it.
func (s *store) remove() error {
	return os.RemoveAll(s.state)
}

// repoPath maps a repository name (a slash-separated relative path such as "org/state.git") to a
// directory under the root. It refuses absolute names, "." and ".." components, and anything that
// would leave the root.
func (s *store) repoPath(name string) (string, error) {
	rel, err := cleanRepoName(name)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(rel)), nil
}

func cleanRepoName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty repository name")
	}
	if strings.ContainsAny(name, "\x00\\") {
		return "", fmt.Errorf("repository name %q: invalid character", name)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("repository name %q: must be relative", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("repository name %q: empty, . or .. component", name)
		}
	}
	return name, nil
}

// existingRepo resolves name to a directory inside the root, following symbolic links, and
// refuses it unless it exists and stays inside the root.
func (s *store) existingRepo(name string) (string, error) {
	path, err := s.repoPath(name)
	if err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(s.root)
	if err != nil {
		return "", fmt.Errorf("resolve the repository root: %w", err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("repository %q: %w", name, os.ErrNotExist)
	}
	rel, err := filepath.Rel(realRoot, real)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("repository %q resolves outside the root", name)
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("repository %q: %w", name, os.ErrNotExist)
	}
	return real, nil
}

// CreateRepo creates an empty bare repository (`git init --bare -b defaultBranch`) named like
// "state.git" or "org/state.git" under Root, and returns its path. It refuses existing ones.
func (s *store) CreateRepo(name, defaultBranch string) (string, error) {
	path, err := s.repoPath(name)
	if err != nil {
		return "", err
	}
	if defaultBranch == "" {
		return "", fmt.Errorf("create repository %q: empty default branch", name)
	}
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("create repository %q: %w", name, os.ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create repository %q: %w", name, err)
	}
	if _, err := s.Git(context.Background(), "", "init", "--quiet", "--bare", "-b", defaultBranch, path); err != nil {
		return "", fmt.Errorf("create repository %q: %w", name, err)
	}
	return path, nil
}

// Git runs the git CLI with the server's environment, on the bare repository repo when it is not
// empty (`git --git-dir <repo> args...`), and returns its standard output; e.g. Git(ctx,
// "state.git", "log", "--format=%s", "main").
func (s *store) Git(ctx context.Context, repo string, args ...string) (string, error) {
	what := "git"
	if len(args) > 0 {
		what = "git " + args[0]
	}
	if repo != "" {
		path, err := s.existingRepo(repo)
		if err != nil {
			return "", err
		}
		args = append([]string{"--git-dir", path}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = s.env
	cmd.Dir = s.state
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", what, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// testLogWriter sends each write to t.Log.
type testLogWriter struct{ t TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
