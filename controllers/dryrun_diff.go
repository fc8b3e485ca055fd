package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	fdiff "github.com/go-git/go-git/v5/plumbing/format/diff"
	gitdiff "github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
	"k8s.io/apimachinery/pkg/types"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// dryRunView is a statestore.Writer that writes nothing: it answers reads from the real store
// (read only) and from the changes applied to it so far, and records those changes. A dry run
// hands it to the same code that builds a placement's change on the real path
// (statestore.BuildPlacementChange), and applies those changes to it instead of to the store:
// what it then holds differs from the store exactly where the real update would write.
type dryRunView struct {
	store statestore.FileReader
	// base caches the store's content of the paths read or touched; nil: no such file.
	base map[string][]byte
	// overlay holds what the changes wrote; nil: removed.
	overlay map[string][]byte
	// known are files that exist in the store (or the overlay) as far as the view was told:
	// a change that replaces a directory removes those in it that it does not write again.
	known map[string]bool
}

var _ statestore.Writer = (*dryRunView)(nil)

func newDryRunView(store statestore.FileReader) *dryRunView {
	return &dryRunView{store: store, base: map[string][]byte{}, overlay: map[string][]byte{}, known: map[string]bool{}}
}

// original returns the store's content of path, nil when there is no such file.
func (v *dryRunView) original(ctx context.Context, path string) ([]byte, error) {
	if content, ok := v.base[path]; ok {
		return content, nil
	}
	content, err := v.store.Read(ctx, path)
	switch {
	case errors.Is(err, statestore.ErrNotFound):
		content = nil
	case err != nil:
		return nil, err
	case content == nil:
		content = []byte{}
	}
	v.base[path] = content
	return content, nil
}

// Read answers from the changes applied so far, else from the store.
func (v *dryRunView) Read(ctx context.Context, path string) ([]byte, error) {
	if content, ok := v.overlay[path]; ok {
		if content == nil {
			return nil, statestore.NewError(statestore.ErrNotFound, "read "+path, errors.New("removed by the dry run"))
		}
		return content, nil
	}
	content, err := v.original(ctx, path)
	if err != nil {
		return nil, err
	}
	if content == nil {
		return nil, statestore.NewError(statestore.ErrNotFound, "read "+path, errors.New("no such file"))
	}
	return content, nil
}

// Apply records the change as the real writers would make it: a Dir is replaced by the Files
// (the files known in it and not written again are removed), then Files are written and
// Remove removed.
func (v *dryRunView) Apply(ctx context.Context, change statestore.Change) (statestore.Result, error) {
	change, err := change.Validate()
	if err != nil {
		return statestore.Result{}, err
	}
	writes := make(map[string][]byte, len(change.Files))
	for _, f := range change.Files {
		writes[f.Path] = f.Content
	}
	if change.Dir != "" {
		for p := range v.known {
			if _, again := writes[p]; !again && statestore.IsWithin(change.Dir, p) {
				if err := v.set(ctx, p, nil); err != nil {
					return statestore.Result{}, err
				}
			}
		}
	}
	for _, f := range change.Files {
		if err := v.set(ctx, f.Path, f.Content); err != nil {
			return statestore.Result{}, err
		}
	}
	for _, p := range change.Remove {
		if err := v.set(ctx, p, nil); err != nil {
			return statestore.Result{}, err
		}
	}
	return statestore.Result{Changed: true}, nil
}

func (v *dryRunView) set(ctx context.Context, path string, content []byte) error {
	if _, err := v.original(ctx, path); err != nil {
		return err
	}
	if content != nil && len(content) == 0 {
		content = []byte{}
	}
	v.overlay[path] = content
	v.known[path] = content != nil
	return nil
}

// learn tells the view that the files of a change exist (a placement's files as last written).
func (v *dryRunView) learn(change statestore.Change) {
	for _, f := range change.Files {
		if _, touched := v.overlay[f.Path]; !touched {
			v.known[f.Path] = true
		}
	}
}

// Validate does nothing: the view writes nothing.
func (v *dryRunView) Validate(context.Context) error { return nil }

// Close does nothing.
func (v *dryRunView) Close() error { return nil }

// fileChange is one file that the update would add, change or remove.
type fileChange struct {
	path     string
	old, new []byte // nil: absent
	// withheld: the diff says that the file changes, not how (its content is another's).
	withheld bool
}

