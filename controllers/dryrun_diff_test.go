package controllers

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// Unit tests of the dry run's view of a store (dryRunView, destinationView) and of boundDiff.
// They need no API server; the package's TestMain still starts envtest, so run them alone:
//
//	go test ./controllers/ -run 'TestDryRunView|TestDestinationView|TestBoundDiff'
//
// The DryRun's end-to-end tests are in dryrun_test.go.

// memStore is a FileReader over a map: a unit-test stand-in for a store's reader.
type memStore map[string]string

func (m memStore) Read(_ context.Context, path string) ([]byte, error) {
	s, ok := m[path]
	if !ok {
		return nil, statestore.NewError(statestore.ErrNotFound, "read "+path, nil)
	}
	return []byte(s), nil
}

// failingStore fails every read as a store that cannot be reached does.
type failingStore struct{}

func (failingStore) Read(context.Context, string) ([]byte, error) {
	return nil, statestore.NewError(statestore.ErrTransient, "read", errors.New("connection refused"))
}

// cm is a ConfigMap manifest; a workload that every filepath mode takes.
func cm(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

var dryRunT0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// dryRunPlacement is a WorkPlacement on Destination dev of request namespace/resource of
// Promise redis; workloads are path, content pairs. A content of "!raw:" followed by text is
// put in the Workload as is (not encoded).
func dryRunPlacement(t *testing.T, namespace, name, resource string, created time.Time, workloads ...string) *v1alpha1.WorkPlacement {
	t.Helper()
	sum := md5.Sum([]byte(namespace + "/" + resource))
	wp := &v1alpha1.WorkPlacement{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: v1alpha1.WorkPlacementSpec{
			TargetDestinationName: "dev",
			PromiseName:           "redis",
			ResourceName:          resource,
			ResourceNamespace:     namespace,
			PipelineName:          "configure",
			ID:                    hex.EncodeToString(sum[:]),
		},
	}
	for i := 0; i+1 < len(workloads); i += 2 {
		content, raw := strings.CutPrefix(workloads[i+1], "!raw:")
		if !raw {
			var err error
			if content, err = v1alpha1.EncodeContent([]byte(workloads[i+1])); err != nil {
				t.Fatal(err)
			}
		}
		wp.Spec.Workloads = append(wp.Spec.Workloads, v1alpha1.Workload{Filepath: workloads[i], Content: content})
	}
	return wp
}

func dryRunDestination(mode, filename string) *v1alpha1.Destination {
	return &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: "dev"},
		Spec:       v1alpha1.DestinationSpec{Path: "clusters/dev", Filepath: v1alpha1.Filepath{Mode: mode, Filename: filename}},
	}
}

