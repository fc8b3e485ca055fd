package git

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/statestore"
)

// repoFixture is a bare repository behind a real git HTTP server, and a writer for it. What landed
// is always checked with the git CLI on the bare repository, never with the writer under test.
type repoFixture struct {
	server *gitserver.HTTPServer
	repo   string
	writer *Writer
}

func newRepoFixture(t *testing.T, opts Options) *repoFixture {
	t.Helper()
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	f := &repoFixture{server: server, repo: "state.git"}
	if _, err := server.CreateRepo(f.repo, "main"); err != nil {
		t.Fatal(err)
	}
	f.writer = f.newWriter(t, opts)
	return f
}

func (f *repoFixture) newWriter(t *testing.T, opts Options) *Writer {
	t.Helper()
	opts.URL = f.server.URL(f.repo)
	opts.Insecure = true // basic auth over the loopback server's plain http
	if opts.Auth.Username == "" && len(opts.Auth.SSHPrivateKey) == 0 {
		opts.Auth = Auth{Username: f.server.Username(), Password: f.server.Password()}
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close writer: %v", err)
		}
	})
	return w
}

// git runs the git CLI on the bare repository.
func (f *repoFixture) git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := f.server.Git(testContext(t), f.repo, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(out)
}

// files lists main's files with their contents.
func (f *repoFixture) files(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	list := f.git(t, "ls-tree", "-r", "--name-only", "main")
	if list == "" {
		return out
	}
	for _, p := range strings.Split(list, "\n") {
		out[p] = f.git(t, "show", "main:"+p)
	}
	return out
}