// kind is "+", "~" or "-".
func (c fileChange) kind() string {
	switch {
	case c.old == nil:
		return "+"
	case c.new == nil:
		return "-"
	}
	return "~"
}

// changes lists the files whose content the changes applied differ from the store's, by path.
func (v *dryRunView) changes() []fileChange {
	var out []fileChange
	for p, content := range v.overlay {
		old := v.base[p]
		if (old == nil) == (content == nil) && bytes.Equal(old, content) {
			continue
		}
		out = append(out, fileChange{path: p, old: old, new: content})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// destinationView is one Destination as the dry run sees it: its store's view and its
// placements, those the dry run changed in place of the real ones.
type destinationView struct {
	dest       *v1alpha1.Destination
	view       *dryRunView
	placements map[types.NamespacedName]*v1alpha1.WorkPlacement
	// problems say what the real path would refuse to write (claimed paths, invalid content).
	problems []string
	// own are the files that the current version of a placement the dry run replaces wrote,
	// in a file of its own (not in filepath mode aggregatedYAML, whose one file holds every
	// placement's workloads): the request's own files, whose content its DryRun may show.
	own map[string]bool
}

func (d *destinationView) neighbours() []v1alpha1.WorkPlacement {
	out := make([]v1alpha1.WorkPlacement, 0, len(d.placements))
	for _, wp := range d.placements {
		out = append(out, *wp)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

// apply builds the change of a placement as the WorkPlacement controller would (statestore.
// BuildPlacementChange) and applies it to the view. Before it learns the files that the
// placement's current version wrote, so that a change replacing its directory removes those it
// no longer writes.
func (d *destinationView) apply(ctx context.Context, wp *v1alpha1.WorkPlacement, action statestore.Action) error {
	key := types.NamespacedName{Namespace: wp.Namespace, Name: wp.Name}
	if old := d.placements[key]; old != nil && !old.IsMisscheduled() {
		if pc, err := statestore.BuildPlacementChange(ctx, d.view, statestore.PlacementInput{
			Action: statestore.ActionUpdate, Placement: old, Destination: d.dest, Neighbours: d.neighbours(),
		}); err == nil {
			d.view.learn(pc.Change)
			if d.dest.Spec.Filepath.Mode != v1alpha1.FilepathModeAggregatedYAML {
				for _, f := range pc.Change.Files {
					d.own[f.Path] = true
				}
			}
		}
	}
	in := statestore.PlacementInput{Action: action, Placement: wp, Destination: d.dest}
	if statestore.NeedsNeighbours(d.dest) {
		in.Neighbours = d.neighbours()
	}
	pc, err := statestore.BuildPlacementChange(ctx, d.view, in)
	if err == nil {
		// The writer checks the change's paths (a workload's path out of its directory in
		// filepath mode nestedByMetadata, say) as the view does: its refusal is the placement's.
		_, err = d.view.Apply(ctx, pc.Change)
	}
	switch {
	case errors.Is(err, statestore.ErrInvalidContent), errors.Is(err, statestore.ErrClaimed), errors.Is(err, statestore.ErrInvalidPath):
		d.problems = append(d.problems, fmt.Sprintf("WorkPlacement %s would not be written: %v", wp.Name, err))
		return nil
	case err != nil:
		return err
	}
	if action == statestore.ActionDelete {
		delete(d.placements, key)
	} else {
		d.placements[key] = wp
	}
	return nil
}

// summary is the Destination's entry in a DryRun's status, and the files that differ on it; ok
// is false when nothing differs and nothing would be refused. tenant: the DryRun is a tenant's
// (not in the platform namespace), which sees its request's own files only.
func (d *destinationView) summary(tenant bool) (v1alpha1.DryRunDestination, []fileChange, bool) {
	changes := d.view.changes()
	if len(changes) == 0 && len(d.problems) == 0 {
		return v1alpha1.DryRunDestination{}, nil, false
	}
	// What the real write would refuse (a path another placement claims, say) is the
	// Destination's message.
	out := v1alpha1.DryRunDestination{Destination: d.dest.Name, Message: eventNote(strings.Join(d.problems, "; "))}
	for i := range changes {
		c := &changes[i]
		// A tenant's DryRun sees its request's files: of a file that exists and that its
		// request's placements did not write (another placement's), or of the one file of an
		// aggregatedYAML Destination, which holds the other placements' workloads too (new or
		// not), it learns that it changes, not its content.
		c.withheld = tenant && !d.own[c.path] && (c.old != nil || statestore.SharesFile(d.dest))
		switch c.kind() {
		case "+":
			out.Added++
		case "-":
			out.Removed++
		default:
			out.Changed++
		}
		if len(out.Files) < dryRunMaxFiles {
			out.Files = append(out.Files, c.kind()+" "+c.path)
		}
	}
	if n := len(changes) - len(out.Files); n > 0 {
		out.Files = append(out.Files, fmt.Sprintf("... and %d more", n))
	}
	return out, changes, true
}

// unifiedDiff renders the changes as a Git-style unified diff, paths relative to the store's
// root, with three lines of context.
func unifiedDiff(changes []fileChange) (string, error) {
	patch := dryRunPatch{}
	for _, c := range changes {
		patch.files = append(patch.files, newFilePatch(c))
	}
	var buf strings.Builder
	if err := fdiff.NewUnifiedEncoder(&buf, fdiff.DefaultContextLines).Encode(patch); err != nil {
		return "", err
	}
	return buf.String(), nil
}

type dryRunPatch struct{ files []fdiff.FilePatch }

func (p dryRunPatch) FilePatches() []fdiff.FilePatch { return p.files }
func (p dryRunPatch) Message() string                { return "" }

type dryRunFile struct {
	path string
	hash plumbing.Hash
}

func (f dryRunFile) Hash() plumbing.Hash     { return f.hash }
func (f dryRunFile) Mode() filemode.FileMode { return filemode.Regular }
func (f dryRunFile) Path() string            { return f.path }

type dryRunChunk struct {
	content string
	op      fdiff.Operation
}

func (c dryRunChunk) Content() string       { return c.content }
func (c dryRunChunk) Type() fdiff.Operation { return c.op }

type dryRunFilePatch struct {
	from, to fdiff.File
	chunks   []fdiff.Chunk
	binary   bool
}

func (p dryRunFilePatch) IsBinary() bool                  { return p.binary }
func (p dryRunFilePatch) Files() (fdiff.File, fdiff.File) { return p.from, p.to }
func (p dryRunFilePatch) Chunks() []fdiff.Chunk           { return p.chunks }

func newFilePatch(c fileChange) dryRunFilePatch {
	var p dryRunFilePatch
	// A blob's hash would confirm a guess of withheld content: those show a zero hash.
	hash := func(content []byte) plumbing.Hash {
		if c.withheld {
			return plumbing.ZeroHash
		}
		return plumbing.ComputeHash(plumbing.BlobObject, content)
	}
	if c.old != nil {
		p.from = dryRunFile{path: c.path, hash: hash(c.old)}
	}
	if c.new != nil {
		p.to = dryRunFile{path: c.path, hash: hash(c.new)}
	}
	if c.withheld || bytes.IndexByte(c.old, 0) >= 0 || bytes.IndexByte(c.new, 0) >= 0 {
		p.binary = true
		return p
	}
	for _, d := range gitdiff.Do(string(c.old), string(c.new)) {
		op := fdiff.Equal
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			op = fdiff.Add
		case diffmatchpatch.DiffDelete:
			op = fdiff.Delete
		}
		p.chunks = append(p.chunks, dryRunChunk{content: d.Text, op: op})
	}
	return p
}

// boundDiff cuts a diff longer than max bytes, as the API server stores it (JSON: "<" or a
// control character takes six bytes), at a line's end and says so at its end.
func boundDiff(diff string, max int) (string, bool) {
	size := encodedLen(diff)
	if size <= max {
		return diff, false
	}
	marker := fmt.Sprintf("\n# ... diff truncated at a line's end before %d of its %d bytes\n", max, size)
	budget := max - encodedLen(marker)
	cut, used := 0, 0
	for cut < len(diff) {
		end := strings.IndexByte(diff[cut:], '\n')
		if end < 0 {
			break
		}
		n := encodedLen(diff[cut : cut+end+1])
		if used+n > budget {
			break
		}
		used += n
		cut += end + 1
	}
	return strings.TrimSuffix(diff[:cut], "\n") + marker, true
}

// encodedLen is the length of s in a JSON string, without its quotes.
func encodedLen(s string) int {
	data, err := json.Marshal(s)
	if err != nil {
		return len(s) * 6 // not reached: a string always encodes
	}
	return len(data) - 2
}
