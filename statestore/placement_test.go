package statestore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// files is a FileReader over a map: a unit-test stand-in for a store; the write paths through
// real Git and S3 stores are tested in controllers/workplacement_*_test.go.
type files map[string]string

func (f files) Read(_ context.Context, path string) ([]byte, error) {
	s, ok := f[path]
	if !ok {
		return nil, statestore.NewError(statestore.ErrNotFound, "read "+path, nil)
	}
	return []byte(s), nil
}

// brokenReader fails every read as a store that cannot be reached does.
type brokenReader struct{}

func (brokenReader) Read(context.Context, string) ([]byte, error) {
	return nil, statestore.NewError(statestore.ErrTransient, "read", errors.New("connection refused"))
}

const groupID = "0123456789abcdef0123456789abcdef"

func placement(t *testing.T, name string, workloads map[string]string) v1alpha1.WorkPlacement {
	t.Helper()
	wp := v1alpha1.WorkPlacement{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name},
		Spec: v1alpha1.WorkPlacementSpec{
			TargetDestinationName: "dev",
			PromiseName:           "redis",
			ResourceName:          "cache",
			ResourceNamespace:     "team-a",
			PipelineName:          "configure",
			ID:                    groupID,
		},
	}
	paths := make([]string, 0, len(workloads))
	for p := range workloads {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		content, err := v1alpha1.EncodeContent([]byte(workloads[p]))
		if err != nil {
			t.Fatal(err)
		}
		wp.Spec.Workloads = append(wp.Spec.Workloads, v1alpha1.Workload{Filepath: p, Content: content})
	}
	return wp
}

func destinationIn(mode, filename string) *v1alpha1.Destination {
	return &v1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: "dev"},
		Spec: v1alpha1.DestinationSpec{
			Path:     "clusters/dev",
			Filepath: v1alpha1.Filepath{Mode: mode, Filename: filename},
		},
	}
}