func (f *repoFixture) commits(t *testing.T) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(f.git(t, "rev-list", "--count", "main"), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fsck checks the repository with git itself.
func (f *repoFixture) fsck(t *testing.T) {
	t.Helper()
	f.git(t, "fsck", "--full", "--strict", "--no-dangling")
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func change(dir string, kv ...string) statestore.Change {
	c := statestore.Change{Dir: dir, Origin: statestore.Origin{Action: statestore.ActionUpdate, Destination: strings.Split(dir, "/")[0], Promise: "p"}}
	for i := 0; i < len(kv); i += 2 {
		c.Files = append(c.Files, statestore.File{Path: dir + "/" + kv[i], Content: []byte(kv[i+1])})
	}
	return c
}

func TestEmptyRepositoryGetsItsBranch(t *testing.T) {
	f := newRepoFixture(t, Options{Branch: "main"})
	res, err := f.writer.Apply(testContext(t), change("dev/resources/ns/p/r/pipe/5058f", "cm.yaml", "one"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || f.git(t, "rev-parse", "main") != res.Version {
		t.Errorf("result %+v; main is at %s", res, f.git(t, "rev-parse", "main"))
	}
	if got := f.files(t); len(got) != 1 || got["dev/resources/ns/p/r/pipe/5058f/cm.yaml"] != "one" {
		t.Errorf("files %v", got)
	}
	f.fsck(t)
}

func TestReplaceAddDeleteAndNoEmptyCommits(t *testing.T) {
	f := newRepoFixture(t, Options{Root: "platform", Author: Author{Name: "Platform Bot", Email: "bot@example.com"}})
	ctx := testContext(t)
	dir := "dev/resources/default/app/hello/render/5058f"
	steps := []struct {
		name    string
		change  statestore.Change
		changed bool
		want    map[string]string
	}{
		{"add nested files", change(dir, "cm.yaml", "v1", "sub/deep/x.yaml", "x"), true,
			map[string]string{"platform/" + dir + "/cm.yaml": "v1", "platform/" + dir + "/sub/deep/x.yaml": "x"}},
		{"a neighbour", change(dir+"x", "keep.yaml", "keep"), true,
			map[string]string{"platform/" + dir + "/cm.yaml": "v1", "platform/" + dir + "/sub/deep/x.yaml": "x", "platform/" + dir + "x/keep.yaml": "keep"}},
		{"identical content: no commit", change(dir, "cm.yaml", "v1", "sub/deep/x.yaml", "x"), false,
			map[string]string{"platform/" + dir + "/cm.yaml": "v1", "platform/" + dir + "/sub/deep/x.yaml": "x", "platform/" + dir + "x/keep.yaml": "keep"}},
		{"replace drops what the new output lacks", change(dir, "cm.yaml", "v2"), true,
			map[string]string{"platform/" + dir + "/cm.yaml": "v2", "platform/" + dir + "x/keep.yaml": "keep"}},
		{"delete the directory", statestore.Change{Dir: dir, Origin: statestore.Origin{Action: statestore.ActionDelete, Destination: "dev"}}, true,
			map[string]string{"platform/" + dir + "x/keep.yaml": "keep"}},
		{"exact files and removals", statestore.Change{Files: []statestore.File{{Path: "dev/.kratix/wp.state", Content: []byte("a.yaml")}}, Remove: []string{dir + "x/keep.yaml"}}, true,
			map[string]string{"platform/dev/.kratix/wp.state": "a.yaml"}},
		{"removing what is gone: no commit", statestore.Change{Remove: []string{dir}}, false,
			map[string]string{"platform/dev/.kratix/wp.state": "a.yaml"}},
	}
	commits := 0
	for _, s := range steps {
		res, err := f.writer.Apply(ctx, s.change)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.changed {
			commits++
		}
		if res.Changed != s.changed {
			t.Errorf("%s: changed=%v, want %v", s.name, res.Changed, s.changed)
		}
		if head := f.git(t, "rev-parse", "main"); res.Version != head {
			t.Errorf("%s: version %s, but main is at %s", s.name, res.Version, head)
		}
		if got := f.files(t); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("%s: files\n got %v\nwant %v", s.name, got, s.want)
		}
		if n := f.commits(t); n != commits {
			t.Errorf("%s: %d commits, want %d", s.name, n, commits)
		}
	}
	if author := f.git(t, "log", "-1", "--format=%an <%ae>", "main"); author != "Platform Bot <bot@example.com>" {
		t.Errorf("author %q", author)
	}
	if data, err := f.writer.Read(ctx, "dev/.kratix/wp.state"); err != nil || string(data) != "a.yaml" {
		t.Errorf("Read = %q, %v", data, err)
	}
	if _, err := f.writer.Read(ctx, dir+"/cm.yaml"); !errors.Is(err, statestore.ErrNotFound) {
		t.Errorf("Read of a deleted file: %v, want ErrNotFound", err)
	}
	f.fsck(t)
}

// A removal names a file: when the path is now a directory of another placement's files (filepath
// mode none: its state file lists "foo", another wrote "foo/bar.yaml"), the directory stays.
func TestRemoveLeavesADirectoryAlone(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, statestore.Change{Files: []statestore.File{{Path: "dev/foo/bar.yaml", Content: []byte("theirs")}}}); err != nil {
		t.Fatal(err)
	}
	commits := f.commits(t)
	res, err := f.writer.Apply(ctx, statestore.Change{Remove: []string{"dev/foo"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || f.commits(t) != commits {
		t.Errorf("removing the file dev/foo changed the store (%+v)", res)
	}
	if got := f.files(t); got["dev/foo/bar.yaml"] != "theirs" {
		t.Errorf("after removing dev/foo the store holds %v", got)
	}
}

func TestHistoryTellsWhatChanged(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	origin := statestore.Origin{Action: statestore.ActionUpdate, Destination: "dev-cluster-1", Promise: "appconfig",
		ResourceNamespace: "default", Resource: "hello", Pipeline: "render", WorkPlacement: "appconfig-hello.dev-cluster-1"}
	c := change("dev-cluster-1/resources/default/appconfig/hello/render/5058f", "cm.yaml", "x")
	c.Origin = origin
	if _, err := f.writer.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	other := change("prod-cluster-1/dependencies/p/5058f/static", "p-dependencies.yaml", "y")
	other.Origin.Destination = "prod-cluster-1"
	if _, err := f.writer.Apply(ctx, other); err != nil {
		t.Fatal(err)
	}
	if subjects := f.git(t, "log", "--format=%s", "main", "--", "dev-cluster-1"); subjects != "kratix: update dev-cluster-1: appconfig/default/hello (render)" {
		t.Errorf("git log -- dev-cluster-1 shows:\n%s", subjects)
	}
	trailers := f.git(t, "log", "-1", "--format=%(trailers:only,unfold)", "main", "--", "dev-cluster-1")
	for _, want := range []string{"Kratix-Destination: dev-cluster-1", "Kratix-Promise: appconfig", "Kratix-Resource: default/hello",
		"Kratix-Pipeline: render", "Kratix-WorkPlacement: appconfig-hello.dev-cluster-1", "Kratix-Action: update"} {
		if !strings.Contains(trailers, want) {
			t.Errorf("git does not read the trailer %q from:\n%s", want, trailers)
		}
	}
}

// TestConcurrentWritersLoseNothing runs 64 goroutines writing distinct directories at once: every
// file lands, in one linear history, in fewer commits than writes (group commit).
func TestConcurrentWritersLoseNothing(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	const writers, rounds = 64, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				dir := fmt.Sprintf("dest-%d/resources/default/p/req-%d/pipe/5058f", w%4, w)
				if _, err := f.writer.Apply(ctx, change(dir, "f.yaml", fmt.Sprintf("round %d", r))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := f.files(t)
	for w := range writers {
		p := fmt.Sprintf("dest-%d/resources/default/p/req-%d/pipe/5058f/f.yaml", w%4, w)
		if got[p] != fmt.Sprintf("round %d", rounds-1) {
			t.Errorf("%s holds %q, want the last round", p, got[p])
		}
	}
	commits := f.commits(t)
	if commits >= writers*rounds {
		t.Errorf("%d commits for %d writes: concurrent writes were not batched", commits, writers*rounds)
	}
	if merges := f.git(t, "rev-list", "--min-parents=2", "main"); merges != "" {
		t.Errorf("history is not linear: merges %s", merges)
	}
	f.fsck(t)
	t.Logf("%d writes in %d commits", writers*rounds, commits)
}

// TestOthersCommitsAreKept pushes a commit from outside during a burst: the writer replays its
// batch on top of it instead of losing it, and never force-pushes.
func TestOthersCommitsAreKept(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, change("dev/a", "a.yaml", "a")); err != nil {
		t.Fatal(err)
	}
	// Someone else commits straight into the bare repository, behind the writer's back.
	external := f.commitExternally(t, "README.md", "kept")

	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.writer.Apply(ctx, change(fmt.Sprintf("dev/w%d", i), "f.yaml", "x")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := f.files(t)
	if got["README.md"] != "kept" {
		t.Errorf("the external commit's file is gone: %v", got)
	}
	if len(got) != 18 {
		t.Errorf("%d files, want 18: %v", len(got), got)
	}
	f.git(t, "merge-base", "--is-ancestor", external, "main") // fails the test unless main descends from it
	f.fsck(t)
}

// commitExternally makes a commit on main with the git CLI, straight in the bare repository, as
// another client would, and returns its hash.
func (f *repoFixture) commitExternally(t *testing.T, path, content string) string {
	t.Helper()
	return f.editExternally(t, func(run gitRun) {
		blob := run(content, "hash-object", "-w", "--stdin")
		run("", "update-index", "--add", "--cacheinfo", "100644,"+blob+","+path)
	})
}

// removeExternally commits the removal of a file on main, as someone running `git rm` and
// pushing would, and returns the commit's hash.
func (f *repoFixture) removeExternally(t *testing.T, path string) string {
	t.Helper()
	// Mode 0 in --index-info removes the entry; unlike --force-remove it needs no work tree.
	return f.editExternally(t, func(run gitRun) {
		run("0 0000000000000000000000000000000000000000\t"+path+"\n", "update-index", "--index-info")
	})
}

// gitRun runs the git CLI on the bare repository with stdin and returns its trimmed output.
type gitRun func(stdin string, args ...string) string

// editExternally commits on main what edit does to an index of main's tree.
func (f *repoFixture) editExternally(t *testing.T, edit func(gitRun)) string {
	t.Helper()
	gitDir := filepath.Join(f.server.Root(), f.repo)
	tmp := t.TempDir()
	run := func(stdin string, args ...string) string {
		cmd := exec.CommandContext(testContext(t), "git", append([]string{"--git-dir", gitDir}, args...)...)
		cmd.Env = append(gitserver.GitEnv(tmp), "GIT_INDEX_FILE="+filepath.Join(tmp, "index"))
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	head := run("", "rev-parse", "main")
	run("", "read-tree", head)
	edit(run)
	tree := run("", "write-tree")
	commit := run("", "-c", "user.name=someone", "-c", "user.email=someone@example.com", "commit-tree", tree, "-p", head, "-m", "external change")
	run("", "update-ref", "refs/heads/main", commit, head)
	return commit
}

// TestServerDownMidBurst stops the server while writers are busy: they get transient errors, and
// once it is back their retries succeed with nothing lost.
func TestServerDownMidBurst(t *testing.T) {
	f := newRepoFixture(t, Options{Timeout: 5 * time.Second})
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, change("dev/seed", "f.yaml", "seed")); err != nil {
		t.Fatal(err)
	}
	if err := f.server.Stop(); err != nil {
		t.Fatal(err)
	}
	var transient, other sync.Map
	var wg sync.WaitGroup
	// Should the test fail before the server is back, the writers must stop retrying and end
	// before the cleanups close what they use.
	ctx, cancel := context.WithCancel(ctx)
	defer wg.Wait()
	defer cancel()
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := change(fmt.Sprintf("dev/w%d", i), "f.yaml", "x")
			// A caller that retries transient errors, as the controllers' requeues do; not a poll of
			// the test's, and testenv.Eventually, which fails the test, cannot run off the test's
			// goroutine.
			for {
				_, err := f.writer.Apply(ctx, c)
				if err == nil {
					return
				}
				if !statestore.Retryable(err) {
					other.Store(i, err)
					return
				}
				transient.Store(i, err)
				if ctx.Err() != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// Wait until every writer has seen the outage, then bring the server back.
	testenv.Eventually(t, "every writer sees a transient error while the server is down", 30*time.Second, 10*time.Millisecond, func() error {
		if n := count(&transient); n < 8 {
			return fmt.Errorf("%d of 8 writers did", n)
		}
		return nil
	})
	if err := f.server.Restart(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	other.Range(func(k, v any) bool { t.Errorf("writer %v: %v", k, v); return true })
	if got := f.files(t); len(got) != 9 {
		t.Errorf("%d files after the outage, want 9: %v", len(got), got)
	}
	f.fsck(t)
}

func count(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// TestFileAndDirectoryNeverReplaceEachOther: a change that would write a file where the store
// has a directory, or a directory where it has a file, fails with ErrConflict (retryable: the
// owner may be removing it) and touches nothing; the change committed with it goes through.
func TestFileAndDirectoryNeverReplaceEachOther(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	seed := statestore.Change{Files: []statestore.File{
		{Path: "dev/foo/bar.yaml", Content: []byte("theirs")},
		{Path: "dev/file", Content: []byte("a file")},
	}}
	if _, err := f.writer.Apply(ctx, seed); err != nil {
		t.Fatal(err)
	}
	for _, c := range []statestore.Change{
		{Files: []statestore.File{{Path: "dev/foo", Content: []byte("mine")}}},
		{Files: []statestore.File{{Path: "dev/file/inner.yaml", Content: []byte("mine")}}},
		{Dir: "dev/file", Files: []statestore.File{{Path: "dev/file/a.yaml", Content: []byte("mine")}}},
	} {
		var wg sync.WaitGroup
		var sibling error
		wg.Go(func() { _, sibling = f.writer.Apply(ctx, change("dev/ok", "ok.yaml", c.Files[0].Path)) })
		_, err := f.writer.Apply(ctx, c)
		wg.Wait()
		if !errors.Is(err, statestore.ErrConflict) {
			t.Errorf("Apply(%+v) = %v, want ErrConflict", c, err)
		}
		if sibling != nil {
			t.Errorf("the change beside %+v failed: %v", c, sibling)
		}
		got := f.files(t)
		if got["dev/foo/bar.yaml"] != "theirs" || got["dev/file"] != "a file" || got["dev/ok/ok.yaml"] != c.Files[0].Path {
			t.Errorf("after Apply(%+v) the store holds %v", c, got)
		}
	}
}

func TestRefusals(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	for _, c := range []statestore.Change{
		{Dir: "dev", Files: []statestore.File{{Path: "dev/../../etc/passwd"}}},
		{Files: []statestore.File{{Path: "/abs.yaml"}}},
		{Files: []statestore.File{{Path: "dev/.git/config"}}},
		{Remove: []string{"../x"}},
	} {
		if _, err := f.writer.Apply(ctx, c); !errors.Is(err, statestore.ErrInvalidPath) {
			t.Errorf("Apply(%+v) = %v, want ErrInvalidPath", c, err)
		}
	}
	if branches := f.git(t, "branch", "--list"); branches != "" {
		t.Errorf("refused changes created %q", branches)
	}

	wrong := f.newWriter(t, Options{Auth: Auth{Username: f.server.Username(), Password: "wrong-" + f.server.Password()}})
	for name, call := range map[string]func() error{
		"Apply":    func() error { _, err := wrong.Apply(ctx, change("dev/x", "a", "a")); return err },
		"Validate": func() error { return wrong.Validate(ctx) },
	} {
		err := call()
		if !errors.Is(err, statestore.ErrAuthentication) || statestore.Retryable(err) {
			t.Errorf("%s with a wrong password: %v, want a non-retryable authentication error", name, err)
		}
		if err != nil && strings.Contains(err.Error(), f.server.Password()) {
			t.Errorf("%s error reveals the password: %v", name, err)
		}
	}
	if err := f.writer.Validate(ctx); err != nil {
		t.Errorf("Validate with the right password: %v", err)
	}

	missing, err := New(Options{URL: f.server.URL("missing.git"), Auth: Auth{Username: f.server.Username(), Password: f.server.Password()}, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	if err := missing.Validate(ctx); !errors.Is(err, statestore.ErrNotFound) {
		t.Errorf("Validate of a missing repository: %v, want ErrNotFound", err)
	}

	for _, opts := range []Options{
		{},
		{URL: "ftp://example.com/x.git"},
		{URL: "https://user:secret@example.com/x.git"},
		{URL: "ssh://git@example.com/x.git"},
		{URL: "ssh://git@example.com/x.git", Auth: Auth{SSHPrivateKey: []byte("not a key"), SSHKnownHosts: []byte("x")}},
		{URL: "https://example.com/x.git", Auth: Auth{SSHPrivateKey: []byte("k")}},
		{URL: "https://example.com/x.git", Root: "../up"},
	} {
		w, err := New(opts)
		if err == nil {
			w.Close()
			t.Errorf("New(%+v) accepted", opts)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("New error reveals a password: %v", err)
		}
	}
}

// TestCompaction forces the in-memory clone past its budget after every batch: the writer keeps
// only what the pushed head needs, loses nothing, and does not fetch the repository again.
func TestCompaction(t *testing.T) {
	f := newRepoFixture(t, Options{CompactBytes: 1})
	ctx := testContext(t)
	for i := range 5 {
		if _, err := f.writer.Apply(ctx, change(fmt.Sprintf("dev/w%d", i), "f.yaml", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		// The same file, rewritten: its old versions are what compaction leaves out.
		if _, err := f.writer.Apply(ctx, change("dev/same", "f.yaml", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.files(t); len(got) != 6 || f.commits(t) != 10 || got["dev/same/f.yaml"] != "4" {
		t.Errorf("after compactions: %d files in %d commits: %v", len(got), f.commits(t), got)
	}
	// The first write found an empty repository (nothing to fetch) and no later one fetched.
	if n := f.server.Stats().UploadPacks; n != 0 {
		t.Errorf("%d fetches: the writer cloned again instead of compacting", n)
	}
	if err := f.writer.Close(); err != nil {
		t.Fatal(err)
	}
	// What the head needs: its commit, the trees /, dev, dev/w0..w4 (dev/same's is dev/w4's:
	// the same f.yaml) and the blobs "0".."4".
	if n := len(f.writer.snap.store.Objects); n != 1+7+5 {
		t.Errorf("the compacted clone holds %d objects, want the head's 13", n)
	}
	f.fsck(t)

	// A new writer on the compacted history writes on from it.
	w := f.newWriter(t, Options{CompactBytes: 1})
	if _, err := w.Apply(ctx, change("dev/same", "f.yaml", "again")); err != nil {
		t.Fatal(err)
	}
	if got := f.files(t); got["dev/same/f.yaml"] != "again" {
		t.Errorf("after a second writer: %v", got)
	}
}

// TestCompactionKeepsTheCloneBudget: the engine's own writes grow the branch past the clone
// budget; compaction refuses it as a clone would, and the write says why, instead of the
// writer holding ever more.
func TestCompactionKeepsTheCloneBudget(t *testing.T) {
	f := newRepoFixture(t, Options{CompactBytes: 1, CloneBudget: Budget{TotalBytes: 4 << 10}})
	ctx := testContext(t)
	content := strings.Repeat("x", 1000)
	var err error
	written := 0
	for i := 0; i < 10 && err == nil; i++ {
		if _, err = f.writer.Apply(ctx, change(fmt.Sprintf("dev/w%d", i), "f.yaml", content+fmt.Sprint(i))); err == nil {
			written++
		}
	}
	if err == nil || !strings.Contains(err.Error(), "too large to hold in memory") {
		t.Fatalf("after %d writes of 1 KB within a budget of 4 KiB: %v; want the clone budget's refusal", written, err)
	}
	if written < 3 {
		t.Errorf("only %d writes passed before the budget refused", written)
	}
}

// TestCancelledChangesLeaveNoUnpushedObjects: a batch whose changes cancel out (a file written
// and written back) stores a blob it never pushes. The writer drops it by compacting, without
// fetching again; its next write of that very content must send the blob, which the server's
// check of the pushed objects would refuse as missing otherwise.
func TestCancelledChangesLeaveNoUnpushedObjects(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, change("dev/a", "f.yaml", "one")); err != nil {
		t.Fatal(err)
	}
	// A push that waits until "two" and "one" are queued, so that they form the next batch, in
	// that order (a channel's senders are served first come, first served).
	release := f.holdFirstPush()
	var wg sync.WaitGroup
	results := make([]statestore.Result, 3)
	errs := make([]error, 3)
	for i, c := range []statestore.Change{change("dev/b", "f.yaml", "held"), change("dev/a", "f.yaml", "two"), change("dev/a", "f.yaml", "one")} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.writer.Apply(ctx, c)
		}()
		time.Sleep(100 * time.Millisecond)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if results[1].Changed || results[2].Changed {
		t.Fatalf("the cancelling writes were not batched together: changed %v and %v", results[1].Changed, results[2].Changed)
	}
	if _, err := f.writer.Apply(ctx, change("dev/a", "f.yaml", "two")); err != nil {
		t.Fatalf("writing the content of the cancelled change: %v", err)
	}
	if got := f.files(t)["dev/a/f.yaml"]; got != "two" {
		t.Errorf("dev/a/f.yaml is %q, want two", got)
	}
	if n := f.server.Stats().UploadPacks; n != 0 {
		t.Errorf("%d fetches: the writer cloned again instead of compacting", n)
	}
	f.fsck(t)
}

// TestValidateDoesNotRefetch revalidates a writer that holds a clone: it checks push access
// without cloning again, and a wrong password is still caught by a fresh writer.
func TestValidateDoesNotRefetch(t *testing.T) {
	f := newRepoFixture(t, Options{})
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, change("dev/a", "a.yaml", "a")); err != nil {
		t.Fatal(err)
	}
	if err := f.writer.Validate(ctx); err != nil {
		t.Fatal(err)
	}
	fetches := f.server.Stats().UploadPacks
	for range 3 {
		if err := f.writer.Validate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.server.Stats().UploadPacks; n != fetches {
		t.Errorf("three revalidations fetched the repository %d times, want none", n-fetches)
	}
}
