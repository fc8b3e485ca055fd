package faults

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
	"kratix.dev/kratix/statestore/s3"
)

// auditInterval is how often the auditor looks for placements whose status lies.
const auditInterval = 500 * time.Millisecond

// What a placement's status claims, and how the suite checks it, depends on the store:
//
//   - Git: status.versionID is the commit that holds the placement's write. It does not lie when
//     main contains that commit and the commit holds the placement's file with the content of the
//     placement's spec (the generation the status is Ready for).
//   - S3: status.versionID is s3.Version of the ETags of the objects in the placement's directory
//     after its write; a bucket has no history, so the version can only be checked against what
//     the bucket holds now. It does not lie when the objects now in the placement's directory
//     digest to that version and include its file with the content of its spec. A placement
//     written again after the auditor read it would fail that check without lying, so a mismatch
//     counts only if the placement, read again after the bucket, has not changed.
//
// Content is compared by the store's own id for it, contentID: the Git blob id, the S3 ETag,
// which for a single-part PUT without SSE-KMS (the S3 writer's uploads) is the hex MD5 of the
// content.

// snapshot is what the cluster and the store said at one moment: the placements (read first),
// then the store's files.
type snapshot struct {
	placements map[string]v1alpha1.WorkPlacement
	// files are the store's files (on main, for Git), each with its content's id.
	files map[string]string
	// onMain are the commits main contains; empty when the branch does not exist. Git only.
	onMain map[string]bool
}

// take reads a snapshot. The placements are read before the store, so a placement's version,
// written before its status was, is in the store unless someone took it away.
func (r *rig) take(ctx context.Context) (*snapshot, error) {
	wps, err := r.placementsOf(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{placements: wps, onMain: map[string]bool{}}
	if r.s3 != nil {
		s.files, err = r.objects(ctx)
		return s, err
	}
	s.files = map[string]string{}
	// One commit for both reads, since the branch may move or go in between.
	head, err := r.git(ctx, "rev-parse", "--verify", "--quiet", "refs/heads/main")
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		// A git killed by the context's end fails like a missing branch; it says nothing of main.
		return nil, ctx.Err()
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return s, nil // no branch: nothing is on it
	case err != nil:
		return nil, err
	}
	head = strings.TrimSpace(head)
	commits, err := r.git(ctx, "rev-list", head)
	if err != nil {
		return nil, err
	}
	for _, c := range strings.Fields(commits) {
		s.onMain[c] = true
	}
	s.files, err = r.treeFiles(ctx, head)
	return s, err
}

// treeFiles lists the files of a commit with their blob ids.
func (r *rig) treeFiles(ctx context.Context, commit string) (map[string]string, error) {
	out, err := r.git(ctx, "ls-tree", "-r", "--full-tree", commit)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// <mode> SP <type> SP <object> TAB <file>
		meta, file, ok := strings.Cut(line, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 {
			continue
		}
		files[file] = fields[2]
	}
	return files, nil
}

// objects lists the bucket's objects with their ETags.
func (r *rig) objects(ctx context.Context) (map[string]string, error) {
	c, err := r.s3.Client()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for obj := range c.ListObjects(ctx, bucketName, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		out[obj.Key] = obj.ETag
	}
	return out, nil
}

