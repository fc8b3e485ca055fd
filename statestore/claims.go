package statestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"kratix.dev/kratix/api/v1alpha1"
)

// In filepath mode none the placements of a Destination write into one directory, so two may
// claim one path: the same file, or a file and a directory of the same name ("foo" and
// "foo/bar.yaml"). One of them is first and writes; the others write nothing, and are refused
// with ErrClaimed until the first goes away or stops writing the path. Who is first is decided
// the same way by both, whichever reconciles (precedes): the one whose state file lists the
// path, else the older, else the one whose namespace/name sorts first. The claims are read from
// the placements' specs (their workloads' file paths, no content decoded); a state file is read
// only for a placement that claims one of the same paths.
//
// A removal never takes a file that another placement not being deleted claims too: it may have
// written it since, and if it has not, its next write puts its own content there. A write that is
// first to its paths removes the files of the others' claims that are in its way (a file where
// it writes a directory, files below where it writes a file): their placements are refused and
// write nothing, so what is there was left by a placement that went.

// ErrClaimed: a path that the placement would write is another WorkPlacement's on the same
// Destination. Retrying does not help until the other is deleted or stops writing the path.
var ErrClaimed = errors.New("the path is another WorkPlacement's")

// claim is one path that a placement writes, relative to the store's root.
type claim struct {
	path      string
	placement *v1alpha1.WorkPlacement
}

// conflict is a path of the placement at hand that overlaps another placement's claim.
type conflict struct {
	// mine is the placement's own path; theirs is the other's: the same, or one is a directory
	// above the other.
	mine   string
	theirs claim
}

// claimIndex holds the claims of a Destination's other placements, by file and by each
// directory above a file, so that a path's overlaps cost O(its depth).
type claimIndex struct {
	files map[string][]claim
	dirs  map[string][]claim
}

// newClaimIndex indexes the paths that the neighbours (except self) write into the Destination's
// directory dest in filepath mode none. A path that is not valid is left out: its placement is
// refused for it and writes nothing.
func newClaimIndex(dest string, self *v1alpha1.WorkPlacement, neighbours []v1alpha1.WorkPlacement) claimIndex {
	idx := claimIndex{files: map[string][]claim{}, dirs: map[string][]claim{}}
	for i := range neighbours {
		other := &neighbours[i]
		if other.Namespace == self.Namespace && other.Name == self.Name {
			continue
		}
		for _, p := range claimedPaths(dest, other) {
			c := claim{path: p, placement: other}
			idx.files[p] = append(idx.files[p], c)
			for dir := parentDir(p); IsWithin(dest, dir) && dir != dest; dir = parentDir(dir) {
				idx.dirs[dir] = append(idx.dirs[dir], c)
			}
		}
	}
	return idx
}

// claimedPaths are the files a placement writes in filepath mode none, from its spec's paths.
func claimedPaths(dest string, wp *v1alpha1.WorkPlacement) []string {
	paths := make([]string, 0, len(wp.Spec.Workloads))
	for _, wl := range wp.Spec.Workloads {
		if p, err := FlatFile(dest, wl.Filepath); err == nil {
			paths = append(paths, p)
		}
	}
	return paths
}

// parentDir is the directory that holds the clean path p; "" for a path of one segment.
func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// overlapping returns the claims that overlap the path p: the same file, a file where p has a
// directory above it, or files below p.
func (idx claimIndex) overlapping(p string) []claim {
	out := slices.Clone(idx.files[p])
	for dir := parentDir(p); dir != ""; dir = parentDir(dir) {
		out = append(out, idx.files[dir]...)
	}
	return append(out, idx.dirs[p]...)
}

// conflicts returns the overlaps of the placement's paths with the others' claims, sorted by
// path, then by the other's namespace and name.
func (idx claimIndex) conflicts(paths []string) []conflict {
	var out []conflict
	for _, p := range paths {
		for _, c := range idx.overlapping(p) {
			out = append(out, conflict{mine: p, theirs: c})
		}
	}
	slices.SortFunc(out, func(a, b conflict) int {
		return cmp.Or(strings.Compare(a.mine, b.mine), strings.Compare(a.theirs.path, b.theirs.path),
			strings.Compare(a.theirs.placement.Namespace, b.theirs.placement.Namespace),
			strings.Compare(a.theirs.placement.Name, b.theirs.placement.Name))
	})
	return out
}

