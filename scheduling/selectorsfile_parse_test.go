package scheduling

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseDestinationSelectorsAccepts(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []DestinationSelector
	}{
		{name: "empty file", yaml: "", want: []DestinationSelector{}},
		{name: "only a comment", yaml: "# nothing yet\n", want: []DestinationSelector{}},
		{name: "empty list", yaml: "[]", want: []DestinationSelector{}},
		{
			name: "root entry",
			yaml: "- matchLabels:\n    environment: dev\n",
			want: []DestinationSelector{{MatchLabels: labels("environment", "dev")}},
		},
		{
			name: "root and directory entries",
			yaml: `
- matchLabels:
    environment: dev
- directory: database
  matchLabels:
    storage: ssd
    example.com/tier: "1"
- matchLabels:
    zone: a
`,
			want: []DestinationSelector{
				{MatchLabels: labels("environment", "dev")},
				{Directory: "database", MatchLabels: labels("storage", "ssd", "example.com/tier", "1")},
				{MatchLabels: labels("zone", "a")},
			},
		},
		{
			name: "directory is normalised",
			yaml: "- directory: ./database/\n  matchLabels: {storage: ssd}\n",
			want: []DestinationSelector{{Directory: "database", MatchLabels: labels("storage", "ssd")}},
		},
		{
			name: "null directory is no directory",
			yaml: "- directory: null\n  matchLabels: {env: dev}\n",
			want: []DestinationSelector{{MatchLabels: labels("env", "dev")}},
		},
		{
			name: "empty label value",
			yaml: "- matchLabels: {env: \"\"}\n",
			want: []DestinationSelector{{MatchLabels: labels("env", "")}},
		},
		{
			name: "root entries that repeat a label with the same value",
			yaml: "- matchLabels: {env: dev}\n- matchLabels: {env: dev, zone: a}\n",
			want: []DestinationSelector{{MatchLabels: labels("env", "dev")}, {MatchLabels: labels("env", "dev", "zone", "a")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDestinationSelectors([]byte(tt.yaml))
			if err != nil {
				t.Fatalf("ParseDestinationSelectors: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseDestinationSelectorsRejects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// wantErrs are substrings that must each appear in the error.
		wantErrs []string
	}{
		{name: "not YAML", yaml: "- matchLabels: [\n", wantErrs: []string{"not valid YAML"}},
		{name: "not a list", yaml: "matchLabels: {env: dev}\n", wantErrs: []string{"must be a list"}},
		{name: "entry not a mapping", yaml: "- env=dev\n", wantErrs: []string{"entries[0]: must be a mapping"}},
		{name: "no labels", yaml: "- matchLabels: {}\n", wantErrs: []string{"entries[0]: matchLabels has no labels"}},
		{name: "missing matchLabels", yaml: "- directory: db\n", wantErrs: []string{`entries[0] (directory "db"): matchLabels has no labels`}},
		{name: "null entry", yaml: "- matchLabels: {env: dev}\n-\n", wantErrs: []string{"entries[1]: matchLabels has no labels"}},
		{name: "unknown field", yaml: "- matchlabels: {env: dev}\n", wantErrs: []string{`entries[0]: unknown field "matchlabels"`}},
		{name: "unquoted boolean value", yaml: "- matchLabels: {gpu: true}\n", wantErrs: []string{`entries[0]: matchLabels["gpu"] must be a string`}},
		{name: "unquoted number value", yaml: "- matchLabels: {tier: 1}\n", wantErrs: []string{`matchLabels["tier"] must be a string`}},
		{name: "label without value", yaml: "- matchLabels:\n    env:\n", wantErrs: []string{`matchLabels["env"] has no value`}},
		{name: "matchLabels not a mapping", yaml: "- matchLabels: [env]\n", wantErrs: []string{"entries[0]: matchLabels must be a mapping"}},
		{name: "directory not a string", yaml: "- directory: [db]\n  matchLabels: {env: dev}\n", wantErrs: []string{"entries[0]: directory must be a string"}},
		{name: "nested directory", yaml: "- directory: db/primary\n  matchLabels: {env: dev}\n", wantErrs: []string{`entries[0] (directory "db/primary"): directory is nested`}},
		{name: "escaping directory", yaml: "- directory: ../db\n  matchLabels: {env: dev}\n", wantErrs: []string{`entries[0] (directory "../db"): directory must not contain ".."`}},
		{name: "escape hidden in the middle", yaml: "- directory: db/../../etc\n  matchLabels: {env: dev}\n", wantErrs: []string{`must not contain ".."`}},
		{name: "absolute directory", yaml: "- directory: /kratix/output/db\n  matchLabels: {env: dev}\n", wantErrs: []string{"must be relative"}},
		{name: "root as directory", yaml: "- directory: ./\n  matchLabels: {env: dev}\n", wantErrs: []string{"names the output root"}},
		{
			name:     "duplicate directory",
			yaml:     "- directory: db\n  matchLabels: {env: dev}\n- directory: ./db\n  matchLabels: {env: prod}\n",
			wantErrs: []string{`entries[1] (directory "db"): directory already has its selector in entries[0]`},
		},
		{name: "invalid label key", yaml: "- matchLabels: {\"bad key\": dev}\n", wantErrs: []string{`entries[0]: label key "bad key" is invalid`}},
		{name: "invalid label value", yaml: "- matchLabels: {env: \"dev prod\"}\n", wantErrs: []string{`entries[0]: label "env" value "dev prod" is invalid`}},
		{name: "label value too long", yaml: "- matchLabels: {env: " + strings.Repeat("a", 64) + "}\n", wantErrs: []string{`label "env" value`, "63"}},
		{
			name:     "root entries that give one label two values",
			yaml:     "- matchLabels: {env: dev}\n- matchLabels: {env: prod}\n",
			wantErrs: []string{`entries[1]: label "env" is "prod" here but "dev" in entries[0]`},
		},
		{
			name:     "every problem is reported",
			yaml:     "- matchLabels: {}\n- directory: a/b\n  matchLabels: {env: dev}\n- matchLabels: {gpu: yes}\n",
			wantErrs: []string{"entries[0]: matchLabels has no labels", `entries[1] (directory "a/b")`, `entries[2]: matchLabels["gpu"]`},
		},
		{name: "duplicate key", yaml: "- matchLabels: {env: dev, env: prod}\n", wantErrs: []string{"not valid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDestinationSelectors([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted %q as %+v", tt.yaml, got)
			}
			if got != nil {
				t.Errorf("returned entries %+v with an error", got)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestEntryErrorsCanBeInspected(t *testing.T) {
	_, err := ParseDestinationSelectors([]byte("- matchLabels: {env: dev}\n- directory: a/b\n  matchLabels: {env: dev}\n"))
	var entryErr *EntryError
	if !errors.As(err, &entryErr) {
		t.Fatalf("error %v is not an *EntryError", err)
	}
	if entryErr.Index != 1 || entryErr.Directory != "a/b" {
		t.Errorf("EntryError names entries[%d] directory %q, want entries[1] directory a/b", entryErr.Index, entryErr.Directory)
	}
}

func TestValidateDestinationSelectorsWantsCanonicalDirectories(t *testing.T) {
	err := ValidateDestinationSelectors([]DestinationSelector{{Directory: "db/", MatchLabels: labels("env", "dev")}})
	if err == nil || !strings.Contains(err.Error(), `write "db"`) {
		t.Fatalf("error = %v, want one asking for \"db\"", err)
	}
}