// contentID is the store's id of content: the Git blob id, or the S3 ETag of a single-part PUT.
func (r *rig) contentID(content []byte) string {
	if r.s3 != nil {
		sum := md5.Sum(content)
		return hex.EncodeToString(sum[:])
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// lost lists the Works whose file is not in the store with the content the Work has now.
func (r *rig) lost(s *snapshot) []string {
	var out []string
	for name, file := range r.files {
		if s.files[file] != r.contentID(r.content[name]) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// versionFiles caches the files of commits, which never change.
type versionFiles struct {
	mu    sync.Mutex
	files map[string]map[string]string
}

// blob returns the blob id of the file in the commit, "" when the commit has no such file.
func (v *versionFiles) blob(ctx context.Context, r *rig, commit, file string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	files, ok := v.files[commit]
	if !ok {
		var err error
		if files, err = r.treeFiles(ctx, commit); err != nil {
			return "", err
		}
		v.files[commit] = files
	}
	return files[file], nil
}

// specContent is the content of the placement's one file as its spec has it.
func specContent(wp *v1alpha1.WorkPlacement) ([]byte, error) {
	files, err := statestore.DecodeWorkloads(wp)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.Path == manifestFile {
			return f.Content, nil
		}
	}
	return nil, fmt.Errorf("placement %s has no %s", wp.Name, manifestFile)
}

// liars lists the Works whose placement is Ready with a version that the store does not hold,
// or that does not hold the placement's file with its spec's content, with why.
func (r *rig) liars(ctx context.Context, s *snapshot, cache *versionFiles) (map[string]string, error) {
	out := map[string]string{}
	for name, wp := range s.placements {
		if !placementReady(wp) {
			continue
		}
		content, err := specContent(&wp)
		if err != nil {
			return nil, err
		}
		version, file, want := wp.Status.VersionID, r.files[name], r.contentID(content)
		var why string
		switch {
		case version == "":
			why = "Ready without a version"
		case r.s3 != nil:
			if why = r.bucketLie(s, version, file, want); why != "" {
				// Read again: a placement written since the snapshot's read has moved on.
				var now v1alpha1.WorkPlacement
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&wp), &now); err != nil {
					return nil, client.IgnoreNotFound(err)
				}
				if now.ResourceVersion != wp.ResourceVersion {
					why = ""
				}
			}
		case !s.onMain[version]:
			why = fmt.Sprintf("version %.12s is not on main", version)
		default:
			got, err := cache.blob(ctx, r, version, file)
			switch {
			case err != nil:
				return nil, err
			case got == "":
				why = fmt.Sprintf("version %.12s does not hold %s", version, file)
			case got != want:
				why = fmt.Sprintf("version %.12s holds %s with other content than the placement's generation %d", version, file, wp.Generation)
			}
		}
		if why != "" {
			out[name] = why
		}
	}
	return out, nil
}

// bucketLie says why the bucket's objects do not make the placement's version, or "".
func (r *rig) bucketLie(s *snapshot, version, file, want string) string {
	dir := path.Dir(file)
	etags := map[string]string{}
	for key, etag := range s.files {
		if statestore.IsWithin(dir, key) {
			etags[key] = etag
		}
	}
	switch got := s.files[file]; {
	case got == "":
		return fmt.Sprintf("the bucket has no %s", file)
	case got != want:
		return fmt.Sprintf("the bucket holds %s with other content than the placement's", file)
	case s3.Version(etags) != version:
		return fmt.Sprintf("the objects of %s make version %.12s, not %.12s", dir, s3.Version(etags), version)
	}
	return ""
}

// auditor polls, for the whole scenario, for placements whose status lies.
type auditor struct {
	r     *rig
	cache *versionFiles

	mu sync.Mutex
	// lied are the Works whose placement lied at least once, with the first lie.
	lied        map[string]string
	first, last time.Time
	errs        int

	stop func()
}

// audit starts an auditor that runs until the test ends or stop is called.
func (r *rig) audit(t *testing.T) *auditor {
	t.Helper()
	a := &auditor{r: r, cache: &versionFiles{files: map[string]map[string]string{}}, lied: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(auditInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				a.once(ctx)
			}
		}
	}()
	var once sync.Once
	a.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(a.stop)
	return a
}

// once runs one audit pass and records what lied.
func (a *auditor) once(stopped context.Context) {
	// A pass must not hang on a server that is down.
	ctx, cancel := context.WithTimeout(stopped, 30*time.Second)
	defer cancel()
	s, err := a.r.take(ctx)
	var lies map[string]string
	if err == nil {
		lies, err = a.r.liars(ctx, s, a.cache)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case stopped.Err() != nil:
		return // interrupted: what it read may be incomplete
	case err != nil:
		a.errs++
		return
	}
	now := time.Now()
	for name, why := range lies {
		if _, seen := a.lied[name]; !seen {
			a.lied[name] = why
		}
		if a.first.IsZero() {
			a.first = now
		}
		a.last = now
	}
}

// verdict says whether any status lied, and when, relative to since.
func (a *auditor) verdict(since time.Time) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.lied) == 0 {
		return "no"
	}
	names := make([]string, 0, len(a.lied))
	for n := range a.lied {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Sprintf("yes: %d placements, from %+.1fs to %+.1fs after the fault began (e.g. %s: %s)",
		len(a.lied), a.first.Sub(since).Seconds(), a.last.Sub(since).Seconds(), names[0], a.lied[names[0]])
}