// claimedByLive reports whether a placement that is not being deleted claims the file p.
func (idx claimIndex) claimedByLive(p string) bool {
	for _, c := range idx.files[p] {
		if c.placement.DeletionTimestamp.IsZero() {
			return true
		}
	}
	return false
}

// inTheWay returns the others' claimed paths that a file or a directory at one of paths would
// replace: files where a path has a directory, and files below a path. The caller is first to
// its paths (checkClaims), so those claims are refused and their files are not their
// placements'.
func (idx claimIndex) inTheWay(paths []string) []string {
	var out []string
	for _, p := range paths {
		for _, c := range idx.overlapping(p) {
			if c.path != p && !slices.Contains(out, c.path) {
				out = append(out, c.path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// precedes reports whether placement a is first to a path that it and b claim: the one whose
// state file lists its path (aHolds, bHolds), else the older, else the one whose namespace/name
// sorts first. Both placements compute the same answer, so they never take turns.
func precedes(a *v1alpha1.WorkPlacement, aHolds bool, b *v1alpha1.WorkPlacement, bHolds bool) bool {
	if aHolds != bHolds {
		return aHolds
	}
	if ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time; !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name)) < 0
}

// checkClaims refuses, with ErrClaimed, a write of paths that overlap a path another placement
// is first to; the refusal names, of those, one whose state file lists its path if any. written
// is what the placement's own state file lists; the others' state files are read through r,
// each at most once and only when it claims one of the same paths.
func checkClaims(ctx context.Context, r FileReader, dest string, self *v1alpha1.WorkPlacement, written, paths []string, idx claimIndex) error {
	held := map[*v1alpha1.WorkPlacement][]string{}
	var lost *conflict
	for _, c := range idx.conflicts(paths) {
		other := c.theirs.placement
		theirs, ok := held[other]
		if !ok {
			stateFile, err := StateFile(dest, other.Namespace+"."+other.Name)
			if err != nil {
				return err
			}
			if theirs, err = readStateFile(ctx, r, dest, stateFile); err != nil {
				return fmt.Errorf("the state file of WorkPlacement %s/%s: %w", other.Namespace, other.Name, err)
			}
			held[other] = theirs
		}
		otherHolds := slices.Contains(theirs, c.theirs.path)
		if precedes(self, slices.Contains(written, c.mine), other, otherHolds) {
			continue
		}
		if lost == nil {
			lost = &c
		}
		if otherHolds {
			lost = &c
			break
		}
	}
	if lost == nil {
		return nil
	}
	other := lost.theirs.placement
	return NewError(ErrClaimed, fmt.Sprintf("path %q", lost.mine),
		fmt.Errorf("WorkPlacement %s/%s writes %q; this placement writes nothing until it is deleted or stops writing it",
			other.Namespace, other.Name, lost.theirs.path))
}

// Overlapping returns the candidates whose files in filepath mode none overlap a file of one
// of the changed placements (old and new versions of one, or one deleted): those that a change
// of theirs may let write. The changed placements themselves are left out.
func Overlapping(changed []*v1alpha1.WorkPlacement, candidates []v1alpha1.WorkPlacement) []*v1alpha1.WorkPlacement {
	if len(changed) == 0 {
		return nil
	}
	// Overlaps do not depend on the Destination's directory: any will do.
	const dest = "d"
	others := make([]v1alpha1.WorkPlacement, 0, len(changed))
	for _, wp := range changed {
		others = append(others, *wp)
	}
	idx := newClaimIndex(dest, &v1alpha1.WorkPlacement{}, others)
	var out []*v1alpha1.WorkPlacement
	for i := range candidates {
		cand := &candidates[i]
		if cand.Namespace == changed[0].Namespace && cand.Name == changed[0].Name {
			continue
		}
		if slices.ContainsFunc(claimedPaths(dest, cand), func(p string) bool { return len(idx.overlapping(p)) > 0 }) {
			out = append(out, cand)
		}
	}
	return out
}
