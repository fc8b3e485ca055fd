package statestore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// claimant is a placement created at the given minute, writing the paths (content irrelevant).
func claimant(t *testing.T, name string, minute int, paths ...string) v1alpha1.WorkPlacement {
	t.Helper()
	workloads := map[string]string{}
	for _, p := range paths {
		workloads[p] = "kind: X\n"
	}
	wp := placement(t, name, workloads)
	wp.CreationTimestamp = metav1.NewTime(time.Date(2025, 1, 1, 0, minute, 0, 0, time.UTC))
	return wp
}

// stateOf is the state file of a placement on the test Destination listing the paths.
func stateOf(t *testing.T, name string, paths ...string) (string, string) {
	t.Helper()
	data, err := statestore.EncodeStateFile("clusters/dev", "team-a."+name, prefixed(paths))
	if err != nil {
		t.Fatal(err)
	}
	return "clusters/dev/.kratix/team-a." + name + ".state", string(data)
}

func prefixed(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, "clusters/dev/"+p)
	}
	return out
}

// In filepath mode none, two placements that claim one path (the same file, or a file and a
// directory of the same name) do not both write: the one whose state file lists the path is
// first, else the older, else the one whose name sorts first. The other is refused with
// ErrClaimed, and writes nothing. A removal leaves a file that a live placement claims too, and
// the first removes the files of refused claims in its way.
func TestClaimsInFilepathModeNone(t *testing.T) {
	dest := destinationIn(v1alpha1.FilepathModeNone, "")
	older := claimant(t, "older", 1, "foo.yaml")
	newer := claimant(t, "newer", 2, "foo.yaml")
	twin := claimant(t, "twin", 1, "foo.yaml")
	dirOlder := claimant(t, "dir-older", 1, "foo/bar.yaml")
	fileNewer := claimant(t, "file-newer", 2, "foo")
	unrelated := claimant(t, "unrelated", 0, "foo.yml", "foobar/x.yaml")
	leaving := claimant(t, "leaving", 0, "foo.yaml")
	leaving.DeletionTimestamp = ptr(metav1.Now())
	olderHolds, olderState := stateOf(t, "older", "foo.yaml")
	newerHolds, newerState := stateOf(t, "newer", "foo.yaml")
	dropped := claimant(t, "newer", 2, "other.yaml")
	fileHolds, fileState := stateOf(t, "file-newer", "foo")
	holderState, holderContent := stateOf(t, "b-holder", "foo/b.yaml")

	for _, tc := range []struct {
		name       string
		self       v1alpha1.WorkPlacement
		action     statestore.Action
		neighbours []v1alpha1.WorkPlacement
		store      files
		// wantClaimedBy names the placement that the refusal names; empty when the change goes.
		wantClaimedBy string
		wantRemove    []string
	}{
		{name: "the older writes", self: older, neighbours: []v1alpha1.WorkPlacement{older, newer}, store: files{}},
		{name: "the newer is refused", self: newer, neighbours: []v1alpha1.WorkPlacement{older, newer}, store: files{}, wantClaimedBy: "team-a/older"},
		{name: "the one whose state file lists the path keeps it, though newer", self: newer,
			neighbours: []v1alpha1.WorkPlacement{older}, store: files{newerHolds: newerState}},
		{name: "the older is refused by the newer that holds the path", self: older,
			neighbours: []v1alpha1.WorkPlacement{newer}, store: files{newerHolds: newerState}, wantClaimedBy: "team-a/newer"},
		{name: "both hold the path: the older keeps it", self: newer, neighbours: []v1alpha1.WorkPlacement{older},
			store: files{newerHolds: newerState, olderHolds: olderState}, wantClaimedBy: "team-a/older"},
		{name: "same age: the name that sorts first", self: twin, neighbours: []v1alpha1.WorkPlacement{older}, store: files{}, wantClaimedBy: "team-a/older"},
		{name: "the first to a directory removes a refused claim's file in its way", self: dirOlder,
			neighbours: []v1alpha1.WorkPlacement{fileNewer}, store: files{}, wantRemove: []string{"clusters/dev/foo"}},
		{name: "the first to a file removes the refused claims' files below it", self: claimant(t, "file-older", 0, "foo"),
			neighbours: []v1alpha1.WorkPlacement{dirOlder, claimant(t, "dir-other", 3, "foo/x/y.yaml")}, store: files{},
			wantRemove: []string{"clusters/dev/foo/bar.yaml", "clusters/dev/foo/x/y.yaml"}},
		{name: "a file where another has a directory", self: fileNewer, neighbours: []v1alpha1.WorkPlacement{dirOlder}, store: files{}, wantClaimedBy: "team-a/dir-older"},
		{name: "a directory where another has a file it wrote", self: dirOlder, neighbours: []v1alpha1.WorkPlacement{fileNewer},
			store: files{fileHolds: fileState}, wantClaimedBy: "team-a/file-newer"},
		{name: "the refusal names a placement whose state file lists its path", self: claimant(t, "late", 3, "foo"),
			neighbours: []v1alpha1.WorkPlacement{claimant(t, "a-early", 1, "foo/a.yaml"), claimant(t, "b-holder", 2, "foo/b.yaml")},
			store:      files{holderState: holderContent}, wantClaimedBy: "team-a/b-holder"},
		{name: "paths that share a prefix do not overlap", self: newer, neighbours: []v1alpha1.WorkPlacement{unrelated}, store: files{}},
		{name: "one being deleted still claims its path", self: newer, neighbours: []v1alpha1.WorkPlacement{leaving}, store: files{}, wantClaimedBy: "team-a/leaving"},
		{name: "a path it stopped writing that a live placement claims is not removed", self: dropped,
			neighbours: []v1alpha1.WorkPlacement{older}, store: files{newerHolds: newerState}},
		{name: "a path it stopped writing that one being deleted claims is removed", self: dropped,
			neighbours: []v1alpha1.WorkPlacement{leaving}, store: files{newerHolds: newerState}, wantRemove: []string{"clusters/dev/foo.yaml"}},
		{name: "a delete leaves a path a live placement claims", self: newer, action: statestore.ActionDelete,
			neighbours: []v1alpha1.WorkPlacement{older}, store: files{newerHolds: newerState}, wantRemove: []string{newerHolds}},
		// The live placement claims foo/bar.yaml, so foo is not its file: a file there is in its
		// way, and a directory there (its own) is left alone by every writer's removal.
		{name: "a delete removes its file where a live placement claims a directory", self: fileNewer, action: statestore.ActionDelete,
			neighbours: []v1alpha1.WorkPlacement{dirOlder}, store: files{fileHolds: fileState}, wantRemove: []string{"clusters/dev/foo", fileHolds}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action := tc.action
			if action == "" {
				action = statestore.ActionUpdate
			}
			pc, err := statestore.BuildPlacementChange(context.Background(), tc.store,
				statestore.PlacementInput{Action: action, Placement: &tc.self, Destination: dest, Neighbours: tc.neighbours})
			if tc.wantClaimedBy != "" {
				if !errors.Is(err, statestore.ErrClaimed) || !strings.Contains(err.Error(), "WorkPlacement "+tc.wantClaimedBy+" ") {
					t.Fatalf("err = %v, want ErrClaimed naming %s", err, tc.wantClaimedBy)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(pc.Change.Files) == 0 && action == statestore.ActionUpdate {
				t.Errorf("the change writes nothing")
			}
			if !slices.Equal(pc.Change.Remove, tc.wantRemove) {
				t.Errorf("removes %v, want %v", pc.Change.Remove, tc.wantRemove)
			}
		})
	}
}

// failingOn is a store whose one file cannot be read; the others are missing.
type failingOn string

func (f failingOn) Read(ctx context.Context, path string) ([]byte, error) {
	if path == string(f) {
		return brokenReader{}.Read(ctx, path)
	}
	return files{}.Read(ctx, path)
}

// A store that cannot be read is not taken for a state file that lists nothing: a write that
// needs another placement's state file fails with the store's error.
func TestClaimsNeedTheOthersStateFile(t *testing.T) {
	self, other := claimant(t, "newer", 2, "foo.yaml"), claimant(t, "older", 1, "foo.yaml")
	_, err := statestore.BuildPlacementChange(context.Background(), failingOn("clusters/dev/.kratix/team-a.older.state"), statestore.PlacementInput{
		Action: statestore.ActionUpdate, Placement: &self, Destination: destinationIn(v1alpha1.FilepathModeNone, ""), Neighbours: []v1alpha1.WorkPlacement{other}})
	if !errors.Is(err, statestore.ErrTransient) || !strings.Contains(err.Error(), "team-a/older") {
		t.Errorf("err = %v, want the store's transient error reading the state file of team-a/older", err)
	}
}

// A change of a placement concerns the others whose files overlap its own, old or new.
func TestOverlapping(t *testing.T) {
	before := claimant(t, "changed", 1, "foo.yaml", "a/b.yaml")
	after := claimant(t, "changed", 1, "a/b.yaml")
	candidates := []v1alpha1.WorkPlacement{
		claimant(t, "changed", 1, "foo.yaml"),
		claimant(t, "same-file", 2, "foo.yaml"),
		claimant(t, "file-over-dir", 2, "a"),
		claimant(t, "below", 2, "a/b.yaml/c.yaml"),
		claimant(t, "prefix-only", 2, "foo.yml", "a/bb.yaml"),
		claimant(t, "none", 2),
	}
	var got []string
	for _, wp := range statestore.Overlapping([]*v1alpha1.WorkPlacement{&before, &after}, candidates) {
		got = append(got, wp.Name)
	}
	if want := []string{"same-file", "file-over-dir", "below"}; !slices.Equal(got, want) {
		t.Errorf("Overlapping = %v, want %v", got, want)
	}
}
