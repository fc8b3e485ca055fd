package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"kratix.dev/kratix/internal/s3server"
	"kratix.dev/kratix/statestore"
)

// counter counts the requests a writer sends, by method.
type counter struct{ puts, heads, deletes atomic.Int64 }

func (c *counter) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		switch {
		case r.Method == http.MethodPut:
			c.puts.Add(1)
		case r.Method == http.MethodHead:
			c.heads.Add(1)
		case r.Method == http.MethodDelete || (r.Method == http.MethodPost && r.URL.Query().Has("delete")):
			c.deletes.Add(1)
		}
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type fixture struct {
	server *s3server.Server
	bucket string
	count  *counter
	writer *Writer
}

func newFixture(t *testing.T, server *s3server.Server, root string) *fixture {
	t.Helper()
	ctx := testContext(t)
	bucket := fmt.Sprintf("kratix-%d", time.Now().UnixNano())
	if err := server.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	f := &fixture{server: server, bucket: bucket, count: &counter{}}
	f.writer = f.newWriter(t, root)
	return f
}

func (f *fixture) newWriter(t *testing.T, root string) *Writer {
	t.Helper()
	w, err := New(Options{Endpoint: f.server.Endpoint, Bucket: f.bucket, Root: root, Insecure: true,
		AccessKeyID: f.server.AccessKey, SecretAccessKey: f.server.SecretKey, WrapTransport: f.count.wrap})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// objects lists the bucket with a plain client, not the writer under test.
func (f *fixture) objects(t *testing.T) map[string]string {
	t.Helper()
	ctx := testContext(t)
	client, err := f.server.Client()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for obj := range client.ListObjects(ctx, f.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		o, err := client.GetObject(ctx, f.bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(o)
		if err != nil {
			t.Fatal(err)
		}
		out[obj.Key] = string(data)
	}
	return out
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func files(kv ...string) []statestore.File {
	var out []statestore.File
	for i := 0; i < len(kv); i += 2 {
		out = append(out, statestore.File{Path: kv[i], Content: []byte(kv[i+1])})
	}
	return out
}

func TestReplaceDirectory(t *testing.T) {
	server := s3server.New(t)
	f := newFixture(t, server, "platform")
	ctx := testContext(t)
	dir := "dev/resources/default/app/hello/render/5058f"

	first, err := f.writer.Apply(ctx, statestore.Change{Dir: dir, Files: files(dir+"/cm.yaml", "v1", dir+"/nested/deep/x.yaml", "x")})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Changed || first.Version == "" {
		t.Errorf("first write: %+v, want changed with a version", first)
	}
	// A neighbour whose name shares the prefix must survive the replacement.
	if _, err := f.writer.Apply(ctx, statestore.Change{Dir: dir + "x", Files: files(dir+"x/keep.yaml", "keep")}); err != nil {
		t.Fatal(err)
	}
	second, err := f.writer.Apply(ctx, statestore.Change{Dir: dir, Files: files(dir+"/cm.yaml", "v2", dir+"/new.yaml", "new")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"platform/" + dir + "/cm.yaml":    "v2",
		"platform/" + dir + "/new.yaml":   "new",
		"platform/" + dir + "x/keep.yaml": "keep",
	}
	if got := f.objects(t); !maps.Equal(got, want) {
		t.Errorf("bucket holds %v, want %v", got, want)
	}
	if !second.Changed || second.Version == first.Version {
		t.Errorf("second write: %+v after %+v, want a new version", second, first)
	}
	if data, err := f.writer.Read(ctx, dir+"/cm.yaml"); err != nil || string(data) != "v2" {
		t.Errorf("Read = %q, %v", data, err)
	}
	if _, err := f.writer.Read(ctx, dir+"/gone.yaml"); !errors.Is(err, statestore.ErrNotFound) {
		t.Errorf("Read of a missing file: %v, want ErrNotFound", err)
	}

	// Removing the directory leaves its neighbour.
	if _, err := f.writer.Apply(ctx, statestore.Change{Dir: dir, Origin: statestore.Origin{Action: statestore.ActionDelete}}); err != nil {
		t.Fatal(err)
	}
	if got := f.objects(t); !maps.Equal(got, map[string]string{"platform/" + dir + "x/keep.yaml": "keep"}) {
		t.Errorf("after removing the directory the bucket holds %v", got)
	}
}

func TestUnchangedContentIsNotUploaded(t *testing.T) {
	server := s3server.New(t)
	f := newFixture(t, server, "")
	ctx := testContext(t)
	var fs []statestore.File
	for i := range 50 {
		fs = append(fs, statestore.File{Path: fmt.Sprintf("dev/resources/r/%02d.yaml", i), Content: []byte(fmt.Sprint("content ", i))})
	}
	change := statestore.Change{Dir: "dev/resources/r", Files: fs}
	first, err := f.writer.Apply(ctx, change)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count.puts.Load(); n != 50 {
		t.Fatalf("the first write made %d PUTs, want 50", n)
	}

	cases := []struct {
		name      string
		writer    *Writer
		wantHeads bool
	}{
		{"the same writer knows the ETags it wrote", f.writer, false},
		{"a new writer reads the content hash from metadata", f.newWriter(t, ""), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.count.puts.Store(0)
			f.count.heads.Store(0)
			res, err := tc.writer.Apply(ctx, change)
			if err != nil {
				t.Fatal(err)
			}
			if n := f.count.puts.Load(); n != 0 {
				t.Errorf("rewriting identical content made %d PUTs, want 0", n)
			}
			if res.Changed || res.Version != first.Version {
				t.Errorf("rewrite: %+v, want unchanged at version %s", res, first.Version)
			}
			if heads := f.count.heads.Load(); (heads > 0) != tc.wantHeads {
				t.Errorf("%d metadata reads", heads)
			}
		})
	}

	// Someone changes an object behind the writer's back: its ETag changes, so the writer looks
	// again and restores it.
	client, err := server.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, f.bucket, "dev/resources/r/07.yaml", strings.NewReader("tampered"), 8, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	f.count.puts.Store(0)
	res, err := f.writer.Apply(ctx, change)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count.puts.Load(); n != 1 || !res.Changed {
		t.Errorf("after a change behind its back the writer made %d PUTs (changed=%v), want 1", n, res.Changed)
	}
	if got := f.objects(t)["dev/resources/r/07.yaml"]; got != "content 7" {
		t.Errorf("the tampered object holds %q", got)
	}
}

func TestRefusals(t *testing.T) {
	server := s3server.New(t)
	f := newFixture(t, server, "")
	ctx := testContext(t)

	for _, change := range []statestore.Change{
		{Dir: "dev", Files: files("dev/../../etc/passwd", "x")},
		{Files: files("/abs.yaml", "x")},
		{Dir: "dev/a", Files: files("dev/b/x.yaml", "x")},
		{Remove: []string{"../other"}},
	} {
		if _, err := f.writer.Apply(ctx, change); !errors.Is(err, statestore.ErrInvalidPath) {
			t.Errorf("Apply(%+v) = %v, want ErrInvalidPath", change, err)
		}
	}
	if got := f.objects(t); len(got) != 0 {
		t.Errorf("refused changes wrote %v", slices.Collect(maps.Keys(got)))
	}

	wrong, err := New(Options{Endpoint: server.Endpoint, Bucket: f.bucket, Insecure: true, AccessKeyID: server.AccessKey, SecretAccessKey: "not-the-secret-" + server.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Apply":    func() error { _, err := wrong.Apply(ctx, statestore.Change{Files: files("a.yaml", "a")}); return err },
		"Validate": func() error { return wrong.Validate(ctx) },
	} {
		err := call()
		if !errors.Is(err, statestore.ErrAuthentication) {
			t.Errorf("%s with a wrong secret: %v, want ErrAuthentication", name, err)
		}
		if err != nil && strings.Contains(err.Error(), server.SecretKey) {
			t.Errorf("%s error reveals the secret: %v", name, err)
		}
	}

	missing, err := New(Options{Endpoint: server.Endpoint, Bucket: "no-such-bucket", Insecure: true, AccessKeyID: server.AccessKey, SecretAccessKey: server.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := missing.Validate(ctx); !errors.Is(err, statestore.ErrNotFound) {
		t.Errorf("Validate of a missing bucket: %v, want ErrNotFound", err)
	}
	if err := f.writer.Validate(ctx); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got := f.objects(t); len(got) != 0 {
		t.Errorf("Validate left %v behind", slices.Collect(maps.Keys(got)))
	}

	for _, opts := range []Options{
		{Endpoint: "https://s3.example.com", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"},
		{Endpoint: "s3.example.com", AccessKeyID: "a", SecretAccessKey: "s"},
		{Endpoint: "s3.example.com", Bucket: "b"},
		{Endpoint: "s3.example.com", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s", CABundle: []byte("not pem")},
	} {
		if _, err := New(opts); !errors.Is(err, statestore.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", opts, err)
		}
	}
}

func TestServerDownIsTransient(t *testing.T) {
	server := s3server.New(t)
	f := newFixture(t, server, "")
	ctx := testContext(t)
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	change := statestore.Change{Dir: "dev/x", Files: files("dev/x/a.yaml", "a")}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := f.writer.Apply(short, change)
	if !errors.Is(err, statestore.ErrTransient) || !statestore.Retryable(err) {
		t.Fatalf("Apply with the server down: %v, want a retryable transient error", err)
	}
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.writer.Apply(ctx, change); err != nil {
		t.Fatalf("Apply after the restart: %v", err)
	}
	if got := f.objects(t); got["dev/x/a.yaml"] != "a" {
		t.Errorf("bucket holds %v after the retry", got)
	}
}

// TestConcurrentWriters has 64 goroutines write distinct directories at once: every object lands.
func TestConcurrentWriters(t *testing.T) {
	server := s3server.New(t)
	f := newFixture(t, server, "")
	ctx := testContext(t)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 3 {
				dir := fmt.Sprintf("dest-%d/resources/req-%d", w%4, w)
				if _, err := f.writer.Apply(ctx, statestore.Change{Dir: dir, Files: files(dir+"/f.yaml", fmt.Sprint("round ", r))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := f.objects(t)
	if len(got) != 64 {
		t.Errorf("%d objects, want 64", len(got))
	}
	for key, content := range got {
		if content != "round 2" {
			t.Errorf("%s holds %q, want the last round", key, content)
		}
	}
}

// An endpoint with userinfo is refused: every message that names the endpoint would show it.
func TestEndpointWithCredentialsIsRefused(t *testing.T) {
	_, err := New(Options{Endpoint: "key:hunter2-secret@127.0.0.1:9000", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"})
	if !errors.Is(err, statestore.ErrInvalidConfig) {
		t.Fatalf("New = %v, want ErrInvalidConfig", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

// A removal names a file: removing "foo" leaves "foo/bar.yaml" and "foo.yaml" alone, which may
// be another WorkPlacement's files in filepath mode none (its state file may still list "foo"
// after the file went). The test server, a file system underneath, cannot hold "foo" and
// "foo/bar.yaml" at once; AWS S3 can, and the removal must not take the prefix there either.
func TestRemoveDeletesOnlyTheFile(t *testing.T) {
	server := s3server.New(t)
	f := newFixture(t, server, "platform")
	ctx := testContext(t)
	if _, err := f.writer.Apply(ctx, statestore.Change{Files: files("dev/foo/bar.yaml", "theirs", "dev/foo.yaml", "theirs too", "dev/gone", "mine")}); err != nil {
		t.Fatal(err)
	}
	res, err := f.writer.Apply(ctx, statestore.Change{Remove: []string{"dev/foo", "dev/gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed {
		t.Errorf("the removal of dev/gone changed nothing")
	}
	want := map[string]string{"platform/dev/foo/bar.yaml": "theirs", "platform/dev/foo.yaml": "theirs too"}
	if got := f.objects(t); !maps.Equal(got, want) {
		t.Errorf("after removing dev/foo and dev/gone the bucket holds %v, want %v", got, want)
	}
}

// The version of a change is what Version computes from a listing of the directory afterwards, so
// that a reader can check a version against the bucket; it changes with the content.
func TestVersionIsTheListedDirectory(t *testing.T) {
	server := s3server.New(t)
	f := newFixture(t, server, "platform")
	ctx := testContext(t)
	dir := "dev/resources/default/app/hello/render/5058f"
	listed := func() string {
		t.Helper()
		client, err := server.Client()
		if err != nil {
			t.Fatal(err)
		}
		etags := map[string]string{}
		for obj := range client.ListObjects(ctx, f.bucket, minio.ListObjectsOptions{Prefix: "platform/" + dir + "/", Recursive: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}
			etags[obj.Key] = obj.ETag
		}
		return Version(etags)
	}

	first, err := f.writer.Apply(ctx, statestore.Change{Dir: dir, Files: files(dir+"/cm.yaml", "v1", dir+"/nested/x.yaml", "x")})
	if err != nil {
		t.Fatal(err)
	}
	if got := listed(); got != first.Version {
		t.Errorf("the listed directory's version is %s, Apply said %s", got, first.Version)
	}
	second, err := f.writer.Apply(ctx, statestore.Change{Dir: dir, Files: files(dir+"/cm.yaml", "v2", dir+"/nested/x.yaml", "x")})
	if err != nil {
		t.Fatal(err)
	}
	if got := listed(); got != second.Version || second.Version == first.Version {
		t.Errorf("after a change of content: listed %s, Apply said %s, before %s", got, second.Version, first.Version)
	}
}
