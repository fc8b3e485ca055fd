package faults

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"kratix.dev/kratix/api/v1alpha1"
)

// auditInterval is how often the auditor looks for placements whose status lies.
const auditInterval = 500 * time.Millisecond

// snapshot is what the cluster and the repository said at one moment: the placements (read
// first), then the commits and the files on main.
type snapshot struct {
	placements map[string]v1alpha1.WorkPlacement
	// onMain are the commits main contains; empty when the branch does not exist.
	onMain map[string]bool
	// mainFiles are the files on main.
	mainFiles map[string]bool
}

// take reads a snapshot. The placements are read before the branch, so a placement's version,
// pushed before its status was written, is on main unless someone took it away.
func (r *rig) take(ctx context.Context) (*snapshot, error) {
	wps, err := r.placementsOf(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{placements: wps, onMain: map[string]bool{}, mainFiles: map[string]bool{}}
	// One commit for both reads, since the branch may move or go in between.
	head, err := r.git(ctx, "rev-parse", "--verify", "--quiet", "refs/heads/main")
	if err != nil {
		return s, nil // no branch: nothing is on it
	}
	head = strings.TrimSpace(head)
	commits, err := r.git(ctx, "rev-list", head)
	if err != nil {
		return nil, err
	}
	for _, c := range strings.Fields(commits) {
		s.onMain[c] = true
	}
	files, err := r.git(ctx, "ls-tree", "-r", "--name-only", head)
	if err != nil {
		return nil, err
	}
	for _, f := range strings.Fields(files) {
		s.mainFiles[f] = true
	}
	return s, nil
}

// lost lists the Works whose file is not on main.
func (r *rig) lost(s *snapshot) []string {
	var out []string
	for name, file := range r.files {
		if !s.mainFiles[file] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// versionFiles caches the files of commits, which never change.
type versionFiles struct {
	mu    sync.Mutex
	files map[string]map[string]bool
}

// has reports whether the commit holds the file.
func (v *versionFiles) has(ctx context.Context, r *rig, commit, file string) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	files, ok := v.files[commit]
	if !ok {
		out, err := r.git(ctx, "ls-tree", "-r", "--name-only", commit)
		if err != nil {
			return false, err
		}
		files = map[string]bool{}
		for _, f := range strings.Fields(out) {
			files[f] = true
		}
		v.files[commit] = files
	}
	return files[file], nil
}

// liars lists the Works whose placement is Ready with a version that main does not contain or
// that does not hold the placement's file, with why.
func (r *rig) liars(ctx context.Context, s *snapshot, cache *versionFiles) (map[string]string, error) {
	out := map[string]string{}
	for name, wp := range s.placements {
		if !placementReady(wp) {
			continue
		}
		version, file := wp.Status.VersionID, r.files[name]
		switch {
		case version == "":
			out[name] = "Ready without a version"
		case !s.onMain[version]:
			out[name] = fmt.Sprintf("version %.12s is not on main", version)
		default:
			ok, err := cache.has(ctx, r, version, file)
			if err != nil {
				return nil, err
			}
			if !ok {
				out[name] = fmt.Sprintf("version %.12s does not hold %s", version, file)
			}
		}
	}
	return out, nil
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
	a := &auditor{r: r, cache: &versionFiles{files: map[string]map[string]bool{}}, lied: map[string]string{}}
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
func (a *auditor) once(ctx context.Context) {
	s, err := a.r.take(ctx)
	var lies map[string]string
	if err == nil {
		lies, err = a.r.liars(ctx, s, a.cache)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			a.errs++
		}
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
