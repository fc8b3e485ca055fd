package adapter

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/scheduling"
)

// writeTree creates files (path -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// decodedGroup is a workload group with its files decoded, for comparison.
type decodedGroup struct {
	ID, Directory string
	Files         map[string]string
	Selectors     []v1alpha1.WorkloadGroupScheduling
}

func decode(t *testing.T, spec v1alpha1.WorkSpec) []decodedGroup {
	t.Helper()
	var out []decodedGroup
	for _, g := range spec.WorkloadGroups {
		d := decodedGroup{ID: g.ID, Directory: g.Directory, Files: map[string]string{}, Selectors: g.DestinationSelectors}
		for _, w := range g.Workloads {
			data, err := v1alpha1.DecodeContent(w.Content)
			if err != nil {
				t.Fatalf("%s: %v", w.Filepath, err)
			}
			d.Files[w.Filepath] = string(data)
		}
		out = append(out, d)
	}
	return out
}

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"

var promiseSelectors = []v1alpha1.PromiseScheduling{{MatchLabels: map[string]string{"environment": "dev"}}}

// TestBuildWorkSpecGroups: files go to the root group or to the group of their top-level
// directory, with selectors from destination-selectors.yaml and the Promise.
func TestBuildWorkSpecGroups(t *testing.T) {
	tree := map[string]string{
		"root.yaml":            configMap,
		"nested/deep/x.yaml":   configMap,
		"db/schema.json":       `{"tables": []}`,
		"db/migrations/1.sql":  "create table t;",
		"cache/redis.yaml":     configMap + "---\n" + configMap,
		"cache-notes.txt":      "not in cache/",
		"unselected/file.yaml": configMap,
	}
	fromPromise := v1alpha1.WorkloadGroupScheduling{MatchLabels: map[string]string{"environment": "dev"}, Source: "promise"}
	tests := []struct {
		name      string
		selectors string
		want      []decodedGroup
	}{
		{
			name: "no destination-selectors.yaml: everything in the root group",
			want: []decodedGroup{{
				ID: scheduling.RootGroupID, Directory: ".", Selectors: []v1alpha1.WorkloadGroupScheduling{fromPromise},
				Files: tree,
			}},
		},
		{
			name: "root selector plus two directories",
			selectors: `
- matchLabels: {tier: gold}
- directory: db
  matchLabels: {storage: ssd}
- directory: cache
  matchLabels: {memory: high}
`,
			want: []decodedGroup{
				{
					ID: scheduling.RootGroupID, Directory: ".",
					Selectors: []v1alpha1.WorkloadGroupScheduling{{MatchLabels: map[string]string{"tier": "gold"}, Source: "resource-workflow"}, fromPromise},
					Files: map[string]string{
						"root.yaml": configMap, "nested/deep/x.yaml": configMap, "cache-notes.txt": "not in cache/", "unselected/file.yaml": configMap,
					},
				},
				{
					ID: scheduling.GroupID("db"), Directory: "db",
					Selectors: []v1alpha1.WorkloadGroupScheduling{{MatchLabels: map[string]string{"storage": "ssd"}, Source: "resource-workflow"}},
					Files:     map[string]string{"schema.json": `{"tables": []}`, "migrations/1.sql": "create table t;"},
				},
				{
					ID: scheduling.GroupID("cache"), Directory: "cache",
					Selectors: []v1alpha1.WorkloadGroupScheduling{{MatchLabels: map[string]string{"memory": "high"}, Source: "resource-workflow"}},
					Files:     map[string]string{"redis.yaml": configMap + "---\n" + configMap},
				},
			},
		},
		{
			name: "a selected directory with no files gets no group",
			selectors: `
- directory: empty
  matchLabels: {a: b}
`,
			want: []decodedGroup{{ID: scheduling.RootGroupID, Directory: ".", Selectors: []v1alpha1.WorkloadGroupScheduling{fromPromise}, Files: tree}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, meta := t.TempDir(), t.TempDir()
			writeTree(t, out, tree)
			if tt.selectors != "" {
				writeTree(t, meta, map[string]string{"destination-selectors.yaml": tt.selectors})
			}
			if err := os.Mkdir(filepath.Join(out, "empty"), 0o755); err != nil {
				t.Fatal(err)
			}
			entries, err := ReadDestinationSelectors(meta)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := BuildWorkSpec(WorkInput{
				OutputDir: out, Selectors: entries, PromiseSelectors: promiseSelectors, WorkflowType: v1alpha1.WorkflowTypeResource,
				PromiseName: "redis", ResourceName: "cache", ResourceNamespace: "team-a", PipelineName: "instance-configure",
			})
			if err != nil {
				t.Fatalf("BuildWorkSpec: %v", err)
			}
			if spec.PromiseName != "redis" || spec.ResourceName != "cache" || spec.ResourceNamespace != "team-a" || spec.PipelineName != "instance-configure" {
				t.Errorf("spec names %q %q %q %q", spec.PromiseName, spec.ResourceName, spec.ResourceNamespace, spec.PipelineName)
			}
			if got := decode(t, spec); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("groups\n%+v\nwant\n%+v", got, tt.want)
			}
			for _, g := range spec.WorkloadGroups {
				var paths []string
				for _, w := range g.Workloads {
					paths = append(paths, w.Filepath)
				}
				if !sortedStrings(paths) {
					t.Errorf("group %s lists files out of order: %v", g.Directory, paths)
				}
			}
		})
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

// TestBuildWorkSpecEmptyOutput: a pipeline that writes nothing gives a Work without groups, which
// removes its earlier placements.
func TestBuildWorkSpecEmptyOutput(t *testing.T) {
	out := t.TempDir()
	if err := os.MkdirAll(filepath.Join(out, "only", "directories"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, err := BuildWorkSpec(WorkInput{OutputDir: out, PromiseSelectors: promiseSelectors, WorkflowType: v1alpha1.WorkflowTypePromise, PromiseName: "redis", PipelineName: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.WorkloadGroups) != 0 {
		t.Errorf("empty output gave %d workload groups", len(spec.WorkloadGroups))
	}
}

// TestBuildWorkSpecIsDeterministic: the same output gives the same Work, so an unchanged
// re-run changes nothing downstream.
func TestBuildWorkSpecIsDeterministic(t *testing.T) {
	build := func() v1alpha1.WorkSpec {
		out := t.TempDir()
		writeTree(t, out, map[string]string{"b.yaml": configMap, "a/c.yaml": configMap, "a.yaml": configMap})
		spec, err := BuildWorkSpec(WorkInput{OutputDir: out, WorkflowType: v1alpha1.WorkflowTypePromise, PromiseName: "redis"})
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}
	if a, b := build(), build(); !reflect.DeepEqual(a, b) {
		t.Errorf("two builds of the same output differ:\n%+v\n%+v", a, b)
	}
}

// TestReadDestinationSelectorsRefuses: a broken or linked destination-selectors.yaml is refused,
// naming the file.
func TestReadDestinationSelectorsRefuses(t *testing.T) {
	t.Run("invalid", func(t *testing.T) {
		meta := t.TempDir()
		writeTree(t, meta, map[string]string{"destination-selectors.yaml": "- directory: db\n"})
		_, err := ReadDestinationSelectors(meta)
		if err == nil || !strings.Contains(err.Error(), "destination-selectors.yaml") || !strings.Contains(err.Error(), "at least one") {
			t.Errorf("error %v, want one naming destination-selectors.yaml and the missing labels", err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		meta, elsewhere := t.TempDir(), t.TempDir()
		writeTree(t, elsewhere, map[string]string{"secret": "- matchLabels: {a: b}\n"})
		if err := os.Symlink(filepath.Join(elsewhere, "secret"), filepath.Join(meta, "destination-selectors.yaml")); err != nil {
			t.Fatal(err)
		}
		_, err := ReadDestinationSelectors(meta)
		var fileErr *FileError
		if !errors.As(err, &fileErr) || fileErr.Path != "destination-selectors.yaml" {
			t.Errorf("error %v, want a *FileError for destination-selectors.yaml", err)
		}
	})
	t.Run("absent", func(t *testing.T) {
		entries, err := ReadDestinationSelectors(t.TempDir())
		if err != nil || entries != nil {
			t.Errorf("got %v, %v; want no entries and no error", entries, err)
		}
	})
}
