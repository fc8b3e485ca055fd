// Package s3 is the S3 state-store writer (minio-go). A change replaces a directory: the writer
// lists the prefix, uploads only the objects whose content differs (known by a SHA-256 that it
// keeps in each object's user metadata, since an ETag is not an MD5 for multipart or
// KMS-encrypted objects), and deletes leftovers only after the new objects are written.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sync/errgroup"

	"kratix.dev/kratix/internal/keyedmutex"
	"kratix.dev/kratix/statestore"
)

var _ statestore.Writer = (*Writer)(nil)

// hashKey is the user-metadata key of an object's content hash (sent as X-Amz-Meta-Kratix-Sha256).
const hashKey = "Kratix-Sha256"

// Options configure a Writer.
type Options struct {
	// Endpoint is host[:port] of the S3 service, without a scheme.
	Endpoint string
	// Bucket receives the objects.
	Bucket string
	// Root is the store's spec.path: every path of a Change is relative to it.
	Root string
	// Insecure talks plain HTTP. TLS, verified, otherwise.
	Insecure bool
	// AccessKeyID and SecretAccessKey authenticate; with UseIAM the environment's credentials
	// (instance or pod role) are used instead.
	AccessKeyID     string
	SecretAccessKey string
	UseIAM          bool
	// Region of the bucket; empty lets the client discover it.
	Region string
	// CABundle is PEM certificates to trust in addition to the system's.
	CABundle []byte
	// UseDualStack addresses an Amazon S3 endpoint by its dual-stack (IPv4 and IPv6) name;
	// other endpoints are used as they are.
	UseDualStack bool
	// Parallelism bounds concurrent uploads and metadata reads per change; default 16.
	Parallelism int
	// Logger receives the writer's logs; default discards.
	Logger logr.Logger
	// WrapTransport, when set, wraps the HTTP transport, e.g. to count requests for metrics.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Writer writes to one bucket. It is safe for concurrent use; changes to the same directory are
// applied one at a time.
type Writer struct {
	opts   Options
	client *minio.Client
	locks  keyedmutex.Mutex
	// known maps object keys to the ETag and content hash the writer last saw for them, so that a
	// listing whose ETag matches needs no metadata read.
	known sync.Map // string -> objectState
}

type objectState struct {
	etag string
	hash string
}

// New validates the options and builds the client. It does not contact the server.
func New(opts Options) (*Writer, error) {
	if opts.Endpoint == "" || strings.Contains(opts.Endpoint, "://") {
		return nil, invalidConfig("endpoint must be host[:port] without a scheme")
	}
	if strings.Contains(opts.Endpoint, "@") {
		// user:secret@host would be quoted by every message that names the endpoint.
		return nil, invalidConfig("endpoint must be host[:port]; put the keys in the state store's Secret")
	}
	if opts.Bucket == "" {
		return nil, invalidConfig("a bucket name is required")
	}
	if opts.Root != "" {
		root, err := statestore.CleanPath(opts.Root)
		if err != nil {
			return nil, fmt.Errorf("root: %w", err)
		}
		opts.Root = root
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 16
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	var creds *credentials.Credentials
	switch {
	case opts.UseIAM:
		creds = credentials.NewIAM("")
	case opts.AccessKeyID == "" || opts.SecretAccessKey == "":
		return nil, invalidConfig("accessKeyID and secretAccessKey are required unless authMethod is IAM")
	default:
		creds = credentials.NewStaticV4(opts.AccessKeyID, opts.SecretAccessKey, "")
	}
	transport, err := newTransport(opts)
	if err != nil {
		return nil, err
	}
	client, err := minio.New(opts.Endpoint, &minio.Options{Creds: creds, Secure: !opts.Insecure, Region: opts.Region, Transport: transport})
	if err != nil {
		return nil, invalidConfig(fmt.Sprintf("endpoint: %v", err))
	}
	client.SetS3EnableDualstack(opts.UseDualStack)
	return &Writer{opts: opts, client: client}, nil
}

func newTransport(opts Options) (http.RoundTripper, error) {
	t, err := minio.DefaultTransport(!opts.Insecure)
	if err != nil {
		return nil, fmt.Errorf("build transport: %w", err)
	}
	t.MaxIdleConnsPerHost = opts.Parallelism * 2
	var rt http.RoundTripper = t
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(t)
	}
	if len(opts.CABundle) > 0 && !opts.Insecure {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(opts.CABundle) {
			return nil, invalidConfig("ca.crt holds no PEM certificate")
		}
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.RootCAs = pool
	}
	return rt, nil
}

// Apply makes the change: uploads what differs, then deletes leftovers. The version is a digest of
// the ETags of the directory's (or the files') objects afterwards.
func (w *Writer) Apply(ctx context.Context, change statestore.Change) (statestore.Result, error) {
	c, err := change.Validate()
	if err != nil {
		return statestore.Result{}, err
	}
	unlock := w.locks.Lock(lockKey(c))
	defer unlock()

	desired := make(map[string][]byte, len(c.Files))
	for _, f := range c.Files {
		desired[w.key(f.Path)] = f.Content
	}
	existing, err := w.existing(ctx, c)
	if err != nil {
		return statestore.Result{}, err
	}
	etags := make(map[string]string, len(desired))
	var uploads []string
	for key, content := range desired {
		sum := sha256Hex(content)
		if st, ok := existing[key]; ok && st.hash == sum {
			etags[key] = st.etag
			continue
		}
		uploads = append(uploads, key)
	}
	if err := w.upload(ctx, uploads, desired, etags); err != nil {
		return statestore.Result{}, err
	}
	var deletes []string
	for key := range existing {
		if _, keep := desired[key]; !keep {
			deletes = append(deletes, key)
		}
	}
	if err := w.remove(ctx, deletes); err != nil {
		return statestore.Result{}, err
	}
	return statestore.Result{Version: Version(etags), Changed: len(uploads)+len(deletes) > 0}, nil
}

// existing returns the objects the change may replace, with their content hashes: everything
// under Dir, and each removed file and each file written outside a Dir. A removal names one
// object, never a prefix: removing "foo" must not take "foo/bar.yaml", which may be another
// placement's.
func (w *Writer) existing(ctx context.Context, c statestore.Change) (map[string]objectState, error) {
	listed := map[string]minio.ObjectInfo{}
	if c.Dir != "" {
		base := w.key(c.Dir)
		for obj := range w.client.ListObjects(ctx, w.opts.Bucket, minio.ListObjectsOptions{Prefix: base, Recursive: true}) {
			if obj.Err != nil {
				return nil, w.classify("list "+base, obj.Err)
			}
			if statestore.IsWithin(base, obj.Key) {
				listed[obj.Key] = obj
			}
		}
	}
	exact := slices.Clone(c.Remove)
	if c.Dir == "" {
		for _, f := range c.Files {
			exact = append(exact, f.Path)
		}
	}
	for _, p := range exact {
		key := w.key(p)
		info, err := w.client.StatObject(ctx, w.opts.Bucket, key, minio.StatObjectOptions{})
		if err != nil {
			if minio.ToErrorResponse(err).Code == "NoSuchKey" {
				continue
			}
			return nil, w.classify("stat "+key, err)
		}
		listed[key] = info
	}
	return w.hashes(ctx, listed)
}

// hashes finds the content hash of each listed object: from the writer's memory when the ETag
// still matches, else from the object's metadata.
func (w *Writer) hashes(ctx context.Context, listed map[string]minio.ObjectInfo) (map[string]objectState, error) {
	out := make(map[string]objectState, len(listed))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.opts.Parallelism)
	for key, info := range listed {
		if v, ok := w.known.Load(key); ok {
			if v.(objectState).etag == info.ETag {
				out[key] = v.(objectState)
			} else {
				// Someone else wrote the object since: its metadata may not describe its content
				// (some servers keep user metadata across an overwrite without it), so upload again.
				out[key] = objectState{etag: info.ETag}
			}
			continue
		}
		if h := metadataHash(info); h != "" {
			out[key] = objectState{etag: info.ETag, hash: h}
			continue
		}
		g.Go(func() error {
			stat, err := w.client.StatObject(gctx, w.opts.Bucket, key, minio.StatObjectOptions{})
			if err != nil {
				return w.classify("stat "+key, err)
			}
			mu.Lock()
			out[key] = objectState{etag: stat.ETag, hash: metadataHash(stat)}
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

func metadataHash(info minio.ObjectInfo) string {
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, hashKey) || strings.EqualFold(k, "X-Amz-Meta-"+hashKey) {
			return v
		}
	}
	return info.Metadata.Get("X-Amz-Meta-" + hashKey)
}

// upload puts the objects in parallel and records their ETags.
func (w *Writer) upload(ctx context.Context, keys []string, content map[string][]byte, etags map[string]string) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.opts.Parallelism)
	for _, key := range keys {
		data := content[key]
		g.Go(func() error {
			sum := sha256Hex(data)
			info, err := w.client.PutObject(gctx, w.opts.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
				UserMetadata: map[string]string{hashKey: sum},
				ContentType:  contentType(key),
			})
			if err != nil {
				return w.classify("put "+key, err)
			}
			w.known.Store(key, objectState{etag: info.ETag, hash: sum})
			mu.Lock()
			etags[key] = info.ETag
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// remove deletes the objects in one multi-object delete per thousand keys.
func (w *Writer) remove(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	objects := make(chan minio.ObjectInfo, len(keys))
	for _, k := range keys {
		objects <- minio.ObjectInfo{Key: k}
	}
	close(objects)
	for res := range w.client.RemoveObjectsWithResult(ctx, w.opts.Bucket, objects, minio.RemoveObjectsOptions{}) {
		if res.Err != nil {
			return w.classify("delete "+res.ObjectName, res.Err)
		}
		w.known.Delete(res.ObjectName)
	}
	return nil
}

// Read returns the content of one object, path relative to the root.
func (w *Writer) Read(ctx context.Context, path string) ([]byte, error) {
	p, err := statestore.CleanPath(path)
	if err != nil {
		return nil, err
	}
	key := w.key(p)
	obj, err := w.client.GetObject(ctx, w.opts.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, w.classify("read "+key, err)
	}
	defer obj.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(obj); err != nil {
		return nil, w.classify("read "+key, err)
	}
	return buf.Bytes(), nil
}

// Validate checks that the bucket exists and that the credentials may write to it, by writing and
// deleting a probe object under the root's .kratix directory.
func (w *Writer) Validate(ctx context.Context) error {
	ok, err := w.client.BucketExists(ctx, w.opts.Bucket)
	if err != nil {
		return w.classify("check bucket", err)
	}
	if !ok {
		return statestore.NewError(statestore.ErrNotFound, fmt.Sprintf("bucket %q at %s", w.opts.Bucket, w.opts.Endpoint), nil)
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	key := w.key(statestore.StateDir + "/validate-" + hex.EncodeToString(suffix[:]))
	if _, err := w.client.PutObject(ctx, w.opts.Bucket, key, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		return w.classify("write a probe object", err)
	}
	if err := w.client.RemoveObject(ctx, w.opts.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return w.classify("delete the probe object "+key, err)
	}
	return nil
}

// Close releases nothing: the client holds no resources that outlive requests.
func (w *Writer) Close() error { return nil }

func (w *Writer) key(p string) string {
	if w.opts.Root == "" {
		return p
	}
	return w.opts.Root + "/" + p
}

// classify turns a minio-go error into a statestore error of the right kind.
func (w *Writer) classify(op string, err error) error {
	op = fmt.Sprintf("%s in bucket %q at %s", op, w.opts.Bucket, w.opts.Endpoint)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return statestore.NewError(statestore.ErrTransient, op, err)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket", "NoSuchKey":
		return statestore.NewError(statestore.ErrNotFound, op, errors.New(resp.Message))
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
		return statestore.NewError(statestore.ErrAuthentication, op, errors.New(resp.Message))
	}
	return statestore.NewError(statestore.ErrTransient, op, err)
}

func invalidConfig(msg string) error {
	return statestore.NewError(statestore.ErrInvalidConfig, "bucket state store", errors.New(msg))
}

func lockKey(c statestore.Change) string {
	if c.Dir != "" {
		return c.Dir
	}
	return ""
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Version is the version that Apply returns: a digest of the keys (the store's root included) and
// ETags of the objects a change left in place, the directory's objects for a change with a Dir.
// Whoever lists the same objects computes the same version, and so can tell whether the bucket
// still holds the version that a WorkPlacement's status names.
func Version(etags map[string]string) string {
	keys := make([]string, 0, len(etags))
	for k := range etags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\n", k, etags[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".yaml"), strings.HasSuffix(key, ".yml"):
		return "application/yaml"
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	default:
		return "application/octet-stream"
	}
}