// nestedDir is the placement's directory in filepath mode nestedByMetadata.
func nestedDir(t *testing.T, wp *v1alpha1.WorkPlacement) string {
	t.Helper()
	dir, err := statestore.NestedDir("clusters/dev", statestore.PlacementOf(wp))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// stateFileOf is the path and content of the placement's state file in filepath mode none,
// listing files (relative to the Destination's directory).
func stateFileOf(t *testing.T, wp *v1alpha1.WorkPlacement, files ...string) (string, string) {
	t.Helper()
	name := wp.Namespace + "." + wp.Name
	path, err := statestore.StateFile("clusters/dev", name)
	if err != nil {
		t.Fatal(err)
	}
	full := make([]string, len(files))
	for i, f := range files {
		full[i] = "clusters/dev/" + f
	}
	data, err := statestore.EncodeStateFile("clusters/dev", name, full)
	if err != nil {
		t.Fatal(err)
	}
	return path, string(data)
}

// aggregated is the content of an aggregated file: per document, "namespace/name: path" and
// the content, in order.
func aggregated(docs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(docs); i += 2 {
		b.WriteString("---\n# " + docs[i] + "\n" + docs[i+1])
	}
	return b.String()
}

func newTestDestinationView(dest *v1alpha1.Destination, store statestore.FileReader, current ...*v1alpha1.WorkPlacement) *destinationView {
	v := &destinationView{dest: dest, view: newDryRunView(store), placements: map[types.NamespacedName]*v1alpha1.WorkPlacement{}, own: map[string]bool{}}
	for _, wp := range current {
		v.placements[types.NamespacedName{Namespace: wp.Namespace, Name: wp.Name}] = wp.DeepCopy()
	}
	return v
}

// secretOfB is in every file of team-b's placement: a tenant of team-a must never see it.
const secretOfB = "s3cr3t-of-team-b"

// dryRunStep is one placement that the dry run writes (or deletes) on the Destination.
type dryRunStep struct {
	wp     *v1alpha1.WorkPlacement
	action statestore.Action
}

func TestDestinationViewSummary(t *testing.T) {
	// team-a's request "cache": the version in the store (a, b), and the dry run's (a changed,
	// b no longer written, c new).
	a1 := dryRunPlacement(t, "team-a", "cache-dev", "cache", dryRunT0, "a.yaml", cm("a", "1"), "b.yaml", cm("b", "1"))
	a2 := dryRunPlacement(t, "team-a", "cache-dev", "cache", dryRunT0, "a.yaml", cm("a", "2"), "c.yaml", cm("c", "1"))
	// team-b's request "other", older, that the dry run does not touch.
	b := dryRunPlacement(t, "team-b", "other-dev", "other", dryRunT0.Add(-time.Hour), "other.yaml", cm("other", secretOfB))
	// team-b's, writing a.yaml in filepath mode none: first to it.
	bOnA := dryRunPlacement(t, "team-b", "other-dev", "other", dryRunT0.Add(-time.Hour), "a.yaml", cm("a", secretOfB))

	dirA, dirB := nestedDir(t, a1), nestedDir(t, b)
	stateA, stateA1 := stateFileOf(t, a1, "a.yaml", "b.yaml")
	stateB, stateB1 := stateFileOf(t, b, "other.yaml")
	_, stateBOnA := stateFileOf(t, bOnA, "a.yaml")

	const agg = "clusters/dev/aggregated.yaml"
	aggA1B := aggregated("team-a/cache-dev: a.yaml", cm("a", "1"), "team-a/cache-dev: b.yaml", cm("b", "1"), "team-b/other-dev: other.yaml", cm("other", secretOfB))
	aggA2B := aggregated("team-a/cache-dev: a.yaml", cm("a", "2"), "team-a/cache-dev: c.yaml", cm("c", "1"), "team-b/other-dev: other.yaml", cm("other", secretOfB))

	tests := []struct {
		name    string
		dest    *v1alpha1.Destination
		store   memStore
		current []*v1alpha1.WorkPlacement // the Destination's placements
		steps   []dryRunStep
		tenant  bool
		// want are the Destination's files in the status; wantNew the new content of some.
		want    []string
		wantNew map[string]string
		// withheld are the files whose content the diff must not show.
		withheld []string
		// wantMessage are parts of the Destination's message; none: no message.
		wantMessage []string
		wantNoEntry bool
	}{
		{
			name: "nestedByMetadata: changed, removed (no longer written) and added; the request's own files shown to a tenant",
			dest: dryRunDestination(v1alpha1.FilepathModeNestedByMetadata, ""),
			store: memStore{
				dirA + "/a.yaml": cm("a", "1"), dirA + "/b.yaml": cm("b", "1"), dirB + "/other.yaml": cm("other", secretOfB),
			},
			current: []*v1alpha1.WorkPlacement{a1, b},
			steps:   []dryRunStep{{a2, statestore.ActionUpdate}},
			tenant:  true,
			want:    []string{"~ " + dirA + "/a.yaml", "- " + dirA + "/b.yaml", "+ " + dirA + "/c.yaml"},
			wantNew: map[string]string{dirA + "/a.yaml": cm("a", "2"), dirA + "/c.yaml": cm("c", "1")},
		},
		{
			name:    "nestedByMetadata: a new request's files are added",
			dest:    dryRunDestination(v1alpha1.FilepathModeNestedByMetadata, ""),
			store:   memStore{dirB + "/other.yaml": cm("other", secretOfB)},
			current: []*v1alpha1.WorkPlacement{b},
			steps:   []dryRunStep{{a1, statestore.ActionUpdate}},
			tenant:  true,
			want:    []string{"+ " + dirA + "/a.yaml", "+ " + dirA + "/b.yaml"},
		},
		{
			name:    "nestedByMetadata: a deleted placement's files are removed",
			dest:    dryRunDestination(v1alpha1.FilepathModeNestedByMetadata, ""),
			store:   memStore{dirA + "/a.yaml": cm("a", "1"), dirA + "/b.yaml": cm("b", "1"), dirB + "/other.yaml": cm("other", secretOfB)},
			current: []*v1alpha1.WorkPlacement{a1, b},
			steps:   []dryRunStep{{a1, statestore.ActionDelete}},
			want:    []string{"- " + dirA + "/a.yaml", "- " + dirA + "/b.yaml"},
		},
		{
			name:        "nestedByMetadata: the same files again change nothing",
			dest:        dryRunDestination(v1alpha1.FilepathModeNestedByMetadata, ""),
			store:       memStore{dirA + "/a.yaml": cm("a", "1"), dirA + "/b.yaml": cm("b", "1")},
			current:     []*v1alpha1.WorkPlacement{a1},
			steps:       []dryRunStep{{a1.DeepCopy(), statestore.ActionUpdate}},
			wantNoEntry: true,
		},
		{
			name: "none: changed, removed (no longer written, from the state file) and added, with the state file",
			dest: dryRunDestination(v1alpha1.FilepathModeNone, ""),
			store: memStore{
				"clusters/dev/a.yaml": cm("a", "1"), "clusters/dev/b.yaml": cm("b", "1"), stateA: stateA1,
				"clusters/dev/other.yaml": cm("other", secretOfB), stateB: stateB1,
			},
			current: []*v1alpha1.WorkPlacement{a1, b},
			steps:   []dryRunStep{{a2, statestore.ActionUpdate}},
			tenant:  true,
			want:    []string{"~ " + stateA, "~ clusters/dev/a.yaml", "- clusters/dev/b.yaml", "+ clusters/dev/c.yaml"},
			wantNew: map[string]string{"clusters/dev/a.yaml": cm("a", "2")},
		},
		{
			name: "none: a file that exists and that the request did not write is withheld from a tenant",
			dest: dryRunDestination(v1alpha1.FilepathModeNone, ""),
			store: memStore{
				"clusters/dev/a.yaml": cm("a", "1"), "clusters/dev/b.yaml": cm("b", "1"), stateA: stateA1,
				"clusters/dev/c.yaml": cm("c", secretOfB), // left by a placement that went
			},
			current:  []*v1alpha1.WorkPlacement{a1},
			steps:    []dryRunStep{{a2, statestore.ActionUpdate}},
			tenant:   true,
			want:     []string{"~ " + stateA, "~ clusters/dev/a.yaml", "- clusters/dev/b.yaml", "~ clusters/dev/c.yaml"},
			withheld: []string{"clusters/dev/c.yaml"},
		},
		{
			name: "none: the platform's DryRun sees every file",
			dest: dryRunDestination(v1alpha1.FilepathModeNone, ""),
			store: memStore{
				"clusters/dev/a.yaml": cm("a", "1"), "clusters/dev/b.yaml": cm("b", "1"), stateA: stateA1,
				"clusters/dev/c.yaml": cm("c", secretOfB),
			},
			current: []*v1alpha1.WorkPlacement{a1},
			steps:   []dryRunStep{{a2, statestore.ActionUpdate}},
			want:    []string{"~ " + stateA, "~ clusters/dev/a.yaml", "- clusters/dev/b.yaml", "~ clusters/dev/c.yaml"},
		},
		{
			name:        "none: a path another placement is first to is refused (ErrClaimed)",
			dest:        dryRunDestination(v1alpha1.FilepathModeNone, ""),
			store:       memStore{"clusters/dev/a.yaml": cm("a", secretOfB), stateB: stateBOnA},
			current:     []*v1alpha1.WorkPlacement{bOnA},
			steps:       []dryRunStep{{a1, statestore.ActionUpdate}},
			tenant:      true,
			wantMessage: []string{"WorkPlacement cache-dev would not be written", "is another WorkPlacement's", "team-b/other-dev"},
		},
		{
			name:        "none: a path in the engine's directory is refused (ErrInvalidPath)",
			dest:        dryRunDestination(v1alpha1.FilepathModeNone, ""),
			store:       memStore{},
			steps:       []dryRunStep{{dryRunPlacement(t, "team-a", "cache-dev", "cache", dryRunT0, ".kratix/evil.state", "x"), statestore.ActionUpdate}},
			wantMessage: []string{"WorkPlacement cache-dev would not be written", "invalid path"},
		},
		{
			name:        "nestedByMetadata: a path out of the placement's directory is refused (ErrInvalidPath)",
			dest:        dryRunDestination(v1alpha1.FilepathModeNestedByMetadata, ""),
			store:       memStore{},
			steps:       []dryRunStep{{dryRunPlacement(t, "team-a", "cache-dev", "cache", dryRunT0, "../../escape.yaml", cm("e", "1")), statestore.ActionUpdate}},
			wantMessage: []string{"WorkPlacement cache-dev would not be written", "invalid path"},
		},
		{
			name:  "nestedByMetadata: content that does not decode is refused (ErrInvalidContent), the other placement still written",
			dest:  dryRunDestination(v1alpha1.FilepathModeNestedByMetadata, ""),
			store: memStore{},
			steps: []dryRunStep{
				{dryRunPlacement(t, "team-a", "cache-dev", "cache", dryRunT0, "a.yaml", "!raw:not base64(gzip)"), statestore.ActionUpdate},
				{dryRunPlacement(t, "team-a", "cache-prod", "cache2", dryRunT0, "x.yaml", "!raw:%%%"), statestore.ActionUpdate},
				{b, statestore.ActionUpdate},
			},
			want:        []string{"+ " + dirB + "/other.yaml"},
			wantMessage: []string{"WorkPlacement cache-dev would not be written", "invalid workload content", "; WorkPlacement cache-prod would not be written"},
		},
		{
			name:     "aggregatedYAML: the file shared with another placement changes; its content is withheld from a tenant",
			dest:     dryRunDestination(v1alpha1.FilepathModeAggregatedYAML, ""),
			store:    memStore{agg: aggA1B},
			current:  []*v1alpha1.WorkPlacement{a1, b},
			steps:    []dryRunStep{{a2, statestore.ActionUpdate}},
			tenant:   true,
			want:     []string{"~ " + agg},
			wantNew:  map[string]string{agg: aggA2B},
			withheld: []string{agg},
		},
		{
			name:    "aggregatedYAML: the platform's DryRun sees the shared file",
			dest:    dryRunDestination(v1alpha1.FilepathModeAggregatedYAML, ""),
			store:   memStore{agg: aggA1B},
			current: []*v1alpha1.WorkPlacement{a1, b},
			steps:   []dryRunStep{{a2, statestore.ActionUpdate}},
			want:    []string{"~ " + agg},
			wantNew: map[string]string{agg: aggA2B},
		},
		{
			name:     "aggregatedYAML: a named file; a deleted placement leaves the others' workloads",
			dest:     dryRunDestination(v1alpha1.FilepathModeAggregatedYAML, "all.yaml"),
			store:    memStore{"clusters/dev/all.yaml": aggA1B},
			current:  []*v1alpha1.WorkPlacement{a1, b},
			steps:    []dryRunStep{{a1, statestore.ActionDelete}},
			tenant:   true,
			want:     []string{"~ clusters/dev/all.yaml"},
			wantNew:  map[string]string{"clusters/dev/all.yaml": aggregated("team-b/other-dev: other.yaml", cm("other", secretOfB))},
			withheld: []string{"clusters/dev/all.yaml"},
		},
		{
			name:    "aggregatedYAML: the last placement deleted removes the file",
			dest:    dryRunDestination(v1alpha1.FilepathModeAggregatedYAML, ""),
			store:   memStore{agg: aggregated("team-a/cache-dev: a.yaml", cm("a", "1"), "team-a/cache-dev: b.yaml", cm("b", "1"))},
			current: []*v1alpha1.WorkPlacement{a1},
			steps:   []dryRunStep{{a1, statestore.ActionDelete}},
			want:    []string{"- " + agg},
		},
		{
			name: "aggregatedYAML: a new file that holds another placement's workloads is withheld from a tenant",
			dest: dryRunDestination(v1alpha1.FilepathModeAggregatedYAML, ""),
			// team-b's placement is not written yet (its store was emptied, or its write is
			// pending): the file the request's write makes holds team-b's workloads.
			store:    memStore{},
			current:  []*v1alpha1.WorkPlacement{b},
			steps:    []dryRunStep{{a2, statestore.ActionUpdate}},
			tenant:   true,
			want:     []string{"+ " + agg},
			wantNew:  map[string]string{agg: aggA2B},
			withheld: []string{agg},
		},
		{
			name:        "aggregatedYAML: a file that is not a manifest is refused (ErrInvalidContent)",
			dest:        dryRunDestination(v1alpha1.FilepathModeAggregatedYAML, ""),
			store:       memStore{agg: aggA1B},
			current:     []*v1alpha1.WorkPlacement{a1, b},
			steps:       []dryRunStep{{dryRunPlacement(t, "team-a", "cache-dev", "cache", dryRunT0, "notes.txt", "hello"), statestore.ActionUpdate}},
			tenant:      true,
			wantMessage: []string{"WorkPlacement cache-dev would not be written", "invalid workload content", "aggregatedYAML holds only"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			v := newTestDestinationView(tt.dest, tt.store, tt.current...)
			for _, s := range tt.steps {
				if err := v.apply(ctx, s.wp.DeepCopy(), s.action); err != nil {
					t.Fatalf("apply %s %s: %v", s.action, s.wp.Name, err)
				}
			}
			d, changes, ok := v.summary(tt.tenant)
			if tt.wantNoEntry {
				if ok {
					t.Fatalf("the Destination is in the status: %+v", d)
				}
				return
			}
			if !ok {
				t.Fatalf("the Destination is not in the status")
			}
			if d.Destination != "dev" {
				t.Errorf("Destination %q, want dev", d.Destination)
			}
			if !slices.Equal(d.Files, tt.want) {
				t.Errorf("files\n got %q\nwant %q", d.Files, tt.want)
			}
			var added, changed, removed int
			for _, f := range tt.want {
				switch f[0] {
				case '+':
					added++
				case '~':
					changed++
				case '-':
					removed++
				}
			}
			if d.Added != added || d.Changed != changed || d.Removed != removed {
				t.Errorf("%d added, %d changed, %d removed; want %d, %d, %d", d.Added, d.Changed, d.Removed, added, changed, removed)
			}
			for path, want := range tt.wantNew {
				i := slices.IndexFunc(changes, func(c fileChange) bool { return c.path == path })
				if i < 0 {
					t.Errorf("no change of %s", path)
					continue
				}
				if string(changes[i].new) != want {
					t.Errorf("%s would be\n%s\nwant\n%s", path, changes[i].new, want)
				}
			}
			for _, c := range changes {
				if want := slices.Contains(tt.withheld, c.path); c.withheld != want {
					t.Errorf("%s: withheld %v, want %v", c.path, c.withheld, want)
				}
			}
			diff, err := unifiedDiff(changes)
			if err != nil {
				t.Fatal(err)
			}
			if seen := strings.Contains(diff, secretOfB); seen && tt.tenant {
				t.Errorf("a tenant's diff shows another's content:\n%s", diff)
			}
			for _, c := range changes {
				// A blob's hash confirms a guess of its content: withheld, it is not shown.
				for _, content := range [][]byte{c.old, c.new} {
					if h := plumbing.ComputeHash(plumbing.BlobObject, content).String()[:7]; c.withheld && content != nil && strings.Contains(diff, h) {
						t.Errorf("the diff shows the hash %s of withheld %s:\n%s", h, c.path, diff)
					}
				}
			}
			if len(tt.wantMessage) == 0 && d.Message != "" {
				t.Errorf("message %q, want none", d.Message)
			}
			for _, part := range tt.wantMessage {
				if !strings.Contains(d.Message, part) {
					t.Errorf("message %q lacks %q", d.Message, part)
				}
			}
		})
	}
}

// TestDryRunViewApply: the view answers reads from what the changes applied so far wrote, then
// from the store, and lists as changes exactly the files whose content would differ.
func TestDryRunViewApply(t *testing.T) {
	ctx := context.Background()
	file := func(p, c string) statestore.File { return statestore.File{Path: p, Content: []byte(c)} }
	tests := []struct {
		name    string
		store   memStore
		learned []statestore.File // the files the view is told exist
		changes []statestore.Change
		want    []string          // kind and path of the changes
		reads   map[string]string // path: content, or "<missing>"
	}{
		{
			name:    "write, overwrite and remove",
			store:   memStore{"d/a": "1", "d/b": "1", "d/same": "s"},
			changes: []statestore.Change{{Files: []statestore.File{file("d/a", "2"), file("d/c", "1"), file("d/same", "s")}, Remove: []string{"d/b"}}},
			want:    []string{"~ d/a", "- d/b", "+ d/c"},
			reads:   map[string]string{"d/a": "2", "d/b": "<missing>", "d/c": "1", "d/same": "s"},
		},
		{
			name:    "a Dir replaced removes the known files in it that it does not write, and only those",
			store:   memStore{"d/x/a": "1", "d/x/b": "1", "d/x/unknown": "1", "d/y/a": "1", "d/xx": "1"},
			learned: []statestore.File{file("d/x/a", ""), file("d/x/b", ""), file("d/y/a", ""), file("d/xx", "")},
			changes: []statestore.Change{{Dir: "d/x", Files: []statestore.File{file("d/x/a", "2")}}},
			want:    []string{"~ d/x/a", "- d/x/b"},
			reads:   map[string]string{"d/x/b": "<missing>", "d/x/unknown": "1", "d/y/a": "1", "d/xx": "1"},
		},
		{
			name:    "a Dir with no files removes the known files in it",
			store:   memStore{"d/x/a": "1", "d/x/sub/b": "1"},
			learned: []statestore.File{file("d/x/a", ""), file("d/x/sub/b", "")},
			changes: []statestore.Change{{Dir: "d/x"}},
			want:    []string{"- d/x/a", "- d/x/sub/b"},
		},
		{
			name:    "a file the changes write then remove, or remove then write back, is no change",
			store:   memStore{"d/back": "1"},
			changes: []statestore.Change{{Files: []statestore.File{file("d/new", "1")}, Remove: []string{"d/back"}}, {Files: []statestore.File{file("d/back", "1")}, Remove: []string{"d/new"}}},
			reads:   map[string]string{"d/new": "<missing>", "d/back": "1"},
		},
		{
			name:    "a file written by an earlier change is known to a later Dir",
			store:   memStore{},
			changes: []statestore.Change{{Files: []statestore.File{file("d/x/a", "1"), file("d/x/b", "1")}}, {Dir: "d/x", Files: []statestore.File{file("d/x/a", "1")}}},
			want:    []string{"+ d/x/a"},
			reads:   map[string]string{"d/x/b": "<missing>"},
		},
		{
			name:    "an empty file is a file",
			store:   memStore{"d/empty": ""},
			changes: []statestore.Change{{Files: []statestore.File{file("d/new-empty", "")}, Remove: []string{"d/empty"}}},
			want:    []string{"- d/empty", "+ d/new-empty"},
			reads:   map[string]string{"d/new-empty": "", "d/empty": "<missing>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newDryRunView(tt.store)
			v.learn(statestore.Change{Files: tt.learned})
			for _, c := range tt.changes {
				if _, err := v.Apply(ctx, c); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			var got []string
			for _, c := range v.changes() {
				got = append(got, c.kind()+" "+c.path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("changes %q, want %q", got, tt.want)
			}
			for path, want := range tt.reads {
				content, err := v.Read(ctx, path)
				switch {
				case want == "<missing>":
					if !errors.Is(err, statestore.ErrNotFound) {
						t.Errorf("read %s: %q, %v; want ErrNotFound", path, content, err)
					}
				case err != nil || string(content) != want:
					t.Errorf("read %s: %q, %v; want %q", path, content, err, want)
				}
			}
			for path, content := range tt.store {
				if tt.store[path] != content {
					t.Errorf("the store's %s changed", path)
				}
			}
		})
	}
}

// TestDryRunViewErrors: the store's errors reach the caller; a change a writer would refuse is
// refused.
func TestDryRunViewErrors(t *testing.T) {
	ctx := context.Background()
	broken := newDryRunView(failingStore{})
	if _, err := broken.Read(ctx, "d/a"); !errors.Is(err, statestore.ErrTransient) {
		t.Errorf("Read through a broken store: %v, want ErrTransient", err)
	}
	if _, err := broken.Apply(ctx, statestore.Change{Files: []statestore.File{{Path: "d/a", Content: []byte("x")}}}); !errors.Is(err, statestore.ErrTransient) {
		t.Errorf("Apply through a broken store: %v, want ErrTransient", err)
	}
	v := newDryRunView(memStore{})
	for _, c := range []statestore.Change{
		{Dir: "d/x", Files: []statestore.File{{Path: "d/y/a", Content: []byte("x")}}},
		{Files: []statestore.File{{Path: "../a", Content: []byte("x")}}},
		{Remove: []string{"/abs"}},
	} {
		if _, err := v.Apply(ctx, c); !errors.Is(err, statestore.ErrInvalidPath) {
			t.Errorf("Apply %+v: %v, want ErrInvalidPath", c, err)
		}
	}
	if len(v.changes()) != 0 {
		t.Errorf("refused changes left changes: %+v", v.changes())
	}
}

// TestBoundDiff: a diff within the bound, as the API server stores it (JSON-escaped), is kept;
// a longer one is cut at a line's end and says so, and fits the bound escaped.
func TestBoundDiff(t *testing.T) {
	lines := func(line string, n int) string { return strings.Repeat(line+"\n", n) }
	tests := []struct {
		name string
		diff string
		// max is the bound; 0 or less: the diff's escaped length plus max.
		max       int
		truncated bool
		// someKept: the first lines fit, and are kept.
		someKept bool
	}{
		{"short", lines("+a", 3), 100, false, true},
		{"exactly the bound", lines("+abcd", 10), 0, false, true},
		{"one byte over", lines("+abcd", 100), -1, true, true},
		{"long", lines("+ line of a file", 1000), 1000, true, true},
		// 300 raw bytes, 1760 escaped: "<" is \u003c, a newline \n.
		{"within the bound raw, over it escaped", lines("<<<<<<<<<<<<<<<<<<<<<<<<<<<<<", 10), 400, true, true},
		{"control characters", lines("\x01\x02\x03 tab\t", 100), 500, true, true},
		{"a first line longer than the bound", strings.Repeat("x", 5000) + "\nshort\n", 200, true, false},
		{"no newline at the end", lines("+a", 100) + strings.Repeat("y", 50), 120, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max <= 0 {
				max += encodedLen(tt.diff)
			}
			got, truncated := boundDiff(tt.diff, max)
			if truncated != tt.truncated {
				t.Fatalf("truncated %v, want %v (encoded length %d, bound %d)", truncated, tt.truncated, encodedLen(tt.diff), max)
			}
			if !truncated {
				if got != tt.diff {
					t.Errorf("the diff changed")
				}
				return
			}
			if n := encodedLen(got); n > max {
				t.Errorf("the bounded diff takes %d bytes escaped, over the bound %d", n, max)
			}
			kept, marker, found := strings.Cut(got, "\n# ... diff truncated at a line's end before ")
			if !found {
				t.Fatalf("no truncation marker at the end of %q", got)
			}
			if !strings.HasSuffix(marker, fmt.Sprintf(" of its %d bytes\n", encodedLen(tt.diff))) {
				t.Errorf("marker %q does not give the diff's size %d", marker, encodedLen(tt.diff))
			}
			if kept != "" && !strings.HasPrefix(tt.diff, kept+"\n") {
				t.Errorf("the kept part is not whole lines of the diff: %q", kept)
			}
			if (kept != "") != tt.someKept {
				t.Errorf("kept %q, want some lines kept: %v", kept, tt.someKept)
			}
		})
	}
}