func paths(fs []statestore.File) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestBuildPlacementChange(t *testing.T) {
	statestore.SetAggregatedBudget(t, 1<<20) // an aggregated file holds 1 MiB here
	nestedDir := "clusters/dev/resources/team-a/redis/cache/configure/01234"
	wp := placement(t, "cache-dev", map[string]string{"deploy.yaml": "apiVersion: v1\nkind: Deployment\n", "svc/svc.yaml": "apiVersion: v1\nkind: Service\n"})
	written := wp.DeepCopy()
	written.Status.Path = "clusters/dev/resources/team-a/redis/cache/configure/old00"
	other := placement(t, "another", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"})
	gone := placement(t, "gone", map[string]string{"gone.yaml": "apiVersion: v1\nkind: Gone\n"})
	gone.DeletionTimestamp = ptr(metav1.Now())
	invalid := placement(t, "invalid", nil)
	invalid.Spec.Workloads = []v1alpha1.Workload{{Filepath: "x.yaml", Content: "not base64 gzip"}}
	stale := placement(t, "cache-dev", map[string]string{"stale.yaml": "apiVersion: v1\nkind: Stale\n"})
	state := files{"clusters/dev/.kratix/team-a.cache-dev.state": "# state\nold.yaml\ndeploy.yaml\n"}

	for _, tc := range []struct {
		name       string
		reader     statestore.FileReader
		in         statestore.PlacementInput
		wantPath   string
		wantDir    string
		wantFiles  []string
		wantRemove []string
		wantCount  int
		// wantContent is the content of the first written file, when set.
		wantContent string
		wantErr     error
	}{{
		name:      "nestedByMetadata write replaces the placement's directory",
		in:        statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeNestedByMetadata, "")},
		wantPath:  nestedDir,
		wantDir:   nestedDir,
		wantFiles: []string{nestedDir + "/deploy.yaml", nestedDir + "/svc/svc.yaml"},
		wantCount: 2,
	}, {
		name:     "nestedByMetadata delete removes the directory the status records",
		in:       statestore.PlacementInput{Action: statestore.ActionDelete, Placement: written, Destination: destinationIn(v1alpha1.FilepathModeNestedByMetadata, "")},
		wantPath: written.Status.Path,
		wantDir:  written.Status.Path,
	}, {
		name:     "nestedByMetadata delete of a placement with no status computes its directory",
		in:       statestore.PlacementInput{Action: statestore.ActionDelete, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeNestedByMetadata, "")},
		wantPath: nestedDir,
		wantDir:  nestedDir,
	}, {
		name:      "none first write lists its files in a state file",
		reader:    files{},
		in:        statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantPath:  "clusters/dev",
		wantFiles: []string{"clusters/dev/deploy.yaml", "clusters/dev/svc/svc.yaml", "clusters/dev/.kratix/team-a.cache-dev.state"},
		wantCount: 2,
	}, {
		name:       "none write removes what the last write had and this one lacks",
		reader:     state,
		in:         statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantPath:   "clusters/dev",
		wantFiles:  []string{"clusters/dev/deploy.yaml", "clusters/dev/svc/svc.yaml", "clusters/dev/.kratix/team-a.cache-dev.state"},
		wantRemove: []string{"clusters/dev/old.yaml"},
		wantCount:  2,
	}, {
		name:       "none delete removes exactly the files the state file lists, and it",
		reader:     state,
		in:         statestore.PlacementInput{Action: statestore.ActionDelete, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantPath:   "clusters/dev",
		wantRemove: []string{"clusters/dev/old.yaml", "clusters/dev/deploy.yaml", "clusters/dev/.kratix/team-a.cache-dev.state"},
	}, {
		name:    "none refuses a state file edited to name a file outside the Destination",
		reader:  files{"clusters/dev/.kratix/team-a.cache-dev.state": "../prod/secret.yaml\n"},
		in:      statestore.PlacementInput{Action: statestore.ActionDelete, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantErr: statestore.ErrInvalidPath,
	}, {
		name:    "none passes on the store's error when the state file cannot be read",
		reader:  brokenReader{},
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantErr: statestore.ErrTransient,
	}, {
		name:      "aggregatedYAML writes every live placement sorted, the one at hand in place of its stale copy",
		in:        statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, ""), Neighbours: []v1alpha1.WorkPlacement{stale, other, gone, invalid}},
		wantPath:  "clusters/dev/aggregated.yaml",
		wantFiles: []string{"clusters/dev/aggregated.yaml"},
		wantCount: 2,
		wantContent: "---\n# team-a/another: cm.yaml\napiVersion: v1\nkind: ConfigMap\n" +
			"---\n# team-a/cache-dev: deploy.yaml\napiVersion: v1\nkind: Deployment\n" +
			"---\n# team-a/cache-dev: svc/svc.yaml\napiVersion: v1\nkind: Service\n",
	}, {
		name:        "aggregatedYAML delete rewrites the file without the placement",
		in:          statestore.PlacementInput{Action: statestore.ActionDelete, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, "all.yaml"), Neighbours: []v1alpha1.WorkPlacement{stale, other}},
		wantPath:    "clusters/dev/all.yaml",
		wantFiles:   []string{"clusters/dev/all.yaml"},
		wantContent: "---\n# team-a/another: cm.yaml\napiVersion: v1\nkind: ConfigMap\n",
	}, {
		name:       "aggregatedYAML delete of the last placement removes the file",
		in:         statestore.PlacementInput{Action: statestore.ActionDelete, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, ""), Neighbours: []v1alpha1.WorkPlacement{stale, gone}},
		wantPath:   "clusters/dev/aggregated.yaml",
		wantRemove: []string{"clusters/dev/aggregated.yaml"},
	}, {
		name:    "aggregatedYAML refuses a file name that is a path",
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &wp, Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, "../prod.yaml")},
		wantErr: statestore.ErrInvalidPath,
	}, {
		name:    "aggregatedYAML refuses a workload that is not a manifest file",
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: ptr(placement(t, "notes", map[string]string{"README.md": "# notes\n"})), Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, "")},
		wantErr: statestore.ErrInvalidContent,
	}, {
		name:    "aggregatedYAML refuses a workload that is not YAML",
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: ptr(placement(t, "broken", map[string]string{"cm.yaml": "a: [1, 2\n"})), Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, "")},
		wantErr: statestore.ErrInvalidContent,
	}, {
		name:        "aggregatedYAML leaves out a neighbour that is not YAML",
		in:          statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &other, Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, ""), Neighbours: []v1alpha1.WorkPlacement{placement(t, "broken", map[string]string{"cm.yaml": "a: [1, 2\n"})}},
		wantPath:    "clusters/dev/aggregated.yaml",
		wantFiles:   []string{"clusters/dev/aggregated.yaml"},
		wantCount:   1,
		wantContent: "---\n# team-a/another: cm.yaml\napiVersion: v1\nkind: ConfigMap\n",
	}, {
		name:    "workloads that decode to more than a Work holds in all are invalid content",
		reader:  files{},
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: ptr(placement(t, "bomb", map[string]string{"a.txt": zeros(40 << 20), "b.txt": zeros(40 << 20)})), Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantErr: statestore.ErrInvalidContent,
	}, {
		name:    "a placement that does not fit in what the others left of the aggregated file",
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: ptr(placement(t, "zz-last", map[string]string{"cm.yaml": "# " + zeros(600<<10)})), Destination: destinationIn(v1alpha1.FilepathModeAggregatedYAML, ""), Neighbours: []v1alpha1.WorkPlacement{placement(t, "big-1", map[string]string{"a.yaml": "# " + zeros(600<<10)}), placement(t, "big-2", map[string]string{"a.yaml": "# " + zeros(600<<10)})}},
		wantErr: statestore.ErrInvalidContent,
	}, {
		name:    "a workload that cannot be decoded is invalid content, in every mode",
		reader:  files{},
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &invalid, Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantErr: statestore.ErrInvalidContent,
	}, {
		name:    "a workload path that leaves the Destination is refused",
		reader:  files{},
		in:      statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: ptr(placement(t, "escape", map[string]string{"../../etc/x.yaml": "x"})), Destination: destinationIn(v1alpha1.FilepathModeNone, "")},
		wantErr: statestore.ErrInvalidPath,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := statestore.BuildPlacementChange(context.Background(), tc.reader, tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want one that matches %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pc.Path != tc.wantPath || pc.Change.Dir != tc.wantDir || pc.Workloads != tc.wantCount {
				t.Errorf("path, dir, workloads = %q, %q, %d; want %q, %q, %d", pc.Path, pc.Change.Dir, pc.Workloads, tc.wantPath, tc.wantDir, tc.wantCount)
			}
			if got := paths(pc.Change.Files); !slices.Equal(got, tc.wantFiles) && len(got)+len(tc.wantFiles) > 0 {
				t.Errorf("files = %q, want %q", got, tc.wantFiles)
			}
			if !slices.Equal(pc.Change.Remove, tc.wantRemove) {
				t.Errorf("remove = %q, want %q", pc.Change.Remove, tc.wantRemove)
			}
			if tc.wantContent != "" && string(pc.Change.Files[0].Content) != tc.wantContent {
				t.Errorf("content:\n%s\nwant:\n%s", pc.Change.Files[0].Content, tc.wantContent)
			}
			if o := pc.Change.Origin; o.Action != tc.in.Action || o.WorkPlacement != tc.in.Placement.Name || o.Destination != "dev" {
				t.Errorf("origin = %+v, want action %s of WorkPlacement %s on dev", o, tc.in.Action, tc.in.Placement.Name)
			}
			if _, err := pc.Change.Validate(); err != nil {
				t.Errorf("the change does not validate: %v", err)
			}
		})
	}
}

// TestNoneStateFileListsWhatWasWritten: the state file a write produces names exactly the files
// it wrote, so that the next write and the delete read them back.
func TestNoneStateFileListsWhatWasWritten(t *testing.T) {
	wp := placement(t, "cache-dev", map[string]string{"a.yaml": "a", "sub/b.yaml": "b"})
	dest := destinationIn(v1alpha1.FilepathModeNone, "")
	pc, err := statestore.BuildPlacementChange(context.Background(), files{}, statestore.PlacementInput{Action: statestore.ActionUpdate, Placement: &wp, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	stateFile := pc.Change.Files[len(pc.Change.Files)-1]
	if !strings.HasSuffix(stateFile.Path, ".state") {
		t.Fatalf("last file %q is not the state file", stateFile.Path)
	}
	got, err := statestore.ParseStateFile(dest.Spec.Path, stateFile.Content)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"clusters/dev/a.yaml", "clusters/dev/sub/b.yaml"}; !slices.Equal(got, want) {
		t.Errorf("state file lists %q, want %q", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// zeros is n bytes of "0": a decompression bomb when gzip'd.
func zeros(n int) string { return strings.Repeat("0", n) }
